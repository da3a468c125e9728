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


/*  work on a model, in a worker thread  */

typedef struct
{
  gchar           *model_dir;
  cocoedit_device  device;
  gint             n_steps;     /* timing: the steps of the edit timed */
} ModelTask;

static void
model_task_free (ModelTask *data)
{
  g_free (data->model_dir);
  g_free (data);
}

/* Runs @func in a worker thread with a ModelTask as its task data. */
static void
model_task_start (CocoeditRunner      *runner,
                  const gchar         *model_dir,
                  cocoedit_device      device,
                  gint                 n_steps,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data,
                  gpointer             source_tag,
                  GTaskThreadFunc      func)
{
  ModelTask *data;
  GTask     *task;

  data = g_new0 (ModelTask, 1);
  data->model_dir = g_strdup (model_dir);
  data->device    = device;
  data->n_steps   = n_steps;

  task = g_task_new (runner, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, data, (GDestroyNotify) model_task_free);
  g_task_run_in_thread (task, func);
  g_object_unref (task);
}

/* In a worker thread: takes the engine and opens @model_dir on @device.
 * FALSE when cancelled or the model cannot be opened: then the engine is
 * released and @task has its error.
 */
static gboolean
model_task_begin (GTask           *task,
                  CocoeditRunner  *runner,
                  const gchar     *model_dir,
                  cocoedit_device  device,
                  GCancellable    *cancellable)
{
  GError *error = NULL;

  cocoedit_runner_lock (runner);

  if (g_cancellable_set_error_if_cancelled (cancellable, &error) ||
      ! cocoedit_runner_ensure_model (runner, model_dir, device,
                                      cancellable, &error))
    {
      cocoedit_runner_unlock (runner);
      g_task_return_error (task, error);
      return FALSE;
    }

  return TRUE;
}


/*  opening a model  */

static void
open_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  CocoeditRunner      *runner = source_object;
  ModelTask           *data   = task_data;
  cocoedit_model_info *info;

  if (! model_task_begin (task, runner, data->model_dir, data->device,
                          cancellable))
    return;

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
  g_return_if_fail (COCOEDIT_IS_RUNNER (runner));
  g_return_if_fail (model_dir != NULL);

  model_task_start (runner, model_dir, device, 0, cancellable, callback,
                    user_data, cocoedit_runner_open_async, open_thread);
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

  if (! model_task_begin (task, runner, job->model_dir, job->device,
                          cancellable))
    return;

  progress.runner      = runner;
  progress.cancellable = cancellable;

  params.prompt         = job->prompt;
  params.seed           = job->seed;
  params.steps          = MAX (job->steps, 0);
  params.guidance       = (float) job->guidance;
  params.strength       = (float) job->strength;
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


/*  timing the model at load  */

static bool
calibrate_progress (int   step,
                    int   n_steps,
                    void *cancellable)
{
  return ! g_cancellable_is_cancelled (cancellable);
}

/* Edits of a synthetic square at the model's working size, the whole
 * square editable.  First one step, to warm up (first-run allocations,
 * GPU kernels).  When a whole edit at that pace takes under ten seconds,
 * one whole edit is timed: the most exact answer.  Otherwise one and two
 * steps are timed: their difference is the cost of a step, the rest the
 * cost of encoding and decoding.  When the warm-up alone took long, its
 * time times the steps is the estimate (no more waiting).
 */
static void
calibrate_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  CocoeditRunner       *runner = source_object;
  ModelTask            *data   = task_data;
  cocoedit_edit_params  params = cocoedit_edit_default_params ();
  cocoedit_error        err    = { COCOEDIT_OK, "" };
  gint                  size;
  cocoedit_image        source, mask, output;
  gdouble               seconds[3] = { 0.0, };
  gboolean              whole      = FALSE;
  gdouble              *estimate;
  GError               *error  = NULL;
  gint                  k;

  if (! model_task_begin (task, runner, data->model_dir, data->device,
                          cancellable))
    return;

  if (data->n_steps <= 0)
    data->n_steps = MAX (runner->info.default_steps, 1);

  size = CLAMP (runner->info.working_size, 16, 4096);
  source = (cocoedit_image) { size, size, COCOEDIT_RGBA8, (size_t) size * 4,
                              g_malloc ((gsize) size * size * 4) };
  mask   = (cocoedit_image) { size, size, COCOEDIT_GRAY8, (size_t) size,
                              g_malloc ((gsize) size * size) };
  output = source;
  output.data = g_malloc ((gsize) size * size * 4);
  for (gint i = 0; i < size * size; i++)
    {
      guint8 *px = (guint8 *) source.data + 4 * i;

      px[0] = (guint8) (i % size * 255 / size);
      px[1] = (guint8) (i / size * 255 / size);
      px[2] = 128;
      px[3] = 255;
    }
  memset (mask.data, 255, (gsize) size * size);

  params.prompt    = "make it red";
  params.progress  = calibrate_progress;
  params.stage     = stage_not_cancelled;
  params.user_data = cancellable;

  for (k = 0; k < 3; k++)
    {
      gint64 started = g_get_monotonic_time ();

      params.steps = k == 2 ? 2 : 1;
      if (k == 1 && whole)
        params.steps = data->n_steps;
      if (cocoedit_edit (runner->model, &source, &mask, &params, &output,
                         &err) != COCOEDIT_OK)
        break;
      seconds[k] = (g_get_monotonic_time () - started) / 1e6;
      if (k == 0)
        {
          if (seconds[0] > 30.0)
            break;
          whole = seconds[0] * data->n_steps < 10.0;
        }
      if (k == 1 && whole)
        break;
    }
  cocoedit_runner_unlock (runner);
  g_free (source.data);
  g_free (mask.data);
  g_free (output.data);

  if (err.code != COCOEDIT_OK)
    {
      set_engine_error (&error, &err);
      g_task_return_error (task, error);
      return;
    }

  estimate = g_new (gdouble, 1);
  if (whole)
    *estimate = seconds[1];
  else if (k < 3)
    *estimate = seconds[0] * data->n_steps;
  else
    *estimate = seconds[1] + MAX (seconds[2] - seconds[1], 0.0) *
                             (data->n_steps - 1);
  g_task_return_pointer (task, estimate, g_free);
}

/* Measures how long an edit of @n_steps steps (0: the model's default)
 * takes with this model here, in the background; Cancel stops it between
 * steps.
 */
void
cocoedit_runner_calibrate_async (CocoeditRunner      *runner,
                                 const gchar         *model_dir,
                                 cocoedit_device      device,
                                 gint                 n_steps,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (COCOEDIT_IS_RUNNER (runner));
  g_return_if_fail (model_dir != NULL);

  model_task_start (runner, model_dir, device, n_steps, cancellable,
                    callback, user_data, cocoedit_runner_calibrate_async,
                    calibrate_thread);
}

/* The seconds per edit, or < 0 with @error set. */
gdouble
cocoedit_runner_calibrate_finish (CocoeditRunner  *runner,
                                  GAsyncResult    *result,
                                  GError         **error)
{
  gdouble *seconds;
  gdouble  value;

  g_return_val_if_fail (g_task_is_valid (result, runner), -1.0);

  seconds = g_task_propagate_pointer (G_TASK (result), error);
  if (! seconds)
    return -1.0;

  value = *seconds;
  g_free (seconds);

  return value;
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
