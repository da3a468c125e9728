/* test-report.c — the trainer's reporting library: metrics log, plots,
 * sample grids and the progress line.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * PNGs are read back with cairo and checked pixel by pixel.  Example plots
 * and grids are left in REPORT_EXAMPLES_DIR when it is set (meson sets the
 * build directory) for a human to look at.
 */
#include <math.h>
#include <string.h>

#include <cairo-ft.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "report.h"
#include "report-private.h"

static gchar *tmp_dir;
static const gchar *examples_dir;

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static gchar *
example_path (const gchar *name)
{
  return g_build_filename (examples_dir ? examples_dir : tmp_dir, name, NULL);
}

static void
write_file (const gchar *path, const gchar *text)
{
  GError *error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static gchar *
read_file (const gchar *path)
{
  GError *error = NULL;
  gchar *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

/* ---- PNG inspection ---------------------------------------------------- */

typedef struct
{
  cairo_surface_t *surface;
  gint width, height, stride;
  const guint8 *data;
} Png;

static Png
png_load (const gchar *path)
{
  Png png;
  gchar *bytes;
  gsize len;

  /* A PNG signature, not merely something cairo can read. */
  g_assert_true (g_file_get_contents (path, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 8);
  g_assert_cmpmem (bytes, 8, "\x89PNG\r\n\x1a\n", 8);
  g_free (bytes);

  png.surface = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_surface_status (png.surface), ==, CAIRO_STATUS_SUCCESS);
  png.width = cairo_image_surface_get_width (png.surface);
  png.height = cairo_image_surface_get_height (png.surface);
  png.stride = cairo_image_surface_get_stride (png.surface);
  png.data = cairo_image_surface_get_data (png.surface);
  return png;
}

static void
png_pixel (const Png *png, gint x, gint y, guint8 rgb[3])
{
  guint32 v = *(const guint32 *) (png->data + (gsize) y * png->stride + 4 * x);

  rgb[0] = (v >> 16) & 0xff;
  rgb[1] = (v >> 8) & 0xff;
  rgb[2] = v & 0xff;
}

static gboolean
near_color (const guint8 p[3], guint8 r, guint8 g, guint8 b, gint tolerance)
{
  return ABS (p[0] - r) <= tolerance && ABS (p[1] - g) <= tolerance && ABS (p[2] - b) <= tolerance;
}

/* Pixels in the box darker than `below` (luminance). */
static gint
count_dark (const Png *png, gint x0, gint y0, gint x1, gint y1, gint below)
{
  gint n = 0;

  for (gint y = MAX (0, y0); y < MIN (y1, png->height); y++)
    for (gint x = MAX (0, x0); x < MIN (x1, png->width); x++)
      {
        guint8 p[3];

        png_pixel (png, x, y, p);
        if ((p[0] * 3 + p[1] * 6 + p[2]) / 10 < below)
          n++;
      }
  return n;
}

/* Number of distinct columns holding a pixel of (about) the colour. */
static gint
columns_with_color (const Png *png, guint8 r, guint8 g, guint8 b)
{
  gint n = 0;

  for (gint x = 0; x < png->width; x++)
    for (gint y = 0; y < png->height; y++)
      {
        guint8 p[3];

        png_pixel (png, x, y, p);
        if (near_color (p, r, g, b, 12))
          {
            n++;
            break;
          }
      }
  return n;
}

/* Number of distinct rows holding a pixel of (about) the colour in the
 * columns from x0 on. */
static gint
rows_with_color (const Png *png, gint x0, guint8 r, guint8 g, guint8 b)
{
  gint n = 0;

  for (gint y = 0; y < png->height; y++)
    for (gint x = x0; x < png->width; x++)
      {
        guint8 p[3];

        png_pixel (png, x, y, p);
        if (near_color (p, r, g, b, 12))
          {
            n++;
            break;
          }
      }
  return n;
}

/* ---- Metrics log ------------------------------------------------------- */

static void
log_steps (ReportMetricsLog *log, gint64 first, gint64 last)
{
  const gchar *keys[] = { "loss", "reward/mean", "kl" };

  for (gint64 s = first; s <= last; s++)
    {
      gdouble values[] = { 1.0 / s, 0.5 * s, s == 3 ? NAN : 0.01 * s };
      GError *error = NULL;

      g_assert_true (report_metrics_log_append (log, s, 3, keys, values, &error));
      g_assert_no_error (error);
    }
}

static void
test_metrics_round_trip (void)
{
  gchar *path = tmp_path ("round-trip.jsonl");
  GError *error = NULL;
  ReportMetricsLog *log;
  ReportMetrics *m;
  ReportSeries s;
  const gchar *const *keys;
  gsize n_keys;
  gchar *text;

  log = report_metrics_log_open (path, TRUE, &error);
  g_assert_no_error (error);
  log_steps (log, 1, 5);
  report_metrics_log_close (log);

  /* One line per record, NaN written as null (JSON has no NaN). */
  text = read_file (path);
  g_assert_cmpuint (strlen (text), >, 0);
  g_assert_true (g_str_has_suffix (text, "}\n"));
  g_assert_nonnull (strstr (text, "{\"step\":3,"));
  g_assert_nonnull (strstr (text, "\"kl\":null"));
  g_assert_nonnull (strstr (text, "\"loss\":0.25,"));
  g_free (text);

  m = report_metrics_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report_metrics_get_n_records (m), ==, 5);
  g_assert_cmpuint (report_metrics_get_n_skipped (m), ==, 0);
  g_assert_cmpint (report_metrics_get_last_step (m), ==, 5);
  keys = report_metrics_get_keys (m, &n_keys);
  g_assert_cmpuint (n_keys, ==, 3);
  g_assert_cmpstr (keys[0], ==, "loss");
  g_assert_cmpstr (keys[1], ==, "reward/mean");
  g_assert_cmpstr (keys[2], ==, "kl");
  g_assert_null (keys[3]);

  g_assert_true (report_metrics_get_series (m, "reward/mean", &s));
  g_assert_cmpstr (s.name, ==, "reward/mean");
  g_assert_cmpuint (s.n, ==, 5);
  for (gsize i = 0; i < 5; i++)
    {
      g_assert_cmpfloat (s.x[i], ==, i + 1);
      g_assert_cmpfloat_with_epsilon (s.y[i], 0.5 * (i + 1), 1e-12);
    }
  g_assert_true (report_metrics_get_series (m, "loss", &s));
  g_assert_cmpfloat_with_epsilon (s.y[2], 1.0 / 3, 1e-11);
  g_assert_true (report_metrics_get_series (m, "kl", &s));
  g_assert_true (isnan (s.y[2]));
  g_assert_cmpfloat_with_epsilon (s.y[3], 0.04, 1e-12);
  g_assert_true (report_metrics_get_series (m, "time", &s));
  g_assert_cmpfloat (s.y[0], >, 1.6e9);
  g_assert_false (report_metrics_get_series (m, "nope", &s));
  report_metrics_free (m);
  g_free (path);
}

static void
test_metrics_truncated_tail (void)
{
  gchar *path = tmp_path ("killed.jsonl");
  GError *error = NULL;
  ReportMetricsLog *log;
  ReportMetrics *m;
  ReportSeries s;
  FILE *f;
  gchar *text;

  log = report_metrics_log_open (path, TRUE, &error);
  g_assert_no_error (error);
  log_steps (log, 1, 4);
  report_metrics_log_close (log);

  /* What SIGKILL in the middle of a write leaves. */
  f = fopen (path, "a");
  fputs ("{\"step\":5,\"time\":1795000000.5,\"lo", f);
  fclose (f);

  m = report_metrics_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report_metrics_get_n_records (m), ==, 4);
  g_assert_cmpuint (report_metrics_get_n_skipped (m), ==, 1);
  g_assert_cmpint (report_metrics_get_last_step (m), ==, 4);
  report_metrics_free (m);

  /* Appending cuts the fragment off, so the new record is a line of its
   * own and nothing is lost. */
  log = report_metrics_log_open (path, FALSE, &error);
  g_assert_no_error (error);
  log_steps (log, 5, 6);
  report_metrics_log_close (log);
  text = read_file (path);
  g_assert_null (strstr (text, "\"lo{"));
  g_free (text);

  m = report_metrics_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report_metrics_get_n_records (m), ==, 6);
  g_assert_cmpuint (report_metrics_get_n_skipped (m), ==, 0);
  g_assert_true (report_metrics_get_series (m, "loss", &s));
  g_assert_cmpuint (s.n, ==, 6);
  g_assert_cmpfloat (s.x[5], ==, 6);
  report_metrics_free (m);

  /* A file that is one fragment, with no newline at all. */
  write_file (path, "{\"step\":1,");
  m = report_metrics_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report_metrics_get_n_records (m), ==, 0);
  g_assert_cmpint (report_metrics_get_last_step (m), ==, -1);
  report_metrics_free (m);
  log = report_metrics_log_open (path, FALSE, &error);
  g_assert_no_error (error);
  report_metrics_log_close (log);
  text = read_file (path);
  g_assert_cmpstr (text, ==, "");
  g_free (text);
  g_free (path);
}

