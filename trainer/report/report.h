/* libcocoreport: the trainer's reporting pieces — metrics log, curve plots,
 * sample grids and the progress line.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain C (GLib, json-glib, cairo, fontconfig), independent of libtorch, so
 * that it can be tested and reused without it; callable from C++.
 *
 * Metrics log: metrics.jsonl holds one JSON object per line,
 *   {"step": 120, "time": 1795000000.25, "loss": 0.0123, "reward/mean": 3.4}
 * "step" (an integer) and "time" (seconds since the Unix epoch, when the line
 * was written) are always present; every other member is a number, or null
 * for NaN/±Inf (which JSON cannot hold).  Each line is written with a single
 * write() and no buffering, so a killed run leaves at most a truncated last
 * line, which the reader skips and the writer removes before appending.
 *
 * PNG files (plots, grids) and rewritten logs are written atomically: to a
 * temporary file in the same directory, then renamed over the target, so a
 * reader never sees half a file and a failed write leaves the old one.
 *
 * Every function reports failures through GError (domain REPORT_ERROR, or
 * G_FILE_ERROR for files that cannot be opened or written) and never aborts
 * on bad input.  The functions keep no global state of their own (fontconfig
 * and cairo are thread-safe), so plots and grids may be drawn on a
 * background thread while training goes on; a ReportMetricsLog,
 * ReportMetrics or ReportProgress is used by one thread at a time.
 */
#ifndef COCO_REPORT_H
#define COCO_REPORT_H

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

#define REPORT_ERROR (report_error_quark ())
GQuark report_error_quark (void);

typedef enum
{
  REPORT_ERROR_IO,        /* a file could not be written                 */
  REPORT_ERROR_FORMAT,    /* a metrics file is malformed                 */
  REPORT_ERROR_INVALID,   /* an argument is invalid                      */
  REPORT_ERROR_DRAW       /* cairo failed (out of memory, bad size)      */
} ReportError;


/* ---- Metrics log (writing) ------------------------------------------- */

typedef struct _ReportMetricsLog ReportMetricsLog;

/* Opens `path` for appending, creating it (and not its directory) when
 * missing.  A truncated last line left by a killed run is cut off first, so
 * that the next record starts on a line of its own.  With `truncate` TRUE the
 * file is emptied instead (a fresh run). */
ReportMetricsLog *report_metrics_log_open   (const gchar       *path,
                                             gboolean           truncate,
                                             GError           **error);

/* Appends {"step": step, "time": now, keys[i]: values[i], ...} as one line.
 * Keys must be non-empty UTF-8, distinct, and neither "step" nor "time". */
gboolean          report_metrics_log_append (ReportMetricsLog  *log,
                                             gint64             step,
                                             gsize              n_values,
                                             const gchar *const *keys,
                                             const gdouble     *values,
                                             GError           **error);

/* Closes the file; NULL is ignored. */
void              report_metrics_log_close  (ReportMetricsLog  *log);


/* ---- Series and metrics (reading) ------------------------------------ */

/* One named curve: n points (x[i], y[i]).  A NULL x means x[i] = i.  NaN and
 * ±Inf values of y (or x) are gaps: the line is broken there.  The struct
 * does not own its arrays. */
typedef struct
{
  const gchar   *name;
  const gdouble *x;
  const gdouble *y;
  gsize          n;
} ReportSeries;

typedef struct _ReportMetrics ReportMetrics;

/* Reads a metrics.jsonl.  A last line that is not a complete JSON object (a
 * killed run) is skipped and counted; a malformed line anywhere else, or a
 * record without an integer "step", is a REPORT_ERROR_FORMAT naming the
 * line.  Empty lines are ignored. */
ReportMetrics      *report_metrics_load           (const gchar    *path,
                                                   GError        **error);
void                report_metrics_free           (ReportMetrics  *metrics);

/* Number of records read, and of lines skipped (0 or 1: a truncated tail). */
gsize               report_metrics_get_n_records  (ReportMetrics  *metrics);
gsize               report_metrics_get_n_skipped  (ReportMetrics  *metrics);

/* Largest step read; -1 when there are no records. */
gint64              report_metrics_get_last_step  (ReportMetrics  *metrics);

/* Metric names (not "step", not "time") in the order first seen; NULL
 * terminated, owned by `metrics`.  n_keys may be NULL. */
const gchar *const *report_metrics_get_keys       (ReportMetrics  *metrics,
                                                   gsize          *n_keys);

/* Fills `series` with the points of `key`: x = step, y = value (NaN where
 * the value was null), only for records that have the key, in file order.
 * The arrays belong to `metrics`.  Returns FALSE when no record has `key`.
 * "time" is also available as a series (wall-clock seconds per step). */
gboolean            report_metrics_get_series     (ReportMetrics  *metrics,
                                                   const gchar    *key,
                                                   ReportSeries   *series);

/* For --resume: drops every record with step > last_step (and a truncated
 * tail) from the file at `path`, keeping the other lines byte for byte;
 * rewrites atomically.  Returns the number of records dropped in *n_dropped
 * (may be NULL).  A missing file is a G_FILE_ERROR_NOENT error. */
gboolean            report_metrics_truncate       (const gchar    *path,
                                                   gint64          last_step,
                                                   gsize          *n_dropped,
                                                   GError        **error);


