/* CoCoEdit for GIMP
 *
 * cocoedit-runner.c: runs the engine off the main thread
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * One CocoeditRunner owns at most one open model.  Jobs run in GTask
 * worker threads; a mutex serialises them because a model handle may be
 * used by one thread at a time.  The sampler's progress is published
 * through atomics so that the main thread can poll it without locking,
 * and cancellation goes through a GCancellable that the engine's
 * progress callback checks after every step.
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "cocoedit-runner.h"


struct _CocoeditRunner
{
  GObject              parent_instance;

  gint                 n_threads;

  GMutex               engine_lock;  /* held by the job using the model */
  cocoedit_model      *model;
  gchar               *model_dir;
  cocoedit_device      device;
  cocoedit_model_info  info;

  gint                 phase;        /* atomic: CocoeditPhase           */
  gint                 step;         /* atomic                          */
  gint                 n_steps;      /* atomic                          */
};


typedef struct
{
  CocoeditRunner *runner;
  GCancellable   *cancellable;
} ProgressData;


static void       cocoedit_runner_finalize     (GObject          *object);

static gboolean   cocoedit_runner_ensure_model (CocoeditRunner   *runner,
                                                const gchar      *model_dir,
                                                cocoedit_device   device,
                                                GCancellable     *cancellable,
                                                GError          **error);
static void       cocoedit_runner_lock         (CocoeditRunner   *runner);
static void       cocoedit_runner_unlock       (CocoeditRunner   *runner);
static void       set_engine_error             (GError          **error,
                                                const cocoedit_error *err);


G_DEFINE_QUARK (cocoedit-runner-error-quark, cocoedit_runner_error)

G_DEFINE_FINAL_TYPE (CocoeditRunner, cocoedit_runner, G_TYPE_OBJECT)


static void
cocoedit_runner_class_init (CocoeditRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = cocoedit_runner_finalize;
}

static void
cocoedit_runner_init (CocoeditRunner *runner)
{
  g_mutex_init (&runner->engine_lock);
}

static void
cocoedit_runner_finalize (GObject *object)
{
  CocoeditRunner *runner = COCOEDIT_RUNNER (object);

  /* A job holds a reference on the runner, so no job runs here. */
  g_clear_pointer (&runner->model, cocoedit_model_free);
  g_clear_pointer (&runner->model_dir, g_free);
  g_mutex_clear (&runner->engine_lock);

  G_OBJECT_CLASS (cocoedit_runner_parent_class)->finalize (object);
}


/*  public functions  */

CocoeditRunner *
cocoedit_runner_new (gint n_threads)
{
  CocoeditRunner *runner = g_object_new (COCOEDIT_TYPE_RUNNER, NULL);

  runner->n_threads = MAX (n_threads, 0);

  return runner;
}

const gchar *
cocoedit_device_to_string (cocoedit_device device)
{
  switch (device)
    {
    case COCOEDIT_DEVICE_CPU:  return "cpu";
    case COCOEDIT_DEVICE_CUDA: return "cuda";
    case COCOEDIT_DEVICE_AUTO: break;
    }

  return "auto";
}

cocoedit_device
cocoedit_device_from_string (const gchar *name)
{
  if (! g_strcmp0 (name, "cpu"))
    return COCOEDIT_DEVICE_CPU;
  if (! g_strcmp0 (name, "cuda"))
    return COCOEDIT_DEVICE_CUDA;

  return COCOEDIT_DEVICE_AUTO;
}

CocoeditPhase
cocoedit_runner_get_progress (CocoeditRunner *runner,
                              gint           *step,
                              gint           *n_steps)
{
  g_return_val_if_fail (COCOEDIT_IS_RUNNER (runner), COCOEDIT_PHASE_IDLE);

  if (step)
    *step = g_atomic_int_get (&runner->step);
  if (n_steps)
    *n_steps = g_atomic_int_get (&runner->n_steps);

  return g_atomic_int_get (&runner->phase);
}

void
cocoedit_edit_job_clear (CocoeditEditJob *job)
{
  g_clear_pointer (&job->model_dir, g_free);
  g_clear_pointer (&job->prompt, g_free);
}


/*  opening a model  */

typedef struct
{
  gchar           *model_dir;
  cocoedit_device  device;
} OpenData;

static void
open_data_free (OpenData *data)
{
  g_free (data->model_dir);
  g_free (data);
}

static void
open_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  CocoeditRunner      *runner = source_object;
  OpenData            *data   = task_data;
  cocoedit_model_info *info;
  GError              *error  = NULL;

  cocoedit_runner_lock (runner);

  if (g_cancellable_set_error_if_cancelled (cancellable, &error) ||
      ! cocoedit_runner_ensure_model (runner, data->model_dir, data->device,
                                      cancellable, &error))
    {
      cocoedit_runner_unlock (runner);
      g_task_return_error (task, error);
      return;
    }

  info = g_memdup2 (&runner->info, sizeof (cocoedit_model_info));

  g_atomic_int_set (&runner->phase, COCOEDIT_PHASE_DONE);
  cocoedit_runner_unlock (runner);

  g_task_return_pointer (task, info, g_free);
}

