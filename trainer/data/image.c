/* libcocodata: images for the generator and datasets (decoding is
 * image-io.h's), cairo surfaces, and fast PNG writing.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <png.h>
#include <libdeflate.h>

#include "cocodata-private.h"

G_DEFINE_QUARK (cocodata-error-quark, cocodata_error)

void
cocodata_image_clear (CocodataImage *image)
{
  cocoedit_pixels_clear (image);
}

/* Moves an image-io error into the library's domain. */
static gboolean
own_error (GError *local, GError **error)
{
  g_set_error_literal (error, COCODATA_ERROR,
                       local->code == COCOEDIT_IMAGE_IO_ERROR_READ ? COCODATA_ERROR_IO : COCODATA_ERROR_FORMAT,
                       local->message);
  g_error_free (local);
  return FALSE;
}

/* Generous: a dataset image is resized to the working size anyway. */
#define MAX_SIDE 32768

gboolean
cocodata_image_load (const gchar *path, guint want_channels,
                     CocodataImage *image, GError **error)
{
  GError *local = NULL;

  return cocoedit_pixels_load (path, want_channels, MAX_SIDE, image, &local) || own_error (local, error);
}

gboolean
cocodata_image_probe (const gchar *path, guint *width, guint *height, GError **error)
{
  GError *local = NULL;

  return cocoedit_pixels_probe (path, width, height, &local) || own_error (local, error);
}

cairo_surface_t *
cocodata_image_to_surface (const CocodataImage *image)
{
  cairo_surface_t *surface;
  guint8 *dst;
  int stride;

  g_return_val_if_fail (image->channels == 4, NULL);
  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, image->width, image->height);
  cairo_surface_flush (surface);
  dst = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (guint y = 0; y < image->height; y++)
    {
      const guint8 *s = image->pixels + (gsize) y * image->width * 4;
      guint32 *d = (guint32 *) (dst + (gsize) y * stride);

      for (guint x = 0; x < image->width; x++, s += 4)
        {
          guint a = s[3];
          guint r = (s[0] * a + 127) / 255;
          guint g = (s[1] * a + 127) / 255;
          guint b = (s[2] * a + 127) / 255;
          d[x] = (a << 24) | (r << 16) | (g << 8) | b;
        }
    }
  cairo_surface_mark_dirty (surface);
  return surface;
}

/* ---- writing ---- */

/* PNG encoding for datasets: the SUB filter and libdeflate at level 1,
 * about 2–3× faster than zlib's level 1 (and smaller).  One compressor per
 * thread, kept. */
static void
free_compressor (gpointer c)
{
  libdeflate_free_compressor (c);
}

static GPrivate compressors = G_PRIVATE_INIT (free_compressor);

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static gboolean
write_chunk (FILE *fp, const gchar type[4], const guint8 *data, gsize len)
{
  guint8 head[8], tail[4];
  guint32 crc;

  put_be32 (head, (guint32) len);
  memcpy (head + 4, type, 4);
  crc = libdeflate_crc32 (0, head + 4, 4);
  crc = libdeflate_crc32 (crc, data, len);
  put_be32 (tail, crc);
  return fwrite (head, 1, 8, fp) == 8 && (len == 0 || fwrite (data, 1, len, fp) == len) &&
         fwrite (tail, 1, 4, fp) == 4;
}

