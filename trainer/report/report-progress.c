/* libcocoreport: the progress line.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * On a terminal the line is redrawn in place with "\r...\033[K" and cut to
 * the terminal's width, since a wrapped line can no longer be overwritten.
 * In a log file (a batch job, `2> log`) the carriage returns would pile up
 * into one huge line, so there it prints ordinary lines now and then.
 *
 * The rate counts only the steps done since this process started, so that
 * a resumed run does not claim the steps of the run before it.
 */
#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "report-private.h"

#define REDRAW_INTERVAL_US (G_USEC_PER_SEC / 10)

struct _ReportProgress
{
  gchar   *label;
  gint64   total;
  gint64   start_step;
  guint    plain_every;
  FILE    *stream;
  gboolean terminal;
  gint64   start_time;     /* monotonic, µs */
  gint64   last_draw;      /* monotonic, µs; 0: never */
  gboolean line_shown;     /* an unfinished in-place line is on screen */
};

gchar *
report_format_duration (gdouble seconds)
{
  gint64 s, h, m;

  if (!isfinite (seconds) || seconds < 0 || seconds > 1e12)
    return g_strdup ("?");
  s = (gint64) llround (seconds);
  h = s / 3600;
  m = (s / 60) % 60;
  s %= 60;
  if (h > 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", h, (gint) m, (gint) s);
  return g_strdup_printf ("%d:%02d", (gint) m, (gint) s);
}

static void
append_rate (GString *line, gdouble rate)
{
  if (!isfinite (rate) || rate <= 0)
    g_string_append (line, "? it/s");
  else if (rate >= 1)
    g_string_append_printf (line, "%.2f it/s", rate);
  else
    g_string_append_printf (line, "%.2f s/it", 1 / rate);   /* RL steps take long */
}

gchar *
report_progress_format (const gchar *label, gint64 step, gint64 total, gdouble rate,
                        gsize n_values, const gchar *const *keys, const gdouble *values)
{
  GString *line = g_string_new (NULL);

  if (label && *label)
    g_string_append_printf (line, "%s ", label);
  if (total > 0)
    {
      gchar *eta = report_format_duration (isfinite (rate) && rate > 0
                                           ? MAX (0, total - step) / rate : NAN);

      g_string_append_printf (line, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "  %5.1f%%  ",
                              step, total, 100.0 * CLAMP ((gdouble) step / total, 0, 1));
      append_rate (line, rate);
      g_string_append_printf (line, "  ETA %s", eta);
      g_free (eta);
    }
  else
    {
      g_string_append_printf (line, "%" G_GINT64_FORMAT "  ", step);
      append_rate (line, rate);
    }
  if (n_values > 0 && keys && values)
    {
      g_string_append (line, " ");
      for (gsize i = 0; i < n_values; i++)
        if (keys[i])
          g_string_append_printf (line, " %s=%.4g", keys[i], values[i]);
    }
  return g_string_free (line, FALSE);
}

ReportProgress *
report_progress_new (const gchar *label, gint64 total, gint64 start_step, guint plain_every)
{
  ReportProgress *p = g_new0 (ReportProgress, 1);

  p->label = g_strdup (label);
  p->total = total;
  p->start_step = start_step;
  p->plain_every = plain_every;
  p->stream = stderr;
  p->terminal = isatty (STDERR_FILENO);
  p->start_time = g_get_monotonic_time ();
  return p;
}

void
report_progress_set_output (ReportProgress *progress, FILE *stream, gboolean is_terminal)
{
  if (progress == NULL || stream == NULL)
    return;
  progress->stream = stream;
  progress->terminal = is_terminal;
}

/* Columns of the terminal, or 0 when unknown (not a tty, or redirected for
 * a test). */
static gint
terminal_columns (FILE *stream)
{
  struct winsize ws;

  if (ioctl (fileno (stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  return 0;
}

static void
draw_in_place (ReportProgress *p, const gchar *line)
{
  gint columns = terminal_columns (p->stream);
  glong len = g_utf8_strlen (line, -1);

  fputc ('\r', p->stream);
  if (columns > 1 && len >= columns)
    {
      /* One column is left free: writing the last one wraps on some
       * terminals. */
      const gchar *end = g_utf8_offset_to_pointer (line, columns - 1);

      fwrite (line, 1, end - line, p->stream);
    }
  else
    {
      fputs (line, p->stream);
    }
  fputs ("\033[K", p->stream);
  fflush (p->stream);
  p->line_shown = TRUE;
}

void
report_progress_update (ReportProgress *progress, gint64 step, gsize n_values,
                        const gchar *const *keys, const gdouble *values)
{
  gint64 now;
  gboolean last;
  gdouble elapsed, rate;
  gchar *line;

  if (progress == NULL)
    return;
  now = g_get_monotonic_time ();
  last = progress->total > 0 && step >= progress->total;
  if (progress->terminal)
    {
      if (!last && progress->last_draw != 0
          && now - progress->last_draw < REDRAW_INTERVAL_US)
        return;
    }
  else if (!last && (progress->plain_every == 0 || step % progress->plain_every != 0))
    {
      return;
    }

  elapsed = (now - progress->start_time) / (gdouble) G_USEC_PER_SEC;
  rate = elapsed > 0 && step > progress->start_step
         ? (step - progress->start_step) / elapsed : NAN;
  line = report_progress_format (progress->label, step, progress->total, rate,
                                 n_values, keys, values);
  if (progress->terminal)
    {
      draw_in_place (progress, line);
    }
  else
    {
      fprintf (progress->stream, "%s\n", line);
      fflush (progress->stream);
    }
  progress->last_draw = now;
  g_free (line);
}

void
report_progress_clear (ReportProgress *progress)
{
  if (progress == NULL || !progress->terminal || !progress->line_shown)
    return;
  fputs ("\r\033[K", progress->stream);
  fflush (progress->stream);
  progress->line_shown = FALSE;
  /* Draw again at the next update, however soon it comes. */
  progress->last_draw = 0;
}

void
report_progress_free (ReportProgress *progress)
{
  if (progress == NULL)
    return;
  if (progress->terminal && progress->line_shown)
    {
      fputc ('\n', progress->stream);
      fflush (progress->stream);
    }
  g_free (progress->label);
  g_free (progress);
}
