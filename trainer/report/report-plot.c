/* libcocoreport: line plots of training curves.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Matplotlib-like looks on a white canvas: a framed plot area with a light
 * grid at "nice" tick values (1, 2, 5 x 10^k), tick labels, axis labels, a
 * title and a legend in the emptiest corner (or edge middle).  With
 * smoothing, the y range leaves out each series' outliers (beyond three
 * interquartile ranges), so that a few early spikes of an RL loss do not
 * flatten the rest; the raw curve is drawn faintly behind, clipped.
 */
#include <math.h>
#include <string.h>

#include "report-private.h"

#define DEFAULT_WIDTH   900
#define DEFAULT_HEIGHT  540
#define MIN_SIZE        64
#define MAX_SIZE        16384
#define N_TICKS_TARGET  6
#define MARKER_LIMIT    40     /* draw point markers up to this many points */

/* Tableau 10, as in matplotlib: distinct and readable on white. */
static const guint8 palette[10][3] = {
  {  31, 119, 180 }, { 255, 127,  14 }, {  44, 160,  44 }, { 214,  39,  40 },
  { 148, 103, 189 }, { 140,  86,  75 }, { 227, 119, 194 }, { 127, 127, 127 },
  { 188, 189,  34 }, {  23, 190, 207 },
};

void
report_plot_series_color (guint index, guint8 *r, guint8 *g, guint8 *b)
{
  const guint8 *c = palette[index % G_N_ELEMENTS (palette)];

  if (r) *r = c[0];
  if (g) *g = c[1];
  if (b) *b = c[2];
}

static void
set_series_color (cairo_t *cr, guint index, gdouble alpha)
{
  guint8 r, g, b;

  report_plot_series_color (index, &r, &g, &b);
  cairo_set_source_rgba (cr, r / 255.0, g / 255.0, b / 255.0, alpha);
}

/* ---- Numbers ---------------------------------------------------------- */

gdouble
report_nice_step (gdouble range, guint target)
{
  gdouble raw, mag, f;

  if (!isfinite (range) || range <= 0 || target == 0)
    return 1.0;
  raw = range / target;
  mag = pow (10.0, floor (log10 (raw)));
  f = raw / mag;
  if (f < 1.5)
    return mag;
  if (f < 3.0)
    return 2 * mag;
  if (f < 7.0)
    return 5 * mag;
  return 10 * mag;
}

/* Decimals needed to write multiples of `step` exactly (0.25 -> 2). */
static gint
decimals_for (gdouble step)
{
  gint d = 0;

  step = fabs (step);
  while (d < 6)
    {
      gdouble scaled = step * pow (10, d);

      if (fabs (scaled - round (scaled)) <= 1e-6 * scaled)
        break;
      d++;
    }
  return d;
}

gchar *
report_format_tick (gdouble value, gdouble step)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gchar fmt[16];
  gint decimals;

  /* A tick computed as k * step is only near zero; never print "-0" or
   * "1.4e-17". */
  if (fabs (value) < fabs (step) * 1e-6)
    value = 0;
  if (value == 0)
    return g_strdup ("0");

  if (fabs (value) >= 1e7 || fabs (step) < 1e-4)
    {
      /* Scientific: as many digits as the step needs to tell ticks apart. */
      gint digits = (gint) floor (log10 (fabs (value))) - (gint) floor (log10 (fabs (step))) + 1;

      g_snprintf (fmt, sizeof fmt, "%%.%dg", CLAMP (digits, 1, 6));
      return g_strdup (g_ascii_formatd (buf, sizeof buf, fmt, value));
    }
  if (fabs (step) >= 1000 && fabs (value) >= 1e4)
    {
      /* Step axes of long runs: "12k", "2.5M". */
      gboolean mega = fabs (value) >= 1e6 && fabs (step) >= 1e5;
      gdouble unit = mega ? 1e6 : 1e3;

      decimals = decimals_for (step / unit);
      g_snprintf (fmt, sizeof fmt, "%%.%df", decimals);
      g_ascii_formatd (buf, sizeof buf, fmt, value / unit);
      return g_strconcat (buf, mega ? "M" : "k", NULL);
    }
  decimals = decimals_for (step);
  g_snprintf (fmt, sizeof fmt, "%%.%df", decimals);
  return g_strdup (g_ascii_formatd (buf, sizeof buf, fmt, value));
}

