/* libcocoreport: grids of sample images with row and column labels.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layout, top to bottom: an optional title strip, a header strip with the
 * column labels, then for each row a label strip (the instruction, wrapped
 * to two lines at most, ellipsised beyond) above a row of square cells.
 * The label goes above its row rather than to the left because
 * instructions are sentences: across the full width they stay readable.
 *
 * Images keep their aspect ratio and are centred in their cell on a grey
 * letterbox.  Upscaling by two or more uses nearest-neighbour sampling, so
 * that a small model's 64 x 64 outputs show their real pixels.
 */
#include <math.h>
#include <string.h>

#include "report-private.h"

#define DEFAULT_CELL   256
#define MAX_CELL       4096
#define MAX_IMAGE_SIDE 32768
#define MAX_CANVAS     32767   /* cairo's limit */
#define MAX_LABEL_LINES 2

typedef struct
{
  gint    cell, gap;
  gdouble font, line_h;
  gint    title_h, header_h, label_h;
  gint    width, height;
} GridLayout;

/* ---- Arguments --------------------------------------------------------- */

static gboolean
check_image (const ReportImage *im, guint index, const gchar *path, GError **error)
{
  gint channels = im->channels ? im->channels : 3;

  if (im->pixels == NULL)
    return TRUE;
  if (channels != 1 && channels != 3 && channels != 4)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: cell %u has %d channels (1, 3 or 4 expected)", path, index, channels);
      return FALSE;
    }
  if (im->width <= 0 || im->height <= 0
      || im->width > MAX_IMAGE_SIDE || im->height > MAX_IMAGE_SIDE)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: cell %u has an invalid size %d x %d", path, index, im->width, im->height);
      return FALSE;
    }
  if (im->rowstride != 0 && im->rowstride < im->width * channels)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: cell %u has a row stride of %d bytes, less than %d x %d",
                   path, index, im->rowstride, im->width, channels);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_grid_args (const gchar *path, guint rows, guint cols, const ReportImage *cells,
                 gint cell, GError **error)
{
  if (path == NULL || *path == '\0')
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "grid: no PNG path given");
      return FALSE;
    }
  if (rows == 0 || cols == 0 || cells == NULL)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: a grid needs at least one row, one column and its cells", path);
      return FALSE;
    }
  if (cell < 8 || cell > MAX_CELL)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: cell size %d is outside 8..%d", path, cell, MAX_CELL);
      return FALSE;
    }
  if ((gint64) cols * (cell + cell / 32 + 2) > MAX_CANVAS
      || (gint64) rows * (cell * 3 / 2 + 2) > MAX_CANVAS)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: %u x %u cells of %d pixels do not fit in a PNG cairo can draw",
                   path, rows, cols, cell);
      return FALSE;
    }
  for (guint i = 0; i < rows * cols; i++)
    if (!check_image (&cells[i], i, path, error))
      return FALSE;
  return TRUE;
}

/* ---- Images ------------------------------------------------------------ */

/* A cairo copy of an 8-bit image (cairo wants native-endian 0xAARRGGBB,
 * premultiplied). */
static cairo_surface_t *
surface_from_image (const ReportImage *im)
{
  gint channels = im->channels ? im->channels : 3;
  gint stride = im->rowstride ? im->rowstride : im->width * channels;
  cairo_format_t format = channels == 4 ? CAIRO_FORMAT_ARGB32 : CAIRO_FORMAT_RGB24;
  cairo_surface_t *surface = cairo_image_surface_create (format, im->width, im->height);
  guint8 *dst;
  gint dst_stride;

  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    return surface;
  cairo_surface_flush (surface);
  dst = cairo_image_surface_get_data (surface);
  dst_stride = cairo_image_surface_get_stride (surface);
  for (gint y = 0; y < im->height; y++)
    {
      const guint8 *s = im->pixels + (gsize) y * stride;
      guint32 *d = (guint32 *) (dst + (gsize) y * dst_stride);

      for (gint x = 0; x < im->width; x++, s += channels)
        {
          guint32 r, g, b, a = 255;

          if (channels == 1)
            r = g = b = s[0];
          else
            r = s[0], g = s[1], b = s[2];
          if (channels == 4)
            {
              a = s[3];
              r = (r * a + 127) / 255;
              g = (g * a + 127) / 255;
              b = (b * a + 127) / 255;
            }
          d[x] = (a << 24) | (r << 16) | (g << 8) | b;
        }
    }
  cairo_surface_mark_dirty (surface);
  return surface;
}

