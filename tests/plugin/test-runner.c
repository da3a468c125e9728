/* Tests of the plug-in's engine runner (plugin/cocoedit-runner.c) with
 * the tiny model, without GIMP: opening in the background, an edit in a
 * worker thread with progress, cancelling mid-way (promptly, output
 * untouched), and engine errors turned into GErrors.
 *
 * Needs COCOEDIT_TEST_MODEL (the tiny model's folder).
 */

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cocoedit-runner.h"

#define SIZE 64

typedef struct
{
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
ready (GObject      *source,
       GAsyncResult *result,
       gpointer      user_data)
{
  Wait *wait = user_data;

  wait->result = g_object_ref (result);
  g_main_loop_quit (wait->loop);
}

static GAsyncResult *
wait_result (Wait *wait)
{
  g_main_loop_run (wait->loop);
  return wait->result;
}

static const gchar *
model_dir (void)
{
  const gchar *dir = g_getenv ("COCOEDIT_TEST_MODEL");

  if (! dir)
    g_test_skip ("COCOEDIT_TEST_MODEL is not set");
  return dir;
}

/* The pictures of one test edit: a random source, a square mask in its
 * middle, and an output filled with 0xab, to see what was written. */
typedef struct
{
  guint8 source[SIZE * SIZE * 4];
  gfloat mask[SIZE * SIZE];
  guint8 output[SIZE * SIZE * 4];
} Pictures;

/* Fills `pics` and points a job of `steps` steps at them. */
static void
job_init (CocoeditEditJob *job,
          Pictures        *pics,
          gint             steps)
{
  GRand *rand = g_rand_new_with_seed (3);
  gint   i;

  for (i = 0; i < SIZE * SIZE * 4; i++)
    pics->source[i] = g_rand_int_range (rand, 0, 256);
  for (i = 0; i < SIZE * SIZE; i++)
    pics->mask[i] = (i % SIZE >= 16 && i % SIZE < 48 &&
                     i / SIZE >= 16 && i / SIZE < 48);
  memset (pics->output, 0xab, sizeof (pics->output));
  g_rand_free (rand);

  memset (job, 0, sizeof (*job));
  job->model_dir      = g_strdup (model_dir ());
  job->device         = COCOEDIT_DEVICE_CPU;
  job->prompt         = g_strdup ("make it blue");
  job->seed           = 1;
  job->steps          = steps;
  job->guidance       = 0.0;
  job->strength       = 1.0;
  job->source = (cocoedit_image) { SIZE, SIZE, COCOEDIT_RGBA8, SIZE * 4, pics->source };
  job->mask   = (cocoedit_image) { SIZE, SIZE, COCOEDIT_GRAY_F32, SIZE * 4, pics->mask };
  job->output = (cocoedit_image) { SIZE, SIZE, COCOEDIT_RGBA8, SIZE * 4, pics->output };
}

static void
test_open (void)
{
  CocoeditRunner      *runner;
  cocoedit_model_info  info;
  Wait                 wait = { g_main_loop_new (NULL, FALSE), NULL };
  GError              *error = NULL;

  if (! model_dir ())
    return;

  runner = cocoedit_runner_new (1);
  cocoedit_runner_open_async (runner, model_dir (), COCOEDIT_DEVICE_CPU,
                              NULL, ready, &wait);
  g_assert_true (cocoedit_runner_open_finish (runner, wait_result (&wait),
                                              &info, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (info.name, !=, "");
  g_assert_true (g_str_has_prefix (info.device, "cpu"));
  g_assert_cmpint (info.n_parameters, >, 0);

  g_object_unref (wait.result);
  g_main_loop_unref (wait.loop);
  g_object_unref (runner);
}

static void
test_edit (void)
{
  CocoeditRunner  *runner;
  CocoeditEditJob  job;
  Pictures        *pics   = g_new (Pictures, 1);
  GError          *error  = NULL;
  gint             step, n_steps, i, changed = 0;

  if (! model_dir ())
    return;

  runner = cocoedit_runner_new (1);
  job_init (&job, pics, 3);

  g_assert_true (cocoedit_runner_edit_sync (runner, &job, NULL, NULL, NULL,
                                            &error));
  g_assert_no_error (error);
  g_assert_cmpint (cocoedit_runner_get_progress (runner, &step, &n_steps), ==,
                   COCOEDIT_PHASE_DONE);
  g_assert_cmpint (n_steps, ==, 3);
  g_assert_cmpint (step, ==, 3);

  for (i = 0; i < SIZE * SIZE; i++)
    {
      if (pics->mask[i] == 0.0f)
        g_assert_cmpmem (pics->output + 4 * i, 4, pics->source + 4 * i, 4);
      else if (memcmp (pics->output + 4 * i, pics->source + 4 * i, 3))
        changed++;
    }
  g_assert_cmpint (changed, >, 32 * 32 / 2);

  cocoedit_edit_job_clear (&job);
  g_object_unref (runner);
  g_free (pics);
}

typedef struct
{
  CocoeditRunner *runner;
  GCancellable   *cancellable;
  gint            cancelled_at;
  gint64          cancel_time;
} CancelData;

static gboolean
cancel_after_first_step (gpointer user_data)
{
  CancelData *data = user_data;
  gint        step;

  if (cocoedit_runner_get_progress (data->runner, &step, NULL) ==
      COCOEDIT_PHASE_SAMPLING && step >= 1)
    {
      data->cancelled_at = step;
      data->cancel_time  = g_get_monotonic_time ();
      g_cancellable_cancel (data->cancellable);
      return G_SOURCE_REMOVE;
    }

  return G_SOURCE_CONTINUE;
}

static void
test_cancel (void)
{
  CancelData       data   = { NULL, };
  CocoeditEditJob  job;
  Wait             wait   = { g_main_loop_new (NULL, FALSE), NULL };
  Pictures        *pics   = g_new (Pictures, 1);
  GError          *error  = NULL;
  gint             step, n_steps, i;

  if (! model_dir ())
    return;

  data.runner      = cocoedit_runner_new (1);
  data.cancellable = g_cancellable_new ();
  job_init (&job, pics, 100);

  g_timeout_add (1, cancel_after_first_step, &data);
  cocoedit_runner_edit_async (data.runner, &job, data.cancellable, ready, &wait);
  g_assert_false (cocoedit_runner_edit_finish (data.runner, wait_result (&wait),
                                               &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_test_message ("cancelled at step %d, stopped after %.3f s",
                  data.cancelled_at,
                  (g_get_monotonic_time () - data.cancel_time) / 1e6);

  /* Stopped within a few steps, and nothing was written. */
  cocoedit_runner_get_progress (data.runner, &step, &n_steps);
  g_assert_cmpint (n_steps, ==, 100);
  g_assert_cmpint (step, <, data.cancelled_at + 5);
  for (i = 0; i < SIZE * SIZE * 4; i++)
    g_assert_cmpint (pics->output[i], ==, 0xab);

  g_clear_error (&error);
  g_object_unref (wait.result);
  g_main_loop_unref (wait.loop);
  cocoedit_edit_job_clear (&job);
  g_object_unref (data.cancellable);
  g_object_unref (data.runner);
  g_free (pics);
}

/* The model is timed at load: a positive time per edit, which an edit
 * of that many steps confirms within reason; a cancelled timing says so. */
static void
test_calibrate (void)
{
  CocoeditRunner  *runner;
  GCancellable    *cancellable;
  CocoeditEditJob  job;
  Wait             wait   = { g_main_loop_new (NULL, FALSE), NULL };
  Pictures        *pics   = g_new (Pictures, 1);
  GError          *error  = NULL;
  gdouble          seconds;

  if (! model_dir ())
    return;

  runner = cocoedit_runner_new (1);
  cocoedit_runner_calibrate_async (runner, model_dir (), COCOEDIT_DEVICE_CPU,
                                   4, NULL, ready, &wait);
  seconds = cocoedit_runner_calibrate_finish (runner, wait_result (&wait),
                                              &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (seconds, >, 0.0);
  g_clear_object (&wait.result);

  job_init (&job, pics, 4);
  cocoedit_runner_edit_async (runner, &job, NULL, ready, &wait);
  g_assert_true (cocoedit_runner_edit_finish (runner, wait_result (&wait),
                                              &error));
  g_test_message ("timed at load: %.4f s; an edit of 4 steps: %.4f s",
                  seconds, job.seconds);
  g_assert_cmpfloat (job.seconds, >, 0.0);
  /* The same work, give or take a busy machine. */
  g_assert_cmpfloat (seconds, <, 20.0 * job.seconds + 0.5);
  g_assert_cmpfloat (job.seconds, <, 20.0 * seconds + 0.5);
  g_clear_object (&wait.result);

  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  cocoedit_runner_calibrate_async (runner, model_dir (), COCOEDIT_DEVICE_CPU,
                                   4, cancellable, ready, &wait);
  seconds = cocoedit_runner_calibrate_finish (runner, wait_result (&wait),
                                              &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpfloat (seconds, <, 0.0);

  g_clear_error (&error);
  g_clear_object (&wait.result);
  g_object_unref (cancellable);
  g_main_loop_unref (wait.loop);
  cocoedit_edit_job_clear (&job);
  g_object_unref (runner);
  g_free (pics);
}

static void
test_errors (void)
{
  CocoeditRunner *runner = cocoedit_runner_new (1);
  Wait            wait   = { g_main_loop_new (NULL, FALSE), NULL };
  GError         *error  = NULL;
  gchar          *dir    = g_dir_make_tmp ("cocoedit-runner-XXXXXX", NULL);

  cocoedit_runner_open_async (runner, dir, COCOEDIT_DEVICE_CPU, NULL,
                              ready, &wait);
  g_assert_false (cocoedit_runner_open_finish (runner, wait_result (&wait),
                                               NULL, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == COCOEDIT_RUNNER_ERROR);
  g_assert_cmpint (error->code, ==, COCOEDIT_ERR_IO);
  g_assert_cmpuint (strlen (error->message), >, 10);

  g_rmdir (dir);
  g_free (dir);
  g_clear_error (&error);
  g_object_unref (wait.result);
  g_main_loop_unref (wait.loop);
  g_object_unref (runner);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/runner/open", test_open);
  g_test_add_func ("/runner/edit", test_edit);
  g_test_add_func ("/runner/cancel", test_cancel);
  g_test_add_func ("/runner/errors", test_errors);
  g_test_add_func ("/runner/calibrate", test_calibrate);

  return g_test_run ();
}