void
report_moving_average (const gdouble *y, gsize n, guint window, gdouble *out)
{
  /* An exponential average rather than a box: a box makes a step when a
   * spike leaves the window, which reads like an event in the run. */
  gdouble beta = 1.0 - 2.0 / (window + 1.0);
  gdouble state = 0, weight = 1;

  if (window <= 1)
    {
      memcpy (out, y, n * sizeof *y);
      return;
    }
  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (y[i]))
        {
          out[i] = NAN;
          continue;
        }
      state = beta * state + (1 - beta) * y[i];
      weight *= beta;
      /* Debiased, so that the start is not pulled towards zero. */
      out[i] = state / (1 - weight);
    }
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

/* ---- Data ranges ------------------------------------------------------- */

typedef struct
{
  const gchar *name;
  const gdouble *x;       /* NULL: index */
  const gdouble *y;       /* raw */
  gdouble *smooth;        /* NULL without smoothing */
  gsize n;
} Curve;

static inline gdouble
curve_x (const Curve *c, gsize i)
{
  return c->x ? c->x[i] : (gdouble) i;
}

/* The value drawn as the main line. */
static inline gdouble
curve_y (const Curve *c, gsize i)
{
  return c->smooth ? c->smooth[i] : c->y[i];
}

typedef struct
{
  gdouble  x0, x1, y0, y1;
  gboolean x_integral;    /* all x are whole numbers: steps */
} Range;

/* A range narrower than a few ulps of its values is flat too: a lone
 * point and its smoothed value one ulp apart once made a range of 1e-15
 * whose tick step the axis loops could not step over (a run hung). */
static void
widen_if_flat (gdouble *lo, gdouble *hi)
{
  if (*hi - *lo > 1e-9 * MAX (fabs (*lo), fabs (*hi)))
    return;
  {
    gdouble pad = fabs (*lo) > 0 ? fabs (*lo) * 0.1 : 1.0;

    *lo -= pad;
    *hi += pad;
  }
}

/* With smoothing, values of a series beyond 3 interquartile ranges from
 * its quartiles are outliers the y range ignores (a loss spike of 40 among
 * values near 0.5); the bulk of a trending curve, its start included, stays
 * in view. */
static void
outlier_fences (const Curve *c, gdouble *lo, gdouble *hi)
{
  GArray *v = g_array_new (FALSE, FALSE, sizeof (gdouble));
  gdouble q1, q3;

  *lo = -INFINITY;
  *hi = INFINITY;
  for (gsize i = 0; i < c->n; i++)
    if (isfinite (c->y[i]) && isfinite (curve_x (c, i)))
      g_array_append_val (v, c->y[i]);
  if (v->len >= 8)
    {
      g_array_sort (v, compare_doubles);
      q1 = g_array_index (v, gdouble, (v->len - 1) / 4);
      q3 = g_array_index (v, gdouble, (3 * (v->len - 1) + 3) / 4);
      *lo = q1 - 3 * (q3 - q1);
      *hi = q3 + 3 * (q3 - q1);
    }
  g_array_unref (v);
}

static void
include (gdouble *lo, gdouble *hi, gdouble v)
{
  *lo = MIN (*lo, v);
  *hi = MAX (*hi, v);
}