void
cocoedit_runner_open_async (CocoeditRunner      *runner,
                            const gchar         *model_dir,
                            cocoedit_device      device,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask    *task;
  OpenData *data;

  g_return_if_fail (COCOEDIT_IS_RUNNER (runner));
  g_return_if_fail (model_dir != NULL);

  data = g_new0 (OpenData, 1);
  data->model_dir = g_strdup (model_dir);
  data->device    = device;

  task = g_task_new (runner, cancellable, callback, user_data);
  g_task_set_source_tag (task, cocoedit_runner_open_async);
  g_task_set_task_data (task, data, (GDestroyNotify) open_data_free);
  g_task_run_in_thread (task, open_thread);
  g_object_unref (task);
}

gboolean
cocoedit_runner_open_finish (CocoeditRunner       *runner,
                             GAsyncResult         *result,
                             cocoedit_model_info  *info,
                             GError              **error)
{
  cocoedit_model_info *result_info;

  g_return_val_if_fail (g_task_is_valid (result, runner), FALSE);

  result_info = g_task_propagate_pointer (G_TASK (result), error);
  if (! result_info)
    return FALSE;

  if (info)
    *info = *result_info;
  g_free (result_info);

  return TRUE;
}


/*  editing  */

static bool
edit_progress (int   step,
               int   n_steps,
               void *user_data)
{
  ProgressData *data = user_data;

  g_atomic_int_set (&data->runner->n_steps, n_steps);
  g_atomic_int_set (&data->runner->step, step);

  return ! g_cancellable_is_cancelled (data->cancellable);
}

/* Between the engine's stages (loading each component, encoding,
 * decoding), so that Cancel stops a long model load or a slow decode too.
 */
static bool
stage_not_cancelled (cocoedit_stage  stage,
                     void           *cancellable)
{
  return ! g_cancellable_is_cancelled (cancellable);
}

static bool
edit_stage (cocoedit_stage  stage,
            void           *user_data)
{
  ProgressData *data = user_data;

  return stage_not_cancelled (stage, data->cancellable);
}

static void
edit_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  CocoeditRunner       *runner = source_object;
  CocoeditEditJob      *job    = task_data;
  cocoedit_edit_params  params = cocoedit_edit_default_params ();
  cocoedit_error        err    = { COCOEDIT_OK, "" };
  ProgressData          progress;
  cocoedit_status       status;
  gint64                started;
  GError               *error  = NULL;

  cocoedit_runner_lock (runner);

  if (g_cancellable_set_error_if_cancelled (cancellable, &error) ||
      ! cocoedit_runner_ensure_model (runner, job->model_dir, job->device,
                                      cancellable, &error))
    {
      cocoedit_runner_unlock (runner);
      g_task_return_error (task, error);
      return;
    }

  progress.runner      = runner;
  progress.cancellable = cancellable;

  params.prompt         = job->prompt;
  params.seed           = job->seed;
  params.steps          = MAX (job->steps, 0);
  params.guidance       = (float) job->guidance;
  params.strength       = (float) job->strength;
  params.context_margin = job->context_margin;
  params.progress       = edit_progress;
  params.stage          = edit_stage;
  params.user_data      = &progress;

  g_atomic_int_set (&runner->step, 0);
  g_atomic_int_set (&runner->n_steps,
                    params.steps > 0 ? params.steps : runner->info.default_steps);
  g_atomic_int_set (&runner->phase, COCOEDIT_PHASE_SAMPLING);

  started = g_get_monotonic_time ();
  status = cocoedit_edit (runner->model, &job->source,
                          job->mask.data ? &job->mask : NULL,
                          &params, &job->output, &err);
  job->seconds = (g_get_monotonic_time () - started) / 1e6;

  g_atomic_int_set (&runner->phase, COCOEDIT_PHASE_DONE);
  cocoedit_runner_unlock (runner);

  if (status != COCOEDIT_OK)
    {
      set_engine_error (&error, &err);
      g_task_return_error (task, error);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

void
cocoedit_runner_edit_async (CocoeditRunner      *runner,
                            CocoeditEditJob     *job,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (COCOEDIT_IS_RUNNER (runner));
  g_return_if_fail (job != NULL && job->model_dir && job->prompt);

  task = g_task_new (runner, cancellable, callback, user_data);
  g_task_set_source_tag (task, cocoedit_runner_edit_async);
  g_task_set_task_data (task, job, NULL);
  g_task_run_in_thread (task, edit_thread);
  g_object_unref (task);
}

gboolean
cocoedit_runner_edit_finish (CocoeditRunner  *runner,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, runner), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}


typedef struct
{
  GMainLoop    *loop;
  GAsyncResult *result;
} SyncData;

