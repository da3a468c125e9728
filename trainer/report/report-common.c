/* libcocoreport: errors, atomic PNG output and text drawing.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Text goes through cairo's "show text" API with a font face that
 * fontconfig picks for the characters of each string: the toy API alone
 * takes one family for everything and draws boxes for Chinese or Japanese
 * when that family has no CJK glyphs.  There is no shaping (no Pango), which
 * is fine for Latin, Cyrillic, Greek and CJK labels.
 */
#include <cairo-ft.h>
#include <fontconfig/fontconfig.h>

#include "report-private.h"

G_DEFINE_QUARK (report-error-quark, report_error)

gboolean
report_check_cairo (cairo_status_t status, const gchar *what, GError **error)
{
  if (status == CAIRO_STATUS_SUCCESS)
    return FALSE;
  g_set_error (error, REPORT_ERROR, REPORT_ERROR_DRAW, "%s: %s", what,
               cairo_status_to_string (status));
  return TRUE;
}

static cairo_status_t
append_to_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

gboolean
report_write_png_atomic (cairo_surface_t *surface, const gchar *path,
                         GError **error)
{
  GByteArray *bytes;
  gboolean ok;

  if (path == NULL || *path == '\0')
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "no PNG path given");
      return FALSE;
    }
  if (report_check_cairo (cairo_surface_status (surface), path, error))
    return FALSE;

  /* Encoding to memory first keeps the file untouched if encoding fails;
   * g_file_set_contents_full writes a temporary file and renames it. */
  bytes = g_byte_array_new ();
  if (report_check_cairo (cairo_surface_write_to_png_stream (surface, append_to_bytes, bytes),
                          path, error))
    {
      g_byte_array_unref (bytes);
      return FALSE;
    }
  ok = g_file_set_contents_full (path, (const gchar *) bytes->data, bytes->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
  g_byte_array_unref (bytes);
  return ok;
}

gchar *
report_text_sanitize (const gchar *text)
{
  gchar *valid;

  if (text == NULL)
    return g_strdup ("");
  valid = g_utf8_make_valid (text, -1);
  for (gchar *p = valid; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return valid;
}

static GMutex fc_lock;

/* A fontconfig match for sans-serif text covering the characters of
 * `text`; NULL when fontconfig has no usable font. */
static FcPattern *
match_font (const gchar *text, gboolean bold)
{
  FcPattern *pattern = FcPatternCreate ();
  FcCharSet *charset = FcCharSetCreate ();
  FcPattern *match;
  FcResult   result;

  /* Only characters beyond ASCII make the choice matter; leaving ASCII out
   * keeps the default family for plain English text. */
  for (const gchar *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c > 0x7f && !g_unichar_isspace (c))
        FcCharSetAddChar (charset, c);
    }
  FcPatternAddString (pattern, FC_FAMILY, (const FcChar8 *) "sans-serif");
  FcPatternAddInteger (pattern, FC_WEIGHT, bold ? FC_WEIGHT_BOLD : FC_WEIGHT_REGULAR);
  if (FcCharSetCount (charset) > 0)
    FcPatternAddCharSet (pattern, FC_CHARSET, charset);
  FcCharSetDestroy (charset);

  /* fontconfig loads its configuration lazily on first use, and that is
   * not safe when two threads race into it; one lock for all matching
   * costs nothing next to drawing. */
  g_mutex_lock (&fc_lock);
  FcConfigSubstitute (NULL, pattern, FcMatchPattern);
  FcDefaultSubstitute (pattern);
  match = FcFontMatch (NULL, pattern, &result);
  g_mutex_unlock (&fc_lock);
  FcPatternDestroy (pattern);
  if (match != NULL && result != FcResultMatch)
    {
      FcPatternDestroy (match);
      match = NULL;
    }
  return match;
}

void
report_text_select_font (cairo_t *cr, const gchar *text, gdouble size,
                         gboolean bold)
{
  FcPattern *match = match_font (text, bold);

  if (match != NULL)
    {
      cairo_font_face_t *face = cairo_ft_font_face_create_for_pattern (match);

      cairo_set_font_face (cr, face);
      cairo_font_face_destroy (face);
      FcPatternDestroy (match);
    }
  else
    {
      cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                              bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    }
  cairo_set_font_size (cr, size);
}

gdouble
report_text_width (cairo_t *cr, const gchar *text)
{
  cairo_text_extents_t te;

  cairo_text_extents (cr, text, &te);
  return te.x_advance;
}

gdouble
report_draw_text (cairo_t *cr, const gchar *text, gdouble x, gdouble y,
                  gdouble size, gboolean bold, gdouble align_x, gdouble align_y)
{
  gchar *clean = report_text_sanitize (text);
  cairo_font_extents_t fe;
  gdouble width;

  report_text_select_font (cr, clean, size, bold);
  cairo_font_extents (cr, &fe);
  width = report_text_width (cr, clean);
  cairo_move_to (cr, x - align_x * width,
                 y + fe.ascent - align_y * (fe.ascent + fe.descent));
  cairo_show_text (cr, clean);
  cairo_new_path (cr);
  g_free (clean);
  return width;
}