static Range
data_range (const Curve *curves, gsize n_curves)
{
  Range r = { INFINITY, -INFINITY, INFINITY, -INFINITY, TRUE };
  Range all = r;
  gdouble pad;

  for (gsize k = 0; k < n_curves; k++)
    {
      const Curve *c = &curves[k];
      gdouble lo = -INFINITY, hi = INFINITY;

      if (c->smooth)
        outlier_fences (c, &lo, &hi);
      for (gsize i = 0; i < c->n; i++)
        {
          gdouble x = curve_x (c, i);

          if (!isfinite (x) || !isfinite (c->y[i]))
            continue;
          include (&r.x0, &r.x1, x);
          r.x_integral &= x == floor (x);
          include (&all.y0, &all.y1, c->y[i]);
          if (c->y[i] >= lo && c->y[i] <= hi)
            include (&r.y0, &r.y1, c->y[i]);
          if (c->smooth && isfinite (c->smooth[i]) && c->smooth[i] >= lo && c->smooth[i] <= hi)
            include (&r.y0, &r.y1, c->smooth[i]);
        }
    }
  if (!isfinite (r.x0))
    {
      Range empty = { 0, 1, 0, 1, TRUE };

      return empty;
    }
  if (!isfinite (r.y0))
    {
      r.y0 = all.y0;
      r.y1 = all.y1;
    }

  widen_if_flat (&r.x0, &r.x1);
  widen_if_flat (&r.y0, &r.y1);
  pad = (r.y1 - r.y0) * 0.05;
  r.y0 -= pad;
  r.y1 += pad;
  pad = (r.x1 - r.x0) * 0.02;
  r.x0 -= pad;
  r.x1 += pad;
  return r;
}

/* ---- Layout ------------------------------------------------------------ */

typedef struct
{
  gint    width, height;
  gdouble font;                /* base font size, px */
  gdouble left, right, top, bottom;   /* plot area */
  Range   range;
  gdouble x_step, y_step;
} Layout;

static inline gdouble
map_x (const Layout *l, gdouble x)
{
  return l->left + (x - l->range.x0) / (l->range.x1 - l->range.x0) * (l->right - l->left);
}

static inline gdouble
map_y (const Layout *l, gdouble y)
{
  return l->bottom - (y - l->range.y0) / (l->range.y1 - l->range.y0) * (l->bottom - l->top);
}

/* Loops `v` over the tick values of [lo, hi] at `step` (64 at most, in
 * case a degenerate range slips through).  The count is its own small
 * number: k + 1 == k for a tick index k beyond 2^53. */