static void
test_metrics_bad_input (void)
{
  gchar *path = tmp_path ("bad.jsonl");
  GError *error = NULL;
  ReportMetricsLog *log;
  ReportMetrics *m;
  const gchar *reserved[] = { "step" };
  const gchar *twice[] = { "a", "a" };
  const gchar *empty[] = { "" };
  gdouble v[] = { 1, 2 };

  /* A broken line that is not the last one is damage, not a killed run. */
  write_file (path, "{\"step\":1,\"a\":1}\n{\"step\":2,\"a\"\n{\"step\":3,\"a\":3}\n");
  m = report_metrics_load (path, &error);
  g_assert_null (m);
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, ":2:"));
  g_clear_error (&error);

  write_file (path, "{\"step\":1,\"a\":1}\n{\"a\":2}\n");
  m = report_metrics_load (path, &error);
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "step"));
  g_clear_error (&error);

  write_file (path, "[1,2]\n{\"step\":1}\n");
  g_assert_null (report_metrics_load (path, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_FORMAT);
  g_clear_error (&error);

  /* Strings and booleans are kept out of the series, not fatal; blank
   * lines are ignored. */
  write_file (path, "{\"step\":1,\"a\":1,\"note\":\"x\",\"ok\":true}\n\n{\"step\":2.0,\"a\":2}\n");
  m = report_metrics_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report_metrics_get_n_records (m), ==, 2);
  g_assert_cmpint (report_metrics_get_last_step (m), ==, 2);
  g_assert_cmpstr (report_metrics_get_keys (m, NULL)[0], ==, "a");
  g_assert_null (report_metrics_get_keys (m, NULL)[1]);
  report_metrics_free (m);

  g_assert_null (report_metrics_load ("/nonexistent/metrics.jsonl", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);
  g_assert_null (report_metrics_log_open ("/nonexistent/dir/metrics.jsonl", FALSE, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  log = report_metrics_log_open (path, TRUE, &error);
  g_assert_no_error (error);
  g_assert_false (report_metrics_log_append (log, 1, 1, reserved, v, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_metrics_log_append (log, 1, 2, twice, v, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_metrics_log_append (log, 1, 1, empty, v, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_metrics_log_append (log, 1, 1, NULL, v, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  /* Nothing of the refused records reached the file. */
  report_metrics_log_close (log);
  {
    gchar *text = read_file (path);

    g_assert_cmpstr (text, ==, "");
    g_free (text);
  }
  g_free (path);
}

static void
test_metrics_truncate (void)
{
  gchar *path = tmp_path ("resume.jsonl");
  GError *error = NULL;
  ReportMetricsLog *log;
  ReportMetrics *m;
  gchar *before, *after, *cut;
  gsize dropped = 99;
  FILE *f;

  log = report_metrics_log_open (path, TRUE, &error);
  g_assert_no_error (error);
  log_steps (log, 1, 10);
  report_metrics_log_close (log);
  before = read_file (path);
  f = fopen (path, "a");
  fputs ("{\"step\":11,", f);
  fclose (f);

  g_assert_true (report_metrics_truncate (path, 6, &dropped, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dropped, ==, 4);

  /* The kept lines are the first six, byte for byte. */
  after = read_file (path);
  cut = strstr (before, "{\"step\":7,");
  g_assert_nonnull (cut);
  *cut = '\0';
  g_assert_cmpstr (after, ==, before);

  m = report_metrics_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report_metrics_get_n_records (m), ==, 6);
  g_assert_cmpuint (report_metrics_get_n_skipped (m), ==, 0);
  g_assert_cmpint (report_metrics_get_last_step (m), ==, 6);
  report_metrics_free (m);

  /* Nothing beyond the step: the file stays as it is. */
  g_assert_true (report_metrics_truncate (path, 100, &dropped, &error));
  g_assert_cmpuint (dropped, ==, 0);
  g_free (after);
  after = read_file (path);
  g_assert_cmpstr (after, ==, before);

  /* Damage is reported and the file is left alone. */
  write_file (path, "{\"step\":1}\ngarbage\n{\"step\":2}\n");
  g_assert_false (report_metrics_truncate (path, 1, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_FORMAT);
  g_clear_error (&error);
  g_free (after);
  after = read_file (path);
  g_assert_cmpstr (after, ==, "{\"step\":1}\ngarbage\n{\"step\":2}\n");

  g_assert_false (report_metrics_truncate ("/nonexistent/m.jsonl", 1, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  g_free (before);
  g_free (after);
  g_free (path);
}

/* ---- Plot helpers ------------------------------------------------------ */

static void
test_plot_ticks (void)
{
  struct { gdouble range; gdouble step; } steps[] = {
    { 1.0, 0.2 }, { 10, 2 }, { 7, 1 }, { 0.03, 0.005 }, { 2500, 500 },
    { 100000, 20000 }, { 3e-6, 5e-7 },
  };
  struct { gdouble v, step; const gchar *text; } labels[] = {
    { 0.25, 0.05, "0.25" }, { 1.4e-17, 0.2, "0" }, { -0.6, 0.2, "-0.6" },
    { 1500, 500, "1500" }, { 40000, 20000, "40k" }, { 12500, 2500, "12.5k" },
    { 2e6, 5e5, "2.0M" }, { 3, 1, "3" }, { 1.5e-6, 5e-7, "1.5e-06" },
    { 2.5e8, 5e7, "2.5e+08" }, { 0.005, 0.005, "0.005" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    g_assert_cmpfloat_with_epsilon (report_nice_step (steps[i].range, 6), steps[i].step,
                                    steps[i].step * 1e-9);
  g_assert_cmpfloat (report_nice_step (0, 6), ==, 1);
  g_assert_cmpfloat (report_nice_step (NAN, 6), ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      gchar *text = report_format_tick (labels[i].v, labels[i].step);

      g_assert_cmpstr (text, ==, labels[i].text);
      g_free (text);
    }
}

static void
test_moving_average (void)
{
  gdouble y[] = { 1, 3, NAN, 5, 7, 9 };
  gdouble out[6];

  /* window 2: beta = 1/3; out = sum beta^k y / sum beta^k (debiased). */
  report_moving_average (y, 6, 2, out);
  g_assert_cmpfloat (out[0], ==, 1);
  g_assert_cmpfloat_with_epsilon (out[1], 2.5, 1e-12);
  g_assert_true (isnan (out[2]));
  g_assert_cmpfloat_with_epsilon (out[3], 55.0 / 13, 1e-12);   /* the gap is skipped */
  g_assert_cmpfloat (out[4], >, out[3]);
  g_assert_cmpfloat (out[4], <, 7);
  report_moving_average (y, 6, 1, out);
  g_assert_cmpfloat (out[4], ==, 7);
}

/* ---- Plots ------------------------------------------------------------- */

static void
test_plot_curves (void)
{
  enum { N = 200 };
  gdouble x[N], rise[N], fall[N];
  ReportSeries series[2] = {
    { "reward/mean", x, rise, N },
    { "loss", x, fall, N },
  };
  ReportPlotOptions opt = { .width = 640, .height = 400, .y_label = "value" };
  gchar *path = example_path ("plot-basic.png");
  GError *error = NULL;
  Png png;

  for (gint i = 0; i < N; i++)
    {
      x[i] = 10 * i;
      rise[i] = 0.5 + 2.0 * i / N;
      fall[i] = 2.5 - 2.0 * i / N;
    }
  /* A gap in each curve. */
  for (gint i = 90; i < 100; i++)
    rise[i] = NAN;
  fall[150] = INFINITY;

  g_assert_true (report_plot_curves (path, "Plot test", series, 2, &opt, &error));
  g_assert_no_error (error);

  png = png_load (path);
  g_assert_cmpint (png.width, ==, 640);
  g_assert_cmpint (png.height, ==, 400);
  /* The corner is background. */
  {
    guint8 p[3];

    png_pixel (&png, 2, 2, p);
    g_assert_true (near_color (p, 255, 255, 255, 0));
  }
  /* Both curves are drawn in their colours across most of the width (a
   * legend swatch alone covers a few dozen columns). */
  for (guint k = 0; k < 2; k++)
    {
      guint8 r, g, b;

      report_plot_series_color (k, &r, &g, &b);
      g_assert_cmpint (columns_with_color (&png, r, g, b), >, png.width / 2);
    }
  /* No third colour: the palette's next entry is absent. */
  {
    guint8 r, g, b;

    report_plot_series_color (2, &r, &g, &b);
    g_assert_cmpint (columns_with_color (&png, r, g, b), ==, 0);
  }
  /* Tick labels, axis labels and title: dark pixels left of and below the
   * plot area and at the top. */
  g_assert_cmpint (count_dark (&png, 0, 40, 60, 360, 120), >, 40);
  g_assert_cmpint (count_dark (&png, 80, 360, 620, 400, 120), >, 40);
  g_assert_cmpint (count_dark (&png, 200, 0, 440, 30, 120), >, 40);
  cairo_surface_destroy (png.surface);
  g_free (path);
}

/* Curves like an RL run's, smoothed: the look checked by eye. */
static void
test_plot_training_example (void)
{
  enum { N = 600 };
  gdouble x[N], reward[N], loss[N], kl[N], psnr[N];
  GRand *rand = g_rand_new_with_seed (7);
  ReportSeries rewards[] = { { "reward/mean", x, reward, N } };
  ReportSeries losses[] = {
    { "loss/policy", x, loss, N },
    { "loss/kl", x, kl, N },
    { "非编辑区 PSNR/10", x, psnr, N },
  };
  ReportPlotOptions opt = { .smooth_window = 25, .y_label = "reward" };
  GError *error = NULL;
  gchar *path;
  Png png;

  for (gint i = 0; i < N; i++)
    {
      gdouble t = (gdouble) i / N;

      x[i] = 2 * i;
      reward[i] = 2.2 + 1.6 * (1 - exp (-4 * t)) + g_rand_double_range (rand, -0.5, 0.5);
      loss[i] = 0.9 * exp (-3 * t) + 0.1 + g_rand_double_range (rand, -0.08, 0.08);
      kl[i] = 0.02 + 0.15 * t + g_rand_double_range (rand, -0.01, 0.01);
      psnr[i] = i % 50 < 45 ? 3.0 + 0.4 * t + g_rand_double_range (rand, -0.05, 0.05) : NAN;
    }
  /* An early spike must not flatten the rest. */
  loss[3] = 40;
  g_rand_free (rand);

  path = example_path ("plot-reward.png");
  g_assert_true (report_plot_curves (path, "RL reward", rewards, 1, &opt, &error));
  g_assert_no_error (error);
  g_free (path);

  path = example_path ("plot-losses.png");
  opt.y_label = NULL;
  g_assert_true (report_plot_curves (path, "Loss terms", losses, 3, &opt, &error));
  g_assert_no_error (error);
  png = png_load (path);
  g_assert_cmpint (png.width, ==, 900);
  g_assert_cmpint (png.height, ==, 540);
  for (guint k = 0; k < 3; k++)
    {
      guint8 r, g, b;

      report_plot_series_color (k, &r, &g, &b);
      g_assert_cmpint (columns_with_color (&png, r, g, b), >, png.width / 2);
    }
  cairo_surface_destroy (png.surface);
  g_free (path);
}

/* With smoothing, one spike does not flatten the rest of the curve: its
 * second half still spans a good part of the plot's height.  Without
 * smoothing every value is in range, and the rest is flat. */
static void
test_plot_spike (void)
{
  enum { N = 100 };
  gdouble y[N];
  ReportSeries series = { "loss", NULL, y, N };
  ReportPlotOptions opt = { .width = 400, .height = 300, .smooth_window = 5 };
  gchar *path = tmp_path ("spike.png");
  GError *error = NULL;
  guint8 r, g, b;
  Png png;

  for (gint i = 0; i < N; i++)
    y[i] = 1.0 - 0.5 * i / N + 0.02 * sin (i);
  y[5] = 1000;
  report_plot_series_color (0, &r, &g, &b);

  g_assert_true (report_plot_curves (path, "spike", &series, 1, &opt, &error));
  g_assert_no_error (error);
  png = png_load (path);
  g_assert_cmpint (rows_with_color (&png, png.width * 6 / 10, r, g, b), >, png.height / 8);
  cairo_surface_destroy (png.surface);

  opt.smooth_window = 0;
  g_assert_true (report_plot_curves (path, "spike", &series, 1, &opt, &error));
  g_assert_no_error (error);
  png = png_load (path);
  g_assert_cmpint (rows_with_color (&png, png.width * 6 / 10, r, g, b), <, 10);
  cairo_surface_destroy (png.surface);
  g_free (path);
}

static void
test_plot_from_metrics (void)
{
  gchar *log_path = tmp_path ("plot-metrics.jsonl");
  gchar *path = example_path ("plot-metrics.png");
  const gchar *keys[] = { "loss", "absent", "kl" };
  const gchar *none[] = { "absent" };
  GError *error = NULL;
  ReportMetricsLog *log;
  ReportMetrics *m;

  log = report_metrics_log_open (log_path, TRUE, &error);
  g_assert_no_error (error);
  log_steps (log, 1, 30);
  report_metrics_log_close (log);
  m = report_metrics_load (log_path, &error);
  g_assert_no_error (error);

  g_assert_true (report_plot_metrics (path, "From metrics.jsonl", m, keys, 3, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (report_plot_metrics (path, "none", m, none, 1, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);

  report_metrics_free (m);
  g_free (path);
  g_free (log_path);
}

static void
test_plot_edge_cases (void)
{
  gdouble one_y[] = { 3.0 };
  gdouble flat[] = { 2, 2, 2, 2 };
  gdouble nan_y[] = { NAN, NAN };
  gdouble huge[] = { -1e300, 1e300 };
  ReportSeries single[] = { { "one point", NULL, one_y, 1 } };
  ReportSeries cases[] = { { "flat", NULL, flat, 4 }, { "all NaN", NULL, nan_y, 2 },
                           { NULL, NULL, huge, 2 }, { "empty", NULL, NULL, 0 } };
  ReportPlotOptions tiny = { .width = 64, .height = 64 };
  ReportPlotOptions bad = { .width = 20, .height = 400 };
  gchar *path = tmp_path ("edge.png");
  GError *error = NULL;
  Png png;

  g_assert_true (report_plot_curves (path, NULL, single, 1, NULL, &error));
  g_assert_no_error (error);
  /* A lone point is still visible (a dot). */
  png = png_load (path);
  {
    guint8 r, g, b;

    report_plot_series_color (0, &r, &g, &b);
    g_assert_cmpint (columns_with_color (&png, r, g, b), >, 0);
  }
  cairo_surface_destroy (png.surface);

  g_assert_true (report_plot_curves (path, "edge", cases, 2, NULL, &error));
  g_assert_no_error (error);
  /* A lone point whose smoothed value is one ulp off: the range must count
   * as flat (it was 1e-15 wide and the tick loops never ended). */
  {
    gdouble psnr[] = { 5.96317192336 };
    ReportSeries lone = { "nonedit_psnr", NULL, psnr, 1 };
    ReportPlotOptions smooth = { .smooth_window = 10 };

    g_assert_true (report_plot_curves (path, "rl: nonedit_psnr", &lone, 1, &smooth, &error));
    g_assert_no_error (error);
  }
  g_assert_true (report_plot_curves (path, "edge", cases, 4, &tiny, &error));
  g_assert_no_error (error);

  g_assert_false (report_plot_curves (path, "x", cases, 0, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_plot_curves (path, "x", cases, 1, &bad, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  {
    ReportSeries no_y = { "no values", NULL, NULL, 5 };

    g_assert_false (report_plot_curves (path, "x", &no_y, 1, NULL, &error));
    g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_assert_false (report_plot_curves ("/nonexistent/dir/p.png", "x", cases, 1, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);
  /* Invalid UTF-8 in names and title must not break cairo. */
  {
    ReportSeries bad_name = { "bad \xff\xfe name\n", NULL, flat, 4 };

    g_assert_true (report_plot_curves (path, "\xc3\x28 title", &bad_name, 1, NULL, &error));
    g_assert_no_error (error);
  }
  g_free (path);
}

/* ---- Grids ------------------------------------------------------------- */

typedef struct
{
  guint8 *buf;
  ReportImage im;
} TestImage;

static TestImage
solid_image (gint w, gint h, gint channels, guint8 r, guint8 g, guint8 b)
{
  TestImage t;

  t.buf = g_malloc ((gsize) w * h * channels);
  for (gint i = 0; i < w * h; i++)
    {
      t.buf[i * channels] = r;
      if (channels >= 3)
        {
          t.buf[i * channels + 1] = g;
          t.buf[i * channels + 2] = b;
        }
    }
  t.im = (ReportImage) { t.buf, w, h, channels, 0 };
  return t;
}

/* A picture with some structure (for the example grid). */
static TestImage
scene_image (gint w, gint h, guint seed, gboolean edited)
{
  TestImage t = solid_image (w, h, 3, 0, 0, 0);

  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++)
      {
        guint8 *p = t.buf + ((gsize) y * w + x) * 3;
        gdouble dx = x - w * 0.55, dy = y - h * 0.5;
        gboolean inside = dx * dx + dy * dy < (w * 0.18) * (w * 0.18);

        p[0] = 60 + 120 * y / h + (seed * 37) % 40;
        p[1] = 110 + 80 * x / w;
        p[2] = 170 - 60 * y / h;
        if (inside)
          {
            p[0] = edited ? 40 : 220;
            p[1] = edited ? 90 : 60;
            p[2] = edited ? 220 : 50;
          }
      }
  return t;
}

static TestImage
mask_image (gint w, gint h)
{
  TestImage t = solid_image (w, h, 1, 0, 0, 0);

  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++)
      {
        gdouble dx = x - w * 0.55, dy = y - h * 0.5;

        t.buf[(gsize) y * w + x] = dx * dx + dy * dy < (w * 0.22) * (w * 0.22) ? 255 : 0;
      }
  return t;
}

/* Rows of the column through x whose pixels are (about) the colour, as
 * [start, end) runs. */
static GArray *
color_runs (const Png *png, gint x, guint8 r, guint8 g, guint8 b)
{
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (gint));
  gint start = -1;

  for (gint y = 0; y <= png->height; y++)
    {
      guint8 p[3] = { 0, 0, 0 };
      gboolean in;

      if (y < png->height)
        png_pixel (png, x, y, p);
      in = y < png->height && near_color (p, r, g, b, 2);
      if (in && start < 0)
        start = y;
      if (!in && start >= 0)
        {
          g_array_append_val (runs, start);
          g_array_append_val (runs, y);
          start = -1;
        }
    }
  return runs;
}

static void
test_grid_layout_and_labels (void)
{
  enum { CELL = 128, GAP = 2 };   /* gap: max (2, cell / 48) */
  TestImage green = solid_image (64, 64, 3, 0, 200, 0);
  TestImage wide = solid_image (300, 150, 3, 200, 0, 0);
  TestImage grey = solid_image (40, 40, 1, 128, 0, 0);
  ReportImage cells[6];
  const gchar *row_labels[] = {
    "replace the red cup with a blue vase",
    "把红色的杯子换成蓝色的花瓶",
  };
  const gchar *col_labels[] = { "source", "result", "mask" };
  ReportGridOptions opt = { .cell_size = CELL };
  gchar *path = example_path ("grid-basic.png");
  GError *error = NULL;
  GArray *runs;
  Png png;

  for (guint r = 0; r < 2; r++)
    {
      cells[r * 3 + 0] = green.im;
      cells[r * 3 + 1] = wide.im;
      cells[r * 3 + 2] = grey.im;
    }
  g_assert_true (report_grid_png (path, 2, 3, cells, row_labels, col_labels, &opt, &error));
  g_assert_no_error (error);

  png = png_load (path);
  g_assert_cmpint (png.width, ==, 3 * CELL + 4 * GAP);
  g_assert_cmpint (png.height, >, 2 * CELL + 3 * GAP);

  /* The green cells (upscaled to fill their cell) form two runs, one per
   * row, each exactly a cell high. */
  runs = color_runs (&png, GAP + CELL / 2, 0, 200, 0);
  g_assert_cmpuint (runs->len, ==, 4);
  for (guint r = 0; r < 2; r++)
    g_assert_cmpint (g_array_index (runs, gint, 2 * r + 1) - g_array_index (runs, gint, 2 * r), ==, CELL);

  /* The wide image keeps its aspect: red is half a cell high. */
  {
    GArray *red = color_runs (&png, GAP + CELL + GAP + CELL / 2, 200, 0, 0);

    g_assert_cmpuint (red->len, ==, 4);
    g_assert_cmpint (ABS (g_array_index (red, gint, 1) - g_array_index (red, gint, 0) - CELL / 2), <=, 1);
    g_array_unref (red);
  }

  /* Above each row, a label strip with text in it: the header above the
   * first strip, and the English and the Chinese instruction. */
  {
    gint row0 = g_array_index (runs, gint, 0);
    gint row1 = g_array_index (runs, gint, 2);
    gint strip = row1 - (row0 + CELL + GAP);
    gint dark_en, dark_zh;

    g_assert_cmpint (strip, >, 10);
    g_assert_cmpint (count_dark (&png, 0, 0, png.width, row0 - strip, 100), >, 30);
    dark_en = count_dark (&png, 0, row0 - strip, png.width, row0, 100);
    dark_zh = count_dark (&png, 0, row1 - strip, png.width, row1, 100);
    g_assert_cmpint (dark_en, >, 50);
    g_assert_cmpint (dark_zh, >, 50);
  }

  g_array_unref (runs);
  cairo_surface_destroy (png.surface);
  g_free (green.buf);
  g_free (wide.buf);
  g_free (grey.buf);
  g_free (path);
}

/* The font chosen for Chinese and Japanese text has their glyphs (no
 * boxes). */
static void
test_grid_cjk_font (void)
{
  const gchar *texts[] = { "把红色的杯子换成蓝色的花瓶", "赤いカップを青い花瓶に替える" };
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 8, 8);
  cairo_t *cr = cairo_create (surface);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      cairo_scaled_font_t *font;
      FT_Face face;

      report_text_select_font (cr, texts[i], 16, FALSE);
      font = cairo_get_scaled_font (cr);
      face = cairo_ft_scaled_font_lock_face (font);
      g_assert_nonnull (face);
      for (const gchar *p = texts[i]; *p; p = g_utf8_next_char (p))
        g_assert_cmpuint (FT_Get_Char_Index (face, g_utf8_get_char (p)), !=, 0);
      cairo_ft_scaled_font_unlock_face (font);
    }
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

static void
test_grid_example (void)
{
  enum { ROWS = 3 };
  const gchar *instructions[ROWS] = {
    "Replace the red ball with a blue one and keep everything else exactly as it is, "
    "including the background gradient, the lighting and the shadows",
    "把红色的球换成蓝色的球",
    "赤いボールを青いボールに替えてください",
  };
  const gchar *col_labels[] = { "source", "result", "mask" };
  TestImage images[ROWS * 3];
  ReportImage cells[ROWS * 3];
  ReportGridOptions opt = { .cell_size = 192, .title = "RL step 1200 — rollouts" };
  gchar *path = example_path ("grid-rollouts.png");
  GError *error = NULL;
  Png png;

  for (guint r = 0; r < ROWS; r++)
    {
      gint w = r == 1 ? 96 : 256, h = r == 2 ? 160 : 256;

      images[r * 3 + 0] = scene_image (w, h, r, FALSE);
      images[r * 3 + 1] = scene_image (w, h, r, TRUE);
      images[r * 3 + 2] = mask_image (w, h);
      for (guint c = 0; c < 3; c++)
        cells[r * 3 + c] = images[r * 3 + c].im;
    }
  /* A padded row stride. */
  {
    TestImage *t = &images[0];
    gint stride = 256 * 3 + 5;
    guint8 *padded = g_malloc0 ((gsize) stride * 256);

    for (gint y = 0; y < 256; y++)
      memcpy (padded + (gsize) y * stride, t->buf + (gsize) y * 256 * 3, 256 * 3);
    g_free (t->buf);
    t->buf = padded;
    cells[0].pixels = padded;
    cells[0].rowstride = stride;
  }
  g_assert_true (report_grid_png (path, ROWS, 3, cells, instructions, col_labels, &opt, &error));
  g_assert_no_error (error);
  png = png_load (path);
  g_assert_cmpint (png.width, ==, 3 * 192 + 4 * 4);
  cairo_surface_destroy (png.surface);
  for (guint i = 0; i < ROWS * 3; i++)
    g_free (images[i].buf);
  g_free (path);
}

static void
test_grid_bad_input (void)
{
  TestImage ok = solid_image (8, 8, 3, 1, 2, 3);
  ReportImage cells[2] = { ok.im, ok.im };
  ReportGridOptions big = { .cell_size = 100000 };
  gchar *path = tmp_path ("bad-grid.png");
  GError *error = NULL;

  g_assert_false (report_grid_png (path, 0, 2, cells, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_grid_png (path, 1, 2, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_grid_png (NULL, 1, 2, cells, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_grid_png (path, 1, 2, cells, NULL, NULL, &big, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (report_grid_png (path, 1, 100000, cells, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);

  cells[1].channels = 2;
  g_assert_false (report_grid_png (path, 1, 2, cells, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "cell 1"));
  g_clear_error (&error);
  cells[1] = ok.im;
  cells[1].rowstride = 10;
  g_assert_false (report_grid_png (path, 1, 2, cells, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  cells[1] = ok.im;
  cells[1].width = -4;
  g_assert_false (report_grid_png (path, 1, 2, cells, NULL, NULL, NULL, &error));
  g_assert_error (error, REPORT_ERROR, REPORT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* Empty cells, NULL labels among others and bad UTF-8 are drawn. */
  {
    const gchar *rows[] = { "\xff\xfe broken \n label" };
    const gchar *cols[] = { NULL, "b" };

    cells[1] = (ReportImage) { NULL, 0, 0, 0, 0 };
    g_assert_true (report_grid_png (path, 1, 2, cells, rows, cols, NULL, &error));
    g_assert_no_error (error);
  }
  g_free (ok.buf);
  g_free (path);
}

/* Drawing on several threads at once (the trainer may plot in the
 * background): every file comes out whole. */
static gpointer
draw_in_thread (gpointer data)
{
  guint id = GPOINTER_TO_UINT (data);
  gdouble y[50];
  ReportSeries series = { "奖励 reward", NULL, y, 50 };
  TestImage im = solid_image (32, 32, 3, 10 * id, 100, 200);
  ReportImage cells[2] = { im.im, im.im };
  const gchar *rows[] = { "把红色的杯子换成蓝色的花瓶" };
  gchar *name, *path;
  gboolean ok = TRUE;

  for (gint i = 0; i < 50; i++)
    y[i] = sin (i * 0.1 * (id + 1));
  for (gint round = 0; round < 5 && ok; round++)
    {
      GError *error = NULL;

      name = g_strdup_printf ("thread-%u.png", id);
      path = tmp_path (name);
      ok = report_plot_curves (path, "thread", &series, 1, NULL, &error)
           && report_grid_png (path, 1, 2, cells, rows, NULL, NULL, &error);
      if (error)
        g_printerr ("%s\n", error->message);
      g_clear_error (&error);
      g_free (path);
      g_free (name);
    }
  g_free (im.buf);
  return GUINT_TO_POINTER (ok);
}

static void
test_threads (void)
{
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("draw", draw_in_thread, GUINT_TO_POINTER (i));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_true (GPOINTER_TO_UINT (g_thread_join (threads[i])));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      gchar *name = g_strdup_printf ("thread-%u.png", i);
      gchar *path = tmp_path (name);
      Png png = png_load (path);

      g_assert_cmpint (png.width, ==, 2 * 256 + 3 * 5);
      cairo_surface_destroy (png.surface);
      g_free (path);
      g_free (name);
    }
}

/* ---- Progress ---------------------------------------------------------- */

static void
test_format_duration (void)
{
  struct { gdouble s; const gchar *text; } cases[] = {
    { 3725, "1:02:05" }, { 65, "1:05" }, { 0, "0:00" }, { 59.6, "1:00" },
    { 3599.4, "59:59" }, { 3600, "1:00:00" }, { 2 * 86400 + 5, "48:00:05" },
    { -1, "?" }, { NAN, "?" }, { INFINITY, "?" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gchar *text = report_format_duration (cases[i].s);

      g_assert_cmpstr (text, ==, cases[i].text);
      g_free (text);
    }
}

static void
test_progress_format (void)
{
  const gchar *keys[] = { "loss", "reward" };
  gdouble values[] = { 0.0123456, 3.41 };
  gchar *line;

  line = report_progress_format ("rl", 1200, 5000, 2.0, 2, keys, values);
  g_assert_cmpstr (line, ==, "rl 1200/5000   24.0%  2.00 it/s  ETA 31:40  loss=0.01235 reward=3.41");
  g_free (line);
  /* Slow steps read as seconds per step. */
  line = report_progress_format (NULL, 10, 100, 0.25, 0, NULL, NULL);
  g_assert_cmpstr (line, ==, "10/100   10.0%  4.00 s/it  ETA 6:00");
  g_free (line);
  line = report_progress_format ("sft", 0, 100, NAN, 0, NULL, NULL);
  g_assert_cmpstr (line, ==, "sft 0/100    0.0%  ? it/s  ETA ?");
  g_free (line);
  /* No total: no percentage or ETA. */
  line = report_progress_format ("eval", 7, 0, 1.5, 0, NULL, NULL);
  g_assert_cmpstr (line, ==, "eval 7  1.50 it/s");
  g_free (line);
}

static gchar *
stream_contents (FILE *f)
{
  glong len;
  gchar *text;

  fflush (f);
  len = ftell (f);
  text = g_malloc0 (len + 1);
  rewind (f);
  g_assert_cmpuint (fread (text, 1, len, f), ==, (gsize) len);
  return text;
}

static guint
count_char (const gchar *s, gchar c)
{
  guint n = 0;

  for (; *s; s++)
    n += *s == c;
  return n;
}

static void
test_progress_output (void)
{
  const gchar *keys[] = { "loss" };
  gdouble value = 0.5;
  ReportProgress *p;
  FILE *f;
  gchar *text;

  /* Not a terminal: a line every 5 steps and at the end. */
  f = tmpfile ();
  p = report_progress_new ("rl", 12, 0, 5);
  report_progress_set_output (p, f, FALSE);
  for (gint s = 1; s <= 12; s++)
    report_progress_update (p, s, 1, keys, &value);
  report_progress_free (p);
  text = stream_contents (f);
  g_assert_cmpuint (count_char (text, '\n'), ==, 3);
  g_assert_nonnull (strstr (text, "rl 5/12"));
  g_assert_nonnull (strstr (text, "rl 10/12"));
  g_assert_nonnull (strstr (text, "rl 12/12  100.0%"));
  g_assert_nonnull (strstr (text, "loss=0.5"));
  g_assert_null (strchr (text, '\r'));
  g_assert_null (strchr (text, '\033'));
  g_free (text);
  fclose (f);

  /* plain_every 0: only the final line. */
  f = tmpfile ();
  p = report_progress_new ("rl", 12, 0, 0);
  report_progress_set_output (p, f, FALSE);
  for (gint s = 1; s <= 12; s++)
    report_progress_update (p, s, 0, NULL, NULL);
  report_progress_free (p);
  text = stream_contents (f);
  g_assert_cmpuint (count_char (text, '\n'), ==, 1);
  g_free (text);
  fclose (f);

  /* A terminal: redrawn in place (throttled, but the first and last steps
   * always show), cleared on request, ended with a newline. */
  f = tmpfile ();
  p = report_progress_new ("sft", 1000, 500, 5);
  report_progress_set_output (p, f, TRUE);
  for (gint s = 501; s <= 999; s++)
    report_progress_update (p, s, 1, keys, &value);
  report_progress_clear (p);
  report_progress_update (p, 1000, 1, keys, &value);
  report_progress_free (p);
  text = stream_contents (f);
  g_assert_true (g_str_has_prefix (text, "\rsft 501/1000"));
  g_assert_nonnull (strstr (text, "\r\033[K\rsft 1000/1000  100.0%"));
  g_assert_true (g_str_has_suffix (text, "\033[K\n"));
  g_assert_cmpuint (count_char (text, '\n'), ==, 1);
  g_assert_cmpuint (count_char (text, '\r'), <, 100);   /* throttled */
  g_free (text);
  fclose (f);

  /* NULL is ignored everywhere. */
  report_progress_update (NULL, 1, 0, NULL, NULL);
  report_progress_clear (NULL);
  report_progress_free (NULL);
}

/* ---- Main -------------------------------------------------------------- */

static void
remove_tree (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      gchar *path = g_build_filename (dir, name, NULL);

      g_remove (path);
      g_free (path);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("test-report-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);
  examples_dir = g_getenv ("REPORT_EXAMPLES_DIR");
  if (examples_dir && !*examples_dir)
    examples_dir = NULL;

  g_test_add_func ("/report/metrics/round-trip", test_metrics_round_trip);
  g_test_add_func ("/report/metrics/truncated-tail", test_metrics_truncated_tail);
  g_test_add_func ("/report/metrics/bad-input", test_metrics_bad_input);
  g_test_add_func ("/report/metrics/truncate", test_metrics_truncate);
  g_test_add_func ("/report/plot/ticks", test_plot_ticks);
  g_test_add_func ("/report/plot/moving-average", test_moving_average);
  g_test_add_func ("/report/plot/curves", test_plot_curves);
  g_test_add_func ("/report/plot/training-example", test_plot_training_example);
  g_test_add_func ("/report/plot/spike", test_plot_spike);
  g_test_add_func ("/report/plot/from-metrics", test_plot_from_metrics);
  g_test_add_func ("/report/plot/edge-cases", test_plot_edge_cases);
  g_test_add_func ("/report/grid/layout-and-labels", test_grid_layout_and_labels);
  g_test_add_func ("/report/grid/cjk-font", test_grid_cjk_font);
  g_test_add_func ("/report/grid/example", test_grid_example);
  g_test_add_func ("/report/grid/bad-input", test_grid_bad_input);
  g_test_add_func ("/report/threads", test_threads);
  g_test_add_func ("/report/progress/format-duration", test_format_duration);
  g_test_add_func ("/report/progress/format", test_progress_format);
  g_test_add_func ("/report/progress/output", test_progress_output);

  rc = g_test_run ();
  remove_tree (tmp_dir);
  g_free (tmp_dir);
  return rc;
}
