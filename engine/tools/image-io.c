/* image-io.c — see image-io.h. */
#include "image-io.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

G_DEFINE_QUARK (cocoedit-image-io-error-quark, cocoedit_image_io_error)

static gboolean
load_png (const gchar    *path,
          const guint8   *bytes,
          gsize           length,
          gint            channels,
          gint            max_side,
          CocoeditPixels *out,
          GError        **error)
{
  png_image image;

  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (! png_image_begin_read_from_memory (&image, bytes, length))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: not a readable PNG (%s)", path, image.message);
      return FALSE;
    }
  if ((gint) image.width > max_side || (gint) image.height > max_side)
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: %ux%u is larger than %d pixels on a side",
                   path, image.width, image.height, max_side);
      png_image_free (&image);
      return FALSE;
    }
  image.format = channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_GRAY;
  out->width = image.width;
  out->height = image.height;
  out->channels = channels;
  out->pixels = g_try_malloc ((gsize) image.width * image.height * channels);
  if (! out->pixels)
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: not enough memory for %ux%u pixels",
                   path, image.width, image.height);
      png_image_free (&image);
      return FALSE;
    }
  if (! png_image_finish_read (&image, NULL, out->pixels, 0, NULL))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: damaged PNG (%s)", path, image.message);
      cocoedit_pixels_clear (out);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  struct jpeg_error_mgr base;
  jmp_buf               jump;
  gchar                 message[JMSG_LENGTH_MAX];
} JpegError;

static void
jpeg_error_exit (j_common_ptr cinfo)
{
  JpegError *err = (JpegError *) cinfo->err;

  err->base.format_message (cinfo, err->message);
  longjmp (err->jump, 1);
}

static void
jpeg_silence (j_common_ptr cinfo,
              int          level)
{
  /* Warnings about damaged data are not fatal; libjpeg would print them. */
}

static gboolean
load_jpeg (const gchar    *path,
           const guint8   *bytes,
           gsize           length,
           gint            channels,
           gint            max_side,
           CocoeditPixels *out,
           GError        **error)
{
  struct jpeg_decompress_struct cinfo;
  JpegError                     jerr;
  guint8 *volatile              row = NULL;

  memset (out, 0, sizeof *out);
  cinfo.err = jpeg_std_error (&jerr.base);
  jerr.base.error_exit = jpeg_error_exit;
  jerr.base.emit_message = jpeg_silence;
  if (setjmp (jerr.jump))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: not a readable JPEG (%s)", path, jerr.message);
      jpeg_destroy_decompress (&cinfo);
      g_free (row);
      cocoedit_pixels_clear (out);
      return FALSE;
    }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, bytes, length);
  jpeg_read_header (&cinfo, TRUE);
  if ((gint) cinfo.image_width > max_side || (gint) cinfo.image_height > max_side)
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: %ux%u is larger than %d pixels on a side",
                   path, cinfo.image_width, cinfo.image_height, max_side);
      jpeg_destroy_decompress (&cinfo);
      return FALSE;
    }
  cinfo.out_color_space = channels == 4 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_start_decompress (&cinfo);
  out->width = cinfo.output_width;
  out->height = cinfo.output_height;
  out->channels = channels;
  out->pixels = g_try_malloc ((gsize) out->width * out->height * channels);
  if (! out->pixels)
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: not enough memory", path);
      jpeg_destroy_decompress (&cinfo);
      return FALSE;
    }
  row = g_malloc ((gsize) out->width * cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height)
    {
      guint8 *dst = out->pixels + (gsize) cinfo.output_scanline * out->width * channels;
      JSAMPROW rows[1] = { row };

      jpeg_read_scanlines (&cinfo, rows, 1);
      for (gint x = 0; x < out->width; x++)
        {
          if (channels == 1)
            {
              dst[x] = row[x];
              continue;
            }
          dst[4 * x + 0] = row[3 * x + 0];
          dst[4 * x + 1] = row[3 * x + 1];
          dst[4 * x + 2] = row[3 * x + 2];
          dst[4 * x + 3] = 255;
        }
    }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  g_free (row);
  return TRUE;
}

gboolean
cocoedit_pixels_load (const gchar    *path,
                      gint            channels,
                      gint            max_side,
                      CocoeditPixels *out,
                      GError        **error)
{
  GMappedFile *file;
  const guint8 *bytes;
  gsize         length;
  gboolean      ok;

  g_return_val_if_fail (channels == 1 || channels == 4, FALSE);
  memset (out, 0, sizeof *out);
  file = g_mapped_file_new (path, FALSE, error);
  if (! file)
    return FALSE;
  bytes = (const guint8 *) g_mapped_file_get_contents (file);
  length = g_mapped_file_get_length (file);
  if (length >= 8 && png_sig_cmp (bytes, 0, 8) == 0)
    ok = load_png (path, bytes, length, channels, max_side, out, error);
  else if (length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    ok = load_jpeg (path, bytes, length, channels, max_side, out, error);
  else
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: not a PNG or JPEG file", path);
      ok = FALSE;
    }
  g_mapped_file_unref (file);
  return ok;
}

gboolean
cocoedit_pixels_save_png (const CocoeditPixels *pixels,
                          const gchar          *path,
                          GError              **error)
{
  png_image    image;
  png_alloc_size_t size = 0;
  gpointer     buffer;
  gboolean     ok;

  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = pixels->width;
  image.height = pixels->height;
  image.format = pixels->channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_GRAY;
  if (! png_image_write_get_memory_size (image, size, 0, pixels->pixels, 0, NULL))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: cannot encode the PNG (%s)", path, image.message);
      return FALSE;
    }
  buffer = g_try_malloc (size);
  if (! buffer ||
      ! png_image_write_to_memory (&image, buffer, &size, 0, pixels->pixels, 0, NULL))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, 0, "%s: cannot encode the PNG (%s)", path,
                   buffer ? image.message : "out of memory");
      g_free (buffer);
      return FALSE;
    }
  /* g_file_set_contents writes a temporary file and renames it. */
  ok = g_file_set_contents (path, buffer, size, error);
  g_free (buffer);
  return ok;
}

void
cocoedit_pixels_clear (CocoeditPixels *pixels)
{
  g_clear_pointer (&pixels->pixels, g_free);
  pixels->width = pixels->height = pixels->channels = 0;
}
