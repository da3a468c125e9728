/* CoCoEdit for GIMP
 *
 * cocoedit-runner.h: runs the engine off the main thread
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_RUNNER_H__
#define __COCOEDIT_RUNNER_H__

#include <gio/gio.h>

#include "cocoedit.h"

G_BEGIN_DECLS

#define COCOEDIT_RUNNER_ERROR (cocoedit_runner_error_quark ())

/* The error codes are the engine's cocoedit_status values. */
GQuark cocoedit_runner_error_quark (void);


typedef enum
{
  COCOEDIT_PHASE_IDLE,
  COCOEDIT_PHASE_WAITING,   /* another job holds the engine          */
  COCOEDIT_PHASE_LOADING,   /* opening the model                     */
  COCOEDIT_PHASE_SAMPLING,  /* sampler steps are running             */
  COCOEDIT_PHASE_DONE
} CocoeditPhase;


/* One edit.  The images are borrowed: they must stay valid until the
 * job has finished (cocoedit_runner_edit_finish() returned).
 */
typedef struct
{
  gchar          *model_dir;
  cocoedit_device device;

  gchar          *prompt;
  guint64         seed;
  gint            steps;           /* 0: the model's default         */
  gdouble         guidance;        /* <= 0: the model's default      */
  gdouble         strength;

  cocoedit_image  source;
  cocoedit_image  mask;            /* data == NULL: no mask          */
  cocoedit_image  output;

  gdouble         seconds;         /* set when it succeeded: the edit
                                    * alone, without waiting for the
                                    * engine or loading the model    */
} CocoeditEditJob;


#define COCOEDIT_TYPE_RUNNER (cocoedit_runner_get_type ())
G_DECLARE_FINAL_TYPE (CocoeditRunner, cocoedit_runner,
                      COCOEDIT, RUNNER, GObject)

CocoeditRunner  * cocoedit_runner_new            (gint                  n_threads);

void              cocoedit_runner_open_async     (CocoeditRunner       *runner,
                                                  const gchar          *model_dir,
                                                  cocoedit_device       device,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
gboolean          cocoedit_runner_open_finish    (CocoeditRunner       *runner,
                                                  GAsyncResult         *result,
                                                  cocoedit_model_info  *info,
                                                  GError              **error);

void              cocoedit_runner_edit_async     (CocoeditRunner       *runner,
                                                  CocoeditEditJob      *job,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
gboolean          cocoedit_runner_edit_finish    (CocoeditRunner       *runner,
                                                  GAsyncResult         *result,
                                                  GError              **error);

void              cocoedit_runner_calibrate_async
                                                 (CocoeditRunner       *runner,
                                                  const gchar          *model_dir,
                                                  cocoedit_device       device,
                                                  gint                  n_steps,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
gdouble           cocoedit_runner_calibrate_finish
                                                 (CocoeditRunner       *runner,
                                                  GAsyncResult         *result,
                                                  GError              **error);

gboolean          cocoedit_runner_edit_sync      (CocoeditRunner       *runner,
                                                  CocoeditEditJob      *job,
                                                  GCancellable         *cancellable,
                                                  GSourceFunc           poll_func,
                                                  gpointer              poll_data,
                                                  GError              **error);

CocoeditPhase     cocoedit_runner_get_progress   (CocoeditRunner       *runner,
                                                  gint                 *step,
                                                  gint                 *n_steps);

void              cocoedit_edit_job_clear        (CocoeditEditJob      *job);

const gchar     * cocoedit_device_to_string      (cocoedit_device       device);
cocoedit_device   cocoedit_device_from_string    (const gchar          *name);

G_END_DECLS

#endif /* __COCOEDIT_RUNNER_H__ */
