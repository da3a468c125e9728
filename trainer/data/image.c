/* libcocodata: image decoding (PNG, JPEG, WebP) and PNG writing.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <jpeglib.h>
#include <png.h>
#include <libdeflate.h>
#include <webp/decode.h>

#include "cocodata-private.h"

G_DEFINE_QUARK (cocodata-error-quark, cocodata_error)

void
cocodata_image_clear (CocodataImage *image)
{
  g_free (image->pixels);
  memset (image, 0, sizeof *image);
}

typedef enum { KIND_UNKNOWN, KIND_PNG, KIND_JPEG, KIND_WEBP } ImageKind;

static ImageKind
sniff (const guint8 *head, gsize n)
{
  if (n >= 8 && memcmp (head, "\x89PNG\r\n\x1a\n", 8) == 0)
    return KIND_PNG;
  if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return KIND_JPEG;
  if (n >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBP", 4) == 0)
    return KIND_WEBP;
  return KIND_UNKNOWN;
}

/* Converts between 1, 3 and 4 channels; alpha is composited over white
 * when dropped, gray is the Rec. 601 luma. */
static guint8 *
convert_channels (const guint8 *src, gsize n_pixels, guint from, guint to)
{
  guint8 *dst = g_malloc (n_pixels * to);

  if (from == to)
    {
      memcpy (dst, src, n_pixels * to);
      return dst;
    }
  for (gsize i = 0; i < n_pixels; i++)
    {
      const guint8 *s = src + i * from;
      guint8 *d = dst + i * to;
      guint r, g, b, a = 255;

      if (from == 1)
        r = g = b = s[0];
      else
        {
          r = s[0]; g = s[1]; b = s[2];
          if (from == 4)
            a = s[3];
        }
      if (to == 4)
        {
          d[0] = r; d[1] = g; d[2] = b; d[3] = a;
          continue;
        }
      if (a != 255)
        {
          r = (r * a + 255 * (255 - a) + 127) / 255;
          g = (g * a + 255 * (255 - a) + 127) / 255;
          b = (b * a + 255 * (255 - a) + 127) / 255;
        }
      if (to == 3)
        {
          d[0] = r; d[1] = g; d[2] = b;
        }
      else
        d[0] = (guint8) ((299 * r + 587 * g + 114 * b + 500) / 1000);
    }
  return dst;
}

/* ---- PNG ---- */

static gboolean
png_load (const gchar *path, const guint8 *data, gsize len, gboolean header_only,
          CocodataImage *image, GError **error)
{
  png_image png;

  memset (&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory (&png, data, len))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: not a readable PNG: %s", path, png.message);
      return FALSE;
    }
  image->width = png.width;
  image->height = png.height;
  image->channels = (png.format & PNG_FORMAT_FLAG_ALPHA) ? 4 :
                    (png.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  if (header_only)
    {
      png_image_free (&png);
      return TRUE;
    }
  png.format = image->channels == 4 ? PNG_FORMAT_RGBA :
               image->channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  image->pixels = g_malloc ((gsize) PNG_IMAGE_SIZE (png));
  if (!png_image_finish_read (&png, NULL, image->pixels, 0, NULL))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: corrupt PNG: %s", path, png.message);
      png_image_free (&png);
      cocodata_image_clear (image);
      return FALSE;
    }
  return TRUE;
}

/* ---- JPEG ---- */

typedef struct
{
  struct jpeg_error_mgr mgr;
  jmp_buf               jump;
  gchar                 message[JMSG_LENGTH_MAX];
} JpegError;

static void
jpeg_error_exit (j_common_ptr cinfo)
{
  JpegError *err = (JpegError *) cinfo->err;

  err->mgr.format_message (cinfo, err->message);
  longjmp (err->jump, 1);
}

static void
jpeg_no_output (j_common_ptr cinfo)
{
  (void) cinfo;
}