#define FOR_EACH_TICK(v, lo, hi, step)                                        \
  for (gdouble v##_k0 = ceil ((lo) / (step) - 1e-9), v##_i = 0,               \
       v = v##_k0 * (step);                                                   \
       v <= (hi) + (step) * 1e-9 && v##_i < 64;                               \
       v##_i += 1, v = (v##_k0 + v##_i) * (step))

static gdouble
widest_y_tick (cairo_t *cr, const Layout *l)
{
  gdouble widest = 0;

  report_text_select_font (cr, "0", l->font, FALSE);
  FOR_EACH_TICK (v, l->range.y0, l->range.y1, l->y_step)
    {
      gchar *label = report_format_tick (v, l->y_step);

      widest = MAX (widest, report_text_width (cr, label));
      g_free (label);
    }
  return widest;
}

static void
compute_layout (cairo_t *cr, Layout *l, const gchar *title,
                const gchar *x_label, const gchar *y_label)
{
  gdouble pad = l->font * 0.8;

  l->y_step = report_nice_step (l->range.y1 - l->range.y0, N_TICKS_TARGET);
  l->x_step = report_nice_step (l->range.x1 - l->range.x0, N_TICKS_TARGET);
  /* No "step 1.5" on an axis of whole steps. */
  if (l->range.x_integral)
    l->x_step = MAX (l->x_step, 1);

  l->top = pad + (title && *title ? l->font * 2.2 : 0);
  l->bottom = l->height - pad - l->font * 1.6 - (x_label && *x_label ? l->font * 1.5 : 0);
  l->left = pad + widest_y_tick (cr, l) + l->font * 0.6
            + (y_label && *y_label ? l->font * 1.6 : 0);
  l->right = l->width - pad * 1.5;
}

/* ---- Drawing ----------------------------------------------------------- */

static void
draw_axes (cairo_t *cr, const Layout *l)
{
  gdouble tick = l->font * 0.35;

  /* Grid first, so that curves and the frame lie on top. */
  cairo_set_line_width (cr, 1);
  cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
  FOR_EACH_TICK (v, l->range.x0, l->range.x1, l->x_step)
    {
      gdouble px = floor (map_x (l, v)) + 0.5;

      cairo_move_to (cr, px, l->top);
      cairo_line_to (cr, px, l->bottom);
    }
  FOR_EACH_TICK (v, l->range.y0, l->range.y1, l->y_step)
    {
      gdouble py = floor (map_y (l, v)) + 0.5;

      cairo_move_to (cr, l->left, py);
      cairo_line_to (cr, l->right, py);
    }
  cairo_stroke (cr);

  cairo_set_source_rgb (cr, 0.15, 0.15, 0.15);
  FOR_EACH_TICK (v, l->range.x0, l->range.x1, l->x_step)
    {
      gdouble px = floor (map_x (l, v)) + 0.5;
      gchar *label = report_format_tick (v, l->x_step);

      cairo_move_to (cr, px, l->bottom);
      cairo_line_to (cr, px, l->bottom + tick);
      cairo_stroke (cr);
      report_draw_text (cr, label, px, l->bottom + tick * 1.5, l->font, FALSE, 0.5, 0);
      g_free (label);
    }
  FOR_EACH_TICK (v, l->range.y0, l->range.y1, l->y_step)
    {
      gdouble py = floor (map_y (l, v)) + 0.5;
      gchar *label = report_format_tick (v, l->y_step);

      cairo_move_to (cr, l->left - tick, py);
      cairo_line_to (cr, l->left, py);
      cairo_stroke (cr);
      report_draw_text (cr, label, l->left - tick * 1.8, py, l->font, FALSE, 1, 0.5);
      g_free (label);
    }
  cairo_rectangle (cr, floor (l->left) + 0.5, floor (l->top) + 0.5,
                   floor (l->right) - floor (l->left), floor (l->bottom) - floor (l->top));
  cairo_stroke (cr);
}

static void
draw_labels (cairo_t *cr, const Layout *l, const gchar *title,
             const gchar *x_label, const gchar *y_label)
{
  gdouble pad = l->font * 0.8;

  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  if (title && *title)
    report_draw_text (cr, title, (l->left + l->right) / 2, pad * 0.8,
                      l->font * 1.25, TRUE, 0.5, 0);
  if (x_label && *x_label)
    report_draw_text (cr, x_label, (l->left + l->right) / 2,
                      l->height - pad * 0.6, l->font, FALSE, 0.5, 1);
  if (y_label && *y_label)
    {
      cairo_save (cr);
      cairo_translate (cr, pad * 0.6, (l->top + l->bottom) / 2);
      cairo_rotate (cr, -G_PI / 2);
      report_draw_text (cr, y_label, 0, 0, l->font, FALSE, 0.5, 0);
      cairo_restore (cr);
    }
}

/* Points reach cairo through a filter per pixel column: of the points in
 * one column only the first, the lowest, the highest and the last are
 * drawn, in their order.  The picture is the same (the envelope of noisy
 * data is kept) and a run of 200 000 steps strokes in a fraction of the
 * time. */
typedef struct
{
  gdouble x, y;
  gsize   i;
} Point;

typedef struct
{
  cairo_t *cr;
  gdouble  width;
  gsize    run;             /* points drawn in the current unbroken line */
  Point    drawn;           /* the last point drawn */
  gboolean bucket_used;
  gdouble  column;
  Point    first, low, high, last;
} Pen;

static void
pen_emit (Pen *pen, const Point *p)
{
  if (pen->run > 0 && p->i == pen->drawn.i)
    return;
  if (pen->run++ == 0)
    cairo_move_to (pen->cr, p->x, p->y);
  else
    cairo_line_to (pen->cr, p->x, p->y);
  pen->drawn = *p;
}

static void
pen_flush_bucket (Pen *pen)
{
  const Point *order[4] = { &pen->first, &pen->low, &pen->high, &pen->last };

  if (!pen->bucket_used)
    return;
  /* first <= low, high <= last by index; put low and high in order. */
  if (pen->high.i < pen->low.i)
    {
      order[1] = &pen->high;
      order[2] = &pen->low;
    }
  for (guint k = 0; k < 4; k++)
    pen_emit (pen, order[k]);
  pen->bucket_used = FALSE;
}

static void
pen_add (Pen *pen, gdouble x, gdouble y, gsize i)
{
  Point p = { x, y, i };
  gdouble column = floor (x);

  if (pen->bucket_used && column != pen->column)
    pen_flush_bucket (pen);
  if (!pen->bucket_used)
    {
      pen->bucket_used = TRUE;
      pen->column = column;
      pen->first = pen->low = pen->high = pen->last = p;
      return;
    }
  if (y < pen->low.y)
    pen->low = p;
  if (y > pen->high.y)
    pen->high = p;
  pen->last = p;
}

/* Ends the current line: a stroke, or a dot for a point with no finite
 * neighbour, so that it shows. */
static void
pen_break (Pen *pen)
{
  pen_flush_bucket (pen);
  if (pen->run == 1)
    {
      cairo_new_path (pen->cr);
      cairo_arc (pen->cr, pen->drawn.x, pen->drawn.y, pen->width * 1.2, 0, 2 * G_PI);
      cairo_fill (pen->cr);
    }
  else if (pen->run > 1)
    {
      cairo_stroke (pen->cr);
    }
  pen->run = 0;
}

/* Strokes one polyline through the finite points of (x, values), broken
 * at gaps. */
static void
draw_polyline (cairo_t *cr, const Layout *l, const Curve *c,
               const gdouble *values, gdouble width, gboolean markers)
{
  Pen pen = { .cr = cr, .width = width };

  cairo_set_line_width (cr, width);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (gsize i = 0; i < c->n; i++)
    {
      gdouble x = curve_x (c, i);

      if (isfinite (x) && isfinite (values[i]))
        pen_add (&pen, map_x (l, x), map_y (l, values[i]), i);
      else
        pen_break (&pen);
    }
  pen_break (&pen);
  if (markers)
    for (gsize i = 0; i < c->n; i++)
      if (isfinite (curve_x (c, i)) && isfinite (values[i]))
        {
          cairo_new_sub_path (cr);
          cairo_arc (cr, map_x (l, curve_x (c, i)), map_y (l, values[i]), width * 1.3, 0, 2 * G_PI);
          cairo_fill (cr);
        }
}

static void
draw_curves (cairo_t *cr, const Layout *l, const Curve *curves, gsize n_curves)
{
  gdouble width = MAX (2.0, l->height / 270.0);

  cairo_save (cr);
  cairo_rectangle (cr, l->left, l->top, l->right - l->left, l->bottom - l->top);
  cairo_clip (cr);
  /* All faint raw curves below all smoothed ones. */
  for (gsize k = 0; k < n_curves; k++)
    if (curves[k].smooth)
      {
        set_series_color (cr, k, 0.25);
        draw_polyline (cr, l, &curves[k], curves[k].y, width * 0.6, FALSE);
      }
  for (gsize k = 0; k < n_curves; k++)
    {
      set_series_color (cr, k, 1.0);
      draw_polyline (cr, l, &curves[k], curves[k].smooth ? curves[k].smooth : curves[k].y,
                     width, curves[k].n <= MARKER_LIMIT);
    }
  cairo_restore (cr);
}

/* How many drawn points fall in the box; the legend goes where this is
 * least. */
static gsize
points_under (const Layout *l, const Curve *curves, gsize n_curves,
              gdouble x0, gdouble y0, gdouble w, gdouble h)
{
  gsize hits = 0;

  for (gsize k = 0; k < n_curves; k++)
    for (gsize i = 0; i < curves[k].n; i++)
      {
        gdouble px = map_x (l, curve_x (&curves[k], i));
        gdouble py = map_y (l, curve_y (&curves[k], i));

        if (px >= x0 && px <= x0 + w && py >= y0 && py <= y0 + h)
          hits++;
      }
  return hits;
}

static void
draw_legend (cairo_t *cr, const Layout *l, const Curve *curves, gsize n_curves)
{
  static const gdouble places[][2] = {
    { 1, 0 }, { 0, 0 }, { 1, 1 }, { 0, 1 },
    { 0.5, 0 }, { 0.5, 1 }, { 1, 0.5 }, { 0, 0.5 },
  };
  gdouble font = l->font * 0.95;
  gdouble line_h = font * 1.45;
  gdouble swatch = font * 1.8;
  gdouble inset = font * 0.6;
  gdouble text_w = 0, box_w, box_h, best_x = 0, best_y = 0;
  gsize best = G_MAXSIZE;
  gchar **names = g_new0 (gchar *, n_curves + 1);

  for (gsize k = 0; k < n_curves; k++)
    {
      names[k] = curves[k].name && *curves[k].name
                 ? report_text_sanitize (curves[k].name)
                 : g_strdup_printf ("series %" G_GSIZE_FORMAT, k + 1);
      report_text_select_font (cr, names[k], font, FALSE);
      text_w = MAX (text_w, report_text_width (cr, names[k]));
    }
  box_w = inset * 2 + swatch + font * 0.5 + text_w;
  box_h = inset * 1.4 + line_h * n_curves;

  /* Corners first, then the middles of the edges; on ties the earlier
   * place wins, top right the usual one. */
  for (guint place = 0; place < G_N_ELEMENTS (places); place++)
    {
      gdouble x = l->left + inset + places[place][0] * (l->right - l->left - 2 * inset - box_w);
      gdouble y = l->top + inset + places[place][1] * (l->bottom - l->top - 2 * inset - box_h);
      gsize hits = points_under (l, curves, n_curves, x, y, box_w, box_h);

      if (hits < best)
        {
          best = hits;
          best_x = x;
          best_y = y;
        }
    }

  cairo_rectangle (cr, floor (best_x) + 0.5, floor (best_y) + 0.5, ceil (box_w), ceil (box_h));
  cairo_set_source_rgba (cr, 1, 1, 1, 0.85);
  cairo_fill_preserve (cr);
  cairo_set_source_rgb (cr, 0.8, 0.8, 0.8);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);
  for (gsize k = 0; k < n_curves; k++)
    {
      gdouble cy = best_y + inset * 0.7 + line_h * (k + 0.5);

      /* A pixel-aligned bar, so that the exact series colour shows. */
      set_series_color (cr, k, 1.0);
      cairo_rectangle (cr, floor (best_x + inset), floor (cy) - 1, floor (swatch), 3);
      cairo_fill (cr);
      cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
      report_draw_text (cr, names[k], best_x + inset + swatch + font * 0.5, cy, font, FALSE, 0, 0.5);
    }
  g_strfreev (names);
}