static void
draw_cell (cairo_t *cr, const ReportImage *im, gdouble x0, gdouble y0, gint cell)
{
  cairo_surface_t *surface;
  cairo_pattern_t *pattern;
  gdouble scale, w, h;

  cairo_rectangle (cr, x0, y0, cell, cell);
  cairo_set_source_rgb (cr, im->pixels ? 0.90 : 0.82, im->pixels ? 0.90 : 0.82,
                        im->pixels ? 0.90 : 0.82);
  cairo_fill (cr);
  if (im->pixels == NULL)
    return;

  surface = surface_from_image (im);
  scale = MIN ((gdouble) cell / im->width, (gdouble) cell / im->height);
  w = im->width * scale;
  h = im->height * scale;

  cairo_save (cr);
  cairo_rectangle (cr, x0 + floor ((cell - w) / 2), y0 + floor ((cell - h) / 2),
                   round (w), round (h));
  cairo_clip (cr);
  cairo_translate (cr, x0 + floor ((cell - w) / 2), y0 + floor ((cell - h) / 2));
  cairo_scale (cr, scale, scale);
  cairo_set_source_surface (cr, surface, 0, 0);
  pattern = cairo_get_source (cr);
  cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
  cairo_pattern_set_filter (pattern, scale >= 2 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_restore (cr);
  cairo_surface_destroy (surface);
}

/* ---- Labels ------------------------------------------------------------ */

/* Splits `text` (sanitized) into lines no wider than max_w in the current
 * font: breaks after spaces where it can, anywhere (CJK has no spaces)
 * where it must; the last allowed line ends in "…" if text remains. */
static GPtrArray *
wrap_text (cairo_t *cr, const gchar *text, gdouble max_w, guint max_lines)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  const gchar *start = text;

  while (*start == ' ')
    start++;
  while (*start && lines->len < max_lines)
    {
      const gchar *p = start, *last_space = NULL;
      gdouble w = 0;
      gchar ch[8];

      while (*p)
        {
          gint len = g_unichar_to_utf8 (g_utf8_get_char (p), ch);

          ch[len] = '\0';
          w += report_text_width (cr, ch);
          if (w > max_w && p > start)
            break;
          if (*p == ' ')
            last_space = p;
          p = g_utf8_next_char (p);
        }
      if (*p && last_space && last_space > start)
        p = last_space;
      if (*p && lines->len + 1 == max_lines)
        {
          /* Make room for the ellipsis on the last line. */
          gdouble ell = report_text_width (cr, "…");
          gchar *line = g_strndup (start, p - start);

          while (*line && report_text_width (cr, line) + ell > max_w)
            *g_utf8_prev_char (line + strlen (line)) = '\0';
          g_ptr_array_add (lines, g_strconcat (g_strchomp (line), "…", NULL));
          g_free (line);
          break;
        }
      g_ptr_array_add (lines, g_strchomp (g_strndup (start, p - start)));
      start = p;
      while (*start == ' ')
        start++;
    }
  return lines;
}

static void
draw_row_label (cairo_t *cr, const GridLayout *g, const gchar *label, gdouble y0)
{
  gchar *clean = report_text_sanitize (label);
  GPtrArray *lines;

  cairo_rectangle (cr, 0, y0, g->width, g->label_h);
  cairo_set_source_rgb (cr, 0.95, 0.95, 0.97);
  cairo_fill (cr);
  report_text_select_font (cr, clean, g->font, FALSE);
  lines = wrap_text (cr, clean, g->width - 2.0 * g->gap - g->font, MAX_LABEL_LINES);
  cairo_set_source_rgb (cr, 0.08, 0.08, 0.08);
  for (guint i = 0; i < lines->len; i++)
    report_draw_text (cr, g_ptr_array_index (lines, i), g->gap + g->font * 0.5,
                      y0 + g->font * 0.35 + i * g->line_h, g->font, FALSE, 0, 0);
  g_ptr_array_unref (lines);
  g_free (clean);
}

