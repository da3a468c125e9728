/* libcocodata: text shaping (HarfBuzz) and drawing (cairo + FreeType).
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * HarfBuzz shapes with its own OpenType functions on an immutable hb_font_t,
 * which is safe to share between threads; cairo-ft locks the FT_Face it
 * rasterises from.  FT_Library itself is only used while opening faces.
 */
#include <cairo-ft.h>
#include <ft2build.h>
#include FT_FREETYPE_H

#include "cocodata-private.h"

struct _CocodataFont
{
  FT_Library         library;
  FT_Face            face;
  cairo_font_face_t *cairo_face;
  hb_font_t         *hb_font;
  guint              upem;
};

static const cairo_user_data_key_t face_key;

static void
release_ft_face (void *data)
{
  CocodataFont *font = data;

  FT_Done_Face (font->face);
  FT_Done_FreeType (font->library);
  g_free (font);
}

CocodataFont *
cocodata_font_new (const gchar *path, GError **error)
{
  CocodataFont *font = g_new0 (CocodataFont, 1);
  hb_blob_t *blob;
  hb_face_t *hb_face;

  if (FT_Init_FreeType (&font->library) != 0)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO, "%s: cannot start FreeType", path);
      g_free (font);
      return NULL;
    }
  if (FT_New_Face (font->library, path, 0, &font->face) != 0)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "%s: not a readable font", path);
      FT_Done_FreeType (font->library);
      g_free (font);
      return NULL;
    }
  blob = hb_blob_create_from_file (path);
  hb_face = hb_face_create (blob, 0);
  hb_blob_destroy (blob);
  font->upem = hb_face_get_upem (hb_face);
  font->hb_font = hb_font_create (hb_face);
  hb_face_destroy (hb_face);
  hb_font_set_scale (font->hb_font, font->upem, font->upem);
  hb_font_make_immutable (font->hb_font);

  font->cairo_face = cairo_ft_font_face_create_for_ft_face (font->face, 0);
  /* cairo may keep the face past cocodata_font_free; free FreeType with it. */
  cairo_font_face_set_user_data (font->cairo_face, &face_key, font, release_ft_face);
  return font;
}

void
cocodata_font_free (CocodataFont *font)
{
  if (!font)
    return;
  hb_font_destroy (font->hb_font);
  font->hb_font = NULL;
  cairo_font_face_destroy (font->cairo_face);  /* frees font via release_ft_face */
}

gboolean
cocodata_font_covers (CocodataFont *font, const gchar *text)
{
  for (const gchar *p = text; *p; p = g_utf8_next_char (p))
    {
      hb_codepoint_t glyph;

      if (!hb_font_get_nominal_glyph (font->hb_font, g_utf8_get_char (p), &glyph) || glyph == 0)
        return FALSE;
    }
  return TRUE;
}

static hb_buffer_t *
shape (CocodataFont *font, const gchar *text)
{
  hb_buffer_t *buf = hb_buffer_create ();

  hb_buffer_add_utf8 (buf, text, -1, 0, -1);
  hb_buffer_guess_segment_properties (buf);
  hb_shape (font->hb_font, buf, NULL, 0);
  return buf;
}

double
cocodata_font_measure (CocodataFont *font, const gchar *text, double px)
{
  hb_buffer_t *buf = shape (font, text);
  unsigned n;
  hb_glyph_position_t *pos = hb_buffer_get_glyph_positions (buf, &n);
  double w = 0;

  for (unsigned i = 0; i < n; i++)
    w += pos[i].x_advance;
  hb_buffer_destroy (buf);
  return w * px / font->upem;
}

void
cocodata_font_draw (CocodataFont *font, cairo_t *cr, const gchar *text,
                    double px, double x, double y)
{
  hb_buffer_t *buf = shape (font, text);
  unsigned n;
  hb_glyph_info_t *info = hb_buffer_get_glyph_infos (buf, &n);
  hb_glyph_position_t *pos = hb_buffer_get_glyph_positions (buf, &n);
  cairo_glyph_t *glyphs = g_new (cairo_glyph_t, MAX (n, 1));
  double scale = px / font->upem, pen = 0;

  for (unsigned i = 0; i < n; i++)
    {
      glyphs[i].index = info[i].codepoint;
      glyphs[i].x = x + (pen + pos[i].x_offset) * scale;
      glyphs[i].y = y - pos[i].y_offset * scale;
      pen += pos[i].x_advance;
    }
  cairo_save (cr);
  cairo_set_font_face (cr, font->cairo_face);
  cairo_set_font_size (cr, px);
  cairo_show_glyphs (cr, glyphs, n);
  cairo_restore (cr);
  g_free (glyphs);
  hb_buffer_destroy (buf);
}