static gboolean
png_write_fast (FILE *fp, const guint8 *pixels, guint width, guint height, guint channels)
{
  struct libdeflate_compressor *c = g_private_get (&compressors);
  gsize row = (gsize) width * channels, raw_len = (row + 1) * height, bound, z_len;
  g_autofree guint8 *raw = g_malloc (raw_len);
  g_autofree guint8 *z = NULL;
  guint8 ihdr[13];

  if (!c)
    {
      c = libdeflate_alloc_compressor (1);
      g_private_set (&compressors, c);
    }
  for (guint y = 0; y < height; y++)
    {
      const guint8 *src = pixels + y * row;
      guint8 *dst = raw + y * (row + 1);

      if (channels == 1)   /* masks: flat areas, no filter needed */
        {
          dst[0] = 0;
          memcpy (dst + 1, src, row);
          continue;
        }
      dst[0] = 1;   /* SUB: each byte minus the byte one pixel to the left */
      memcpy (dst + 1, src, channels);
      for (gsize i = channels; i < row; i++)
        dst[1 + i] = src[i] - src[i - channels];
    }
  bound = libdeflate_zlib_compress_bound (c, raw_len);
  z = g_malloc (bound);
  z_len = libdeflate_zlib_compress (c, raw, raw_len, z, bound);
  if (z_len == 0)
    return FALSE;

  put_be32 (ihdr, width);
  put_be32 (ihdr + 4, height);
  ihdr[8] = 8;
  ihdr[9] = channels == 4 ? 6 : channels == 3 ? 2 : 0;
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  return fwrite ("\x89PNG\r\n\x1a\n", 1, 8, fp) == 8 &&
         write_chunk (fp, "IHDR", ihdr, sizeof ihdr) &&
         write_chunk (fp, "IDAT", z, z_len) &&
         write_chunk (fp, "IEND", NULL, 0);
}

/* libpng at zlib's best compression, for pictures meant for people. */
static gboolean
png_write_small (FILE *fp, const guint8 *pixels, guint width, guint height, guint channels)
{
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct (png) : NULL;

  if (!info)
    {
      png_destroy_write_struct (&png, NULL);
      return FALSE;
    }
  if (setjmp (png_jmpbuf (png)))
    {
      png_destroy_write_struct (&png, &info);
      return FALSE;
    }
  png_init_io (png, fp);
  png_set_IHDR (png, info, width, height, 8,
                channels == 4 ? PNG_COLOR_TYPE_RGBA : channels == 3 ? PNG_COLOR_TYPE_RGB
                                                                    : PNG_COLOR_TYPE_GRAY,
                PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level (png, 9);
  png_write_info (png, info);
  for (guint y = 0; y < height; y++)
    png_write_row (png, pixels + (gsize) y * width * channels);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return TRUE;
}

gboolean
cocodata_write_png (const gchar *path, const guint8 *pixels, guint width, guint height,
                    guint channels, GError **error)
{
  return cocodata_write_png_full (path, pixels, width, height, channels, FALSE, error);
}

gboolean
cocodata_write_png_full (const gchar *path, const guint8 *pixels, guint width, guint height,
                         guint channels, gboolean small, GError **error)
{
  g_autofree gchar *tmp = g_strdup_printf ("%s.tmp-%p", path, (void *) g_thread_self ());
  g_autofree gchar *message = NULL;
  FILE *fp;
  gboolean ok;

  g_return_val_if_fail (channels == 1 || channels == 3 || channels == 4, FALSE);
  fp = g_fopen (tmp, "wb");
  if (!fp)
    {
      int e = errno;
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
                   "%s: cannot create: %s", tmp, g_strerror (e));
      return FALSE;
    }
  ok = small ? png_write_small (fp, pixels, width, height, channels)
             : png_write_fast (fp, pixels, width, height, channels);
  if (!ok)
    message = g_strdup (ferror (fp) ? g_strerror (errno) : "encoding failed");
  if (fclose (fp) != 0 && ok)
    {
      ok = FALSE;
      message = g_strdup (g_strerror (errno));
    }
  if (!ok)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
                   "%s: cannot write PNG: %s", path, message);
      g_unlink (tmp);
      return FALSE;
    }
  if (g_rename (tmp, path) != 0)
    {
      int e = errno;
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
                   "%s: cannot rename into place: %s", path, g_strerror (e));
      g_unlink (tmp);
      return FALSE;
    }
  return TRUE;
}