/* ---- Entry points ------------------------------------------------------ */

static gboolean
check_plot_args (const gchar *png_path, const ReportSeries *series, gsize n_series,
                 gint width, gint height, GError **error)
{
  if (png_path == NULL || *png_path == '\0')
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "plot: no PNG path given");
      return FALSE;
    }
  if (n_series == 0 || series == NULL)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "%s: no series to plot", png_path);
      return FALSE;
    }
  if (width < MIN_SIZE || height < MIN_SIZE || width > MAX_SIZE || height > MAX_SIZE)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: plot size %d x %d is outside %d..%d", png_path, width, height,
                   MIN_SIZE, MAX_SIZE);
      return FALSE;
    }
  for (gsize k = 0; k < n_series; k++)
    if (series[k].n > 0 && series[k].y == NULL)
      {
        g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                     "%s: series %" G_GSIZE_FORMAT " has %" G_GSIZE_FORMAT " points but no values",
                     png_path, k, series[k].n);
        return FALSE;
      }
  return TRUE;
}

gboolean
report_plot_curves (const gchar *png_path, const gchar *title,
                    const ReportSeries *series, gsize n_series,
                    const ReportPlotOptions *options, GError **error)
{
  ReportPlotOptions defaults = { 0 };
  const ReportPlotOptions *o = options ? options : &defaults;
  gint width = o->width > 0 ? o->width : DEFAULT_WIDTH;
  gint height = o->height > 0 ? o->height : DEFAULT_HEIGHT;
  const gchar *x_label = o->x_label ? o->x_label : "step";
  cairo_surface_t *surface;
  cairo_t *cr;
  Curve *curves;
  Layout l = { 0 };
  gboolean ok;

  if (!check_plot_args (png_path, series, n_series, width, height, error))
    return FALSE;

  curves = g_new0 (Curve, n_series);
  for (gsize k = 0; k < n_series; k++)
    {
      curves[k].name = series[k].name;
      curves[k].x = series[k].x;
      curves[k].y = series[k].y;
      curves[k].n = series[k].n;
      if (o->smooth_window > 1 && series[k].n > 0)
        {
          curves[k].smooth = g_new (gdouble, series[k].n);
          report_moving_average (series[k].y, series[k].n, o->smooth_window, curves[k].smooth);
        }
    }

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);

  l.width = width;
  l.height = height;
  l.font = CLAMP (MIN (width, height) / 38.0, 8.0, 28.0);
  l.range = data_range (curves, n_series);
  compute_layout (cr, &l, title, x_label, o->y_label);
  if (l.right - l.left < 8 || l.bottom - l.top < 8)
    {
      /* Too small for labels: use the whole canvas for the curves. */
      l.left = l.top = 2;
      l.right = width - 2;
      l.bottom = height - 2;
    }
  else
    {
      draw_axes (cr, &l);
      draw_labels (cr, &l, title, x_label, o->y_label);
    }
  draw_curves (cr, &l, curves, n_series);
  draw_legend (cr, &l, curves, n_series);

  ok = !report_check_cairo (cairo_status (cr), png_path, error)
       && report_write_png_atomic (surface, png_path, error);

  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  for (gsize k = 0; k < n_series; k++)
    g_free (curves[k].smooth);
  g_free (curves);
  return ok;
}

gboolean
report_plot_metrics (const gchar *png_path, const gchar *title,
                     ReportMetrics *metrics, const gchar *const *keys,
                     gsize n_keys, const ReportPlotOptions *options,
                     GError **error)
{
  ReportSeries *series;
  gsize n = 0;
  gboolean ok;

  if (metrics == NULL || keys == NULL)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: no metrics or keys to plot", png_path ? png_path : "plot");
      return FALSE;
    }
  series = g_new0 (ReportSeries, MAX (n_keys, 1));
  for (gsize i = 0; i < n_keys; i++)
    if (keys[i] && report_metrics_get_series (metrics, keys[i], &series[n]))
      n++;
  if (n == 0)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: the metrics log has none of the requested keys",
                   png_path ? png_path : "plot");
      g_free (series);
      return FALSE;
    }
  ok = report_plot_curves (png_path, title, series, n, options, error);
  g_free (series);
  return ok;
}