static gboolean
any_label (const gchar *const *labels, guint n)
{
  if (labels == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (labels[i] && *labels[i])
      return TRUE;
  return FALSE;
}

/* Number of lines the longest row label wraps to, so that all label strips
 * have one height and the cells line up. */
static guint
max_label_lines (cairo_t *cr, const GridLayout *g, const gchar *const *labels, guint rows)
{
  guint most = 0;

  for (guint r = 0; r < rows; r++)
    {
      gchar *clean;
      GPtrArray *lines;

      if (labels[r] == NULL || *labels[r] == '\0')
        continue;
      clean = report_text_sanitize (labels[r]);
      report_text_select_font (cr, clean, g->font, FALSE);
      lines = wrap_text (cr, clean, g->width - 2.0 * g->gap - g->font, MAX_LABEL_LINES);
      most = MAX (most, lines->len);
      g_ptr_array_unref (lines);
      g_free (clean);
    }
  return MAX (most, 1);
}

static void
compute_grid_layout (cairo_t *cr, GridLayout *g, guint rows, guint cols,
                     const gchar *const *row_labels, const gchar *const *col_labels,
                     const gchar *title)
{
  g->gap = MAX (2, g->cell / 48);
  g->font = CLAMP (g->cell / 16.0, 9.0, 22.0);
  g->line_h = ceil (g->font * 1.35);
  g->width = cols * g->cell + (cols + 1) * g->gap;
  g->title_h = title && *title ? (gint) ceil (g->font * 2.2) : 0;
  g->header_h = any_label (col_labels, cols) ? (gint) ceil (g->font * 1.9) : 0;
  g->label_h = any_label (row_labels, rows)
               ? (gint) ceil (max_label_lines (cr, g, row_labels, rows) * g->line_h + g->font * 0.5)
               : 0;
  g->height = g->title_h + g->header_h + rows * (g->label_h + g->cell + g->gap) + g->gap;
}

/* ---- Entry point ------------------------------------------------------- */

gboolean
report_grid_png (const gchar *png_path, guint rows, guint cols,
                 const ReportImage *cells, const gchar *const *row_labels,
                 const gchar *const *col_labels, const ReportGridOptions *options,
                 GError **error)
{
  GridLayout g = { 0 };
  cairo_surface_t *scratch, *surface;
  cairo_t *cr;
  gdouble y;
  gboolean ok;

  g.cell = options && options->cell_size ? options->cell_size : DEFAULT_CELL;
  if (!check_grid_args (png_path, rows, cols, cells, g.cell, error))
    return FALSE;

  /* Measuring the labels needs a cairo context before the canvas size is
   * known. */
  scratch = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 1, 1);
  cr = cairo_create (scratch);
  compute_grid_layout (cr, &g, rows, cols, row_labels, col_labels,
                       options ? options->title : NULL);
  cairo_destroy (cr);
  cairo_surface_destroy (scratch);
  if (g.height > MAX_CANVAS || g.width > MAX_CANVAS)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "%s: the grid would be %d x %d pixels, more than cairo can draw",
                   png_path, g.width, g.height);
      return FALSE;
    }

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, g.width, g.height);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);

  if (g.title_h)
    {
      cairo_set_source_rgb (cr, 0.05, 0.05, 0.05);
      report_draw_text (cr, options->title, g.width / 2.0, g.title_h / 2.0,
                        g.font * 1.2, TRUE, 0.5, 0.5);
    }
  if (g.header_h)
    for (guint c = 0; c < cols; c++)
      if (col_labels[c])
        {
          cairo_set_source_rgb (cr, 0.05, 0.05, 0.05);
          report_draw_text (cr, col_labels[c],
                            g.gap + c * (g.cell + g.gap) + g.cell / 2.0,
                            g.title_h + g.header_h / 2.0, g.font, TRUE, 0.5, 0.5);
        }

  y = g.title_h + g.header_h;
  for (guint r = 0; r < rows; r++)
    {
      if (g.label_h)
        {
          if (row_labels[r] && *row_labels[r])
            draw_row_label (cr, &g, row_labels[r], y);
          y += g.label_h;
        }
      for (guint c = 0; c < cols; c++)
        draw_cell (cr, &cells[r * cols + c], g.gap + c * (g.cell + g.gap), y, g.cell);
      y += g.cell + g.gap;
    }

  ok = !report_check_cairo (cairo_status (cr), png_path, error)
       && report_write_png_atomic (surface, png_path, error);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return ok;
}