static gboolean
jpeg_load (const gchar *path, const guint8 *data, gsize len, gboolean header_only,
           CocodataImage *image, GError **error)
{
  struct jpeg_decompress_struct cinfo;
  JpegError jerr;
  guint8 *volatile pixels = NULL;

  cinfo.err = jpeg_std_error (&jerr.mgr);
  jerr.mgr.error_exit = jpeg_error_exit;
  jerr.mgr.output_message = jpeg_no_output;
  if (setjmp (jerr.jump))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: corrupt JPEG: %s", path, jerr.message);
      jpeg_destroy_decompress (&cinfo);
      g_free (pixels);
      return FALSE;
    }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, data, len);
  jpeg_read_header (&cinfo, TRUE);
  image->width = cinfo.image_width;
  image->height = cinfo.image_height;
  image->channels = cinfo.num_components == 1 ? 1 : 3;
  if (header_only)
    {
      jpeg_destroy_decompress (&cinfo);
      return TRUE;
    }
  cinfo.out_color_space = image->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress (&cinfo);
  pixels = g_malloc ((gsize) image->width * image->height * image->channels);
  while (cinfo.output_scanline < cinfo.output_height)
    {
      JSAMPROW row = pixels + (gsize) cinfo.output_scanline * image->width * image->channels;
      jpeg_read_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  image->pixels = pixels;
  return TRUE;
}

/* ---- WebP ---- */

static gboolean
webp_load (const gchar *path, const guint8 *data, gsize len, gboolean header_only,
           CocodataImage *image, GError **error)
{
  WebPBitstreamFeatures features;
  int w, h;

  if (WebPGetFeatures (data, len, &features) != VP8_STATUS_OK)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: not a readable WebP image", path);
      return FALSE;
    }
  image->width = features.width;
  image->height = features.height;
  image->channels = features.has_alpha ? 4 : 3;
  if (header_only)
    return TRUE;
  image->pixels = features.has_alpha ? WebPDecodeRGBA (data, len, &w, &h)
                                     : WebPDecodeRGB (data, len, &w, &h);
  if (!image->pixels)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: corrupt WebP image", path);
      return FALSE;
    }
  /* WebP's buffers come from its own allocator: move into g_malloc'd memory. */
  {
    gsize n = (gsize) w * h * image->channels;
    guint8 *copy = g_memdup2 (image->pixels, n);
    WebPFree (image->pixels);
    image->pixels = copy;
  }
  return TRUE;
}

static gboolean
load_any (const gchar *path, gboolean header_only, guint want_channels,
          CocodataImage *image, GError **error)
{
  g_autoptr (GMappedFile) map = NULL;
  GError *local = NULL;
  const guint8 *data;
  gsize len;
  gboolean ok = FALSE;

  memset (image, 0, sizeof *image);
  map = g_mapped_file_new (path, FALSE, &local);
  if (!map)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
  data = (const guint8 *) g_mapped_file_get_contents (map);
  len = g_mapped_file_get_length (map);
  switch (sniff (data, len))
    {
    case KIND_PNG:  ok = png_load (path, data, len, header_only, image, error); break;
    case KIND_JPEG: ok = jpeg_load (path, data, len, header_only, image, error); break;
    case KIND_WEBP: ok = webp_load (path, data, len, header_only, image, error); break;
    default:
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: not a PNG, JPEG or WebP image", path);
      return FALSE;
    }
  if (ok && (image->width == 0 || image->height == 0 ||
             image->width > 32768 || image->height > 32768))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: unsupported image size %u×%u", path, image->width, image->height);
      cocodata_image_clear (image);
      return FALSE;
    }
  if (ok && !header_only && want_channels && want_channels != image->channels)
    {
      guint8 *conv = convert_channels (image->pixels, (gsize) image->width * image->height,
                                       image->channels, want_channels);
      g_free (image->pixels);
      image->pixels = conv;
      image->channels = want_channels;
    }
  return ok;
}

gboolean
cocodata_image_load (const gchar *path, guint want_channels,
                     CocodataImage *image, GError **error)
{
  return load_any (path, FALSE, want_channels, image, error);
}

gboolean
cocodata_image_probe (const gchar *path, guint *width, guint *height, GError **error)
{
  CocodataImage image;

  if (!load_any (path, TRUE, 0, &image, error))
    return FALSE;
  *width = image.width;
  *height = image.height;
  return TRUE;
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