static void
edit_sync_ready (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SyncData *data = user_data;

  data->result = g_object_ref (result);
  g_main_loop_quit (data->loop);
}

/* Runs @job in a worker thread while the calling thread spins a main
 * loop that calls @poll_func about every 100 ms (to move GIMP's progress
 * bar, for instance: only this thread may talk to GIMP).
 */
gboolean
cocoedit_runner_edit_sync (CocoeditRunner   *runner,
                           CocoeditEditJob  *job,
                           GCancellable     *cancellable,
                           GSourceFunc       poll_func,
                           gpointer          poll_data,
                           GError          **error)
{
  SyncData data    = { NULL, NULL };
  guint    poll_id = 0;
  gboolean success;

  data.loop = g_main_loop_new (NULL, FALSE);

  cocoedit_runner_edit_async (runner, job, cancellable,
                              edit_sync_ready, &data);
  if (poll_func)
    poll_id = g_timeout_add (100, poll_func, poll_data);

  g_main_loop_run (data.loop);

  if (poll_id)
    g_source_remove (poll_id);

  success = cocoedit_runner_edit_finish (runner, data.result, error);

  g_object_unref (data.result);
  g_main_loop_unref (data.loop);

  return success;
}


/*  private functions  */

static void
cocoedit_runner_lock (CocoeditRunner *runner)
{
  if (! g_mutex_trylock (&runner->engine_lock))
    {
      g_atomic_int_set (&runner->phase, COCOEDIT_PHASE_WAITING);
      g_mutex_lock (&runner->engine_lock);
    }
}

static void
cocoedit_runner_unlock (CocoeditRunner *runner)
{
  g_mutex_unlock (&runner->engine_lock);
}

/* Called with the engine lock held. */
static gboolean
cocoedit_runner_ensure_model (CocoeditRunner   *runner,
                              const gchar      *model_dir,
                              cocoedit_device   device,
                              GCancellable     *cancellable,
                              GError          **error)
{
  cocoedit_open_params params = cocoedit_open_default_params ();
  cocoedit_error       err    = { COCOEDIT_OK, "" };
  cocoedit_model      *model  = NULL;
  cocoedit_model_info  info;

  if (runner->model                                 &&
      ! g_strcmp0 (runner->model_dir, model_dir)    &&
      runner->device == device)
    return TRUE;

  g_atomic_int_set (&runner->phase, COCOEDIT_PHASE_LOADING);

  /* Free the old model first: two models may not fit in memory. */
  g_clear_pointer (&runner->model, cocoedit_model_free);
  g_clear_pointer (&runner->model_dir, g_free);

  params.device    = device;
  params.n_threads = runner->n_threads;
  if (cancellable)
    {
      params.stage           = stage_not_cancelled;
      params.stage_user_data = cancellable;
    }

  if (cocoedit_model_open (model_dir, &params, &model, &err) != COCOEDIT_OK ||
      cocoedit_model_get_info (model, &info, &err) != COCOEDIT_OK)
    {
      g_clear_pointer (&model, cocoedit_model_free);
      set_engine_error (error, &err);
      return FALSE;
    }

  runner->model     = model;
  runner->model_dir = g_strdup (model_dir);
  runner->device    = device;
  runner->info      = info;

  return TRUE;
}

static void
set_engine_error (GError               **error,
                  const cocoedit_error  *err)
{
  const gchar *detail = err->message[0] ? err->message
                                        : cocoedit_status_name (err->code);

  switch (err->code)
    {
    case COCOEDIT_ERR_IO:
      g_set_error (error, COCOEDIT_RUNNER_ERROR, err->code,
                   _("Could not read the model: %s"), detail);
      break;

    case COCOEDIT_ERR_FORMAT:
      g_set_error (error, COCOEDIT_RUNNER_ERROR, err->code,
                   _("The model files are damaged or do not belong "
                     "together: %s"), detail);
      break;

    case COCOEDIT_ERR_DEVICE:
      g_set_error (error, COCOEDIT_RUNNER_ERROR, err->code,
                   _("The requested device is not available: %s"), detail);
      break;

    case COCOEDIT_ERR_OUT_OF_MEMORY:
      g_set_error (error, COCOEDIT_RUNNER_ERROR, err->code,
                   _("Out of memory (%s). Try a smaller selection, fewer "
                     "steps or the CPU device."), detail);
      break;

    case COCOEDIT_ERR_CANCELLED:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           _("The edit was cancelled."));
      break;

    case COCOEDIT_ERR_INTERNAL:
      g_set_error (error, COCOEDIT_RUNNER_ERROR, err->code,
                   _("Internal error in the editing engine: %s"), detail);
      break;

    case COCOEDIT_OK:
    case COCOEDIT_ERR_INVALID_ARGUMENT:
    default:
      g_set_error_literal (error, COCOEDIT_RUNNER_ERROR, err->code, detail);
      break;
    }
}