/* ---- Curve plots ----------------------------------------------------- */

typedef struct
{
  gint         width;          /* PNG size in pixels; 0: 900 x 540       */
  gint         height;
  const gchar *x_label;        /* NULL: "step"; "" for none              */
  const gchar *y_label;        /* NULL or "": none                       */
  guint        smooth_window;  /* exponential moving average with a span
                                * of this many points (alpha = 2 / (w+1),
                                * debiased at the start); 0 or 1: none.
                                * With smoothing the raw curve is drawn
                                * faintly behind and the y range leaves
                                * out outliers (beyond 3 interquartile
                                * ranges of their series: spikes).      */
} ReportPlotOptions;

/* Draws the series as lines (x: step, y: value) with axes, grid, ticks,
 * a legend and the title, and writes a PNG atomically.  Series are coloured
 * in order from report_plot_series_color().  A series with no finite point
 * still gets its legend entry.  options may be NULL. */
gboolean report_plot_curves        (const gchar             *png_path,
                                    const gchar             *title,
                                    const ReportSeries      *series,
                                    gsize                    n_series,
                                    const ReportPlotOptions *options,
                                    GError                 **error);

/* Convenience: plots the named keys of a loaded metrics log.  Keys the log
 * does not have are left out; if none is found, REPORT_ERROR_INVALID. */
gboolean report_plot_metrics       (const gchar             *png_path,
                                    const gchar             *title,
                                    ReportMetrics           *metrics,
                                    const gchar *const      *keys,
                                    gsize                    n_keys,
                                    const ReportPlotOptions *options,
                                    GError                 **error);

/* The colour of series `index` (the palette repeats after 10), 0-255. */
void     report_plot_series_color  (guint                    index,
                                    guint8                  *r,
                                    guint8                  *g,
                                    guint8                  *b);


/* ---- Sample grid ----------------------------------------------------- */

/* An 8-bit image: channels 3 (RGB) or 1 (grey, e.g. a mask), rows of
 * `rowstride` bytes (0: width * channels).  pixels NULL: an empty cell. */
typedef struct
{
  const guint8 *pixels;
  gint          width;
  gint          height;
  gint          channels;
  gint          rowstride;
} ReportImage;

typedef struct
{
  gint         cell_size;   /* cells are cell_size square; 0: 256       */
  const gchar *title;       /* NULL: no title strip                     */
} ReportGridOptions;

/* Draws rows x cols images, each scaled (aspect kept) to fit its cell,
 * into a PNG written atomically.  cells[r * cols + c].  row_labels (rows
 * entries, or NULL) are drawn in a strip above each row, wrapped to at most
 * two lines; col_labels (cols entries, or NULL) in a header strip.  Labels
 * are UTF-8 in any script fontconfig has a font for (CJK included); NULL
 * entries are blank.  options may be NULL. */
gboolean report_grid_png           (const gchar             *png_path,
                                    guint                    rows,
                                    guint                    cols,
                                    const ReportImage       *cells,
                                    const gchar *const      *row_labels,
                                    const gchar *const      *col_labels,
                                    const ReportGridOptions *options,
                                    GError                 **error);


/* ---- Progress line --------------------------------------------------- */

typedef struct _ReportProgress ReportProgress;

/* A progress line for steps start_step+1 .. total on stderr.  On a
 * terminal it is redrawn in place (at most 10 times a second, and at the
 * last step); elsewhere a plain line is printed every `plain_every` steps
 * (0: never) and at the last step.  `label` (may be NULL) prefixes it. */
ReportProgress *report_progress_new        (const gchar        *label,
                                            gint64              total,
                                            gint64              start_step,
                                            guint               plain_every);

/* Redirects output, for tests and log files: `is_terminal` chooses the
 * in-place mode.  The stream is not closed. */
void            report_progress_set_output (ReportProgress     *progress,
                                            FILE               *stream,
                                            gboolean            is_terminal);

/* Reports that `step` is done, with a few metrics shown as key=value. */
void            report_progress_update     (ReportProgress     *progress,
                                            gint64              step,
                                            gsize               n_values,
                                            const gchar *const *keys,
                                            const gdouble      *values);

/* Erases the in-place line (terminal mode) so that a log message can be
 * printed; the next update draws it again. */
void            report_progress_clear      (ReportProgress     *progress);

/* Ends the line (terminal mode) and frees; NULL is ignored. */
void            report_progress_free       (ReportProgress     *progress);

/* The line itself, without terminal control codes: e.g.
 *   "rl 1200/5000  24.0%  2.31 it/s  ETA 27:25  loss=0.0123 reward=3.41"
 * `rate` in steps per second (<= 0 or NaN: unknown); slow rates print as
 * "s/it".  Newly allocated. */
gchar          *report_progress_format     (const gchar        *label,
                                            gint64              step,
                                            gint64              total,
                                            gdouble             rate,
                                            gsize               n_values,
                                            const gchar *const *keys,
                                            const gdouble      *values);

/* "H:MM:SS" from one hour on, "M:SS" below (3725 -> "1:02:05",
 * 65 -> "1:05"), rounded to the nearest second; "?" for negative, NaN or
 * infinite durations.  Newly allocated. */
gchar          *report_format_duration     (gdouble             seconds);

G_END_DECLS

#endif /* COCO_REPORT_H */
