/* libcocoreport: helpers shared between the report modules (and the tests).
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef COCO_REPORT_PRIVATE_H
#define COCO_REPORT_PRIVATE_H

#include <cairo.h>

#include "report.h"

G_BEGIN_DECLS

/* Writes `surface` as a PNG to `path` atomically (temporary file, rename). */
gboolean  report_write_png_atomic (cairo_surface_t *surface,
                                   const gchar     *path,
                                   GError         **error);

/* Sets a cairo error as a GError; TRUE when there was one. */
gboolean  report_check_cairo      (cairo_status_t   status,
                                   const gchar     *what,
                                   GError         **error);

/* A copy of `text` that cairo can show: valid UTF-8 (invalid bytes become
 * U+FFFD) with control characters (newlines, tabs) turned into spaces. */
gchar    *report_text_sanitize    (const gchar     *text);

/* Selects, at `size` pixels, a font that has glyphs for the characters of
 * `text` (a sans-serif face when one covers them all; fontconfig chooses,
 * so that Chinese and Japanese labels get a CJK font).  `text` must be
 * sanitized. */
void      report_text_select_font (cairo_t         *cr,
                                   const gchar     *text,
                                   gdouble          size,
                                   gboolean         bold);

/* Width in pixels of `text` in the current font. */
gdouble   report_text_width       (cairo_t         *cr,
                                   const gchar     *text);

/* Draws `text` (any UTF-8; sanitized here) with its ink box anchored at
 * (x, y): align_x 0 = left edge at x, 0.5 = centred, 1 = right edge; the
 * baseline is placed so that align_y 0 puts the font's ascent at y, 0.5
 * centres the line on y, 1 puts the descent at y.  Returns the advance
 * width. */
gdouble   report_draw_text        (cairo_t         *cr,
                                   const gchar     *text,
                                   gdouble          x,
                                   gdouble          y,
                                   gdouble          size,
                                   gboolean         bold,
                                   gdouble          align_x,
                                   gdouble          align_y);

/* Plot axes: a "nice" tick spacing (1, 2 or 5 times a power of ten) giving
 * about `target` intervals over `range`, and the label of a tick at
 * `value` for that spacing ("0.25", "1500", "12k", "1e-05"). */
gdouble   report_nice_step        (gdouble          range,
                                   guint            target);
gchar    *report_format_tick      (gdouble          value,
                                   gdouble          step);

/* Exponential moving average with the span of `window` points
 * (alpha = 2 / (window + 1)), debiased at the start as TensorBoard does;
 * non-finite inputs are skipped and stay gaps (NaN) in the output.
 * window <= 1 copies y. */
void      report_moving_average   (const gdouble   *y,
                                   gsize            n,
                                   guint            window,
                                   gdouble         *out);

G_END_DECLS

#endif /* COCO_REPORT_PRIVATE_H */
