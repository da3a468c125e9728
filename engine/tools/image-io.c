/* image-io.c — see image-io.h. */
#include "image-io.h"

#include <setjmp.h>
#include <stdio.h>  /* before jpeglib.h, which needs FILE */
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

G_DEFINE_QUARK (cocoedit-image-io-error-quark, cocoedit_image_io_error)

typedef enum { KIND_UNKNOWN, KIND_PNG, KIND_JPEG, KIND_WEBP } ImageKind;

static ImageKind
sniff (const guint8 *head,
       gsize         n)
{
  if (n >= 8 && memcmp (head, "\x89PNG\r\n\x1a\n", 8) == 0)
    return KIND_PNG;
  if (n >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return KIND_JPEG;
  if (n >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBP", 4) == 0)
    return KIND_WEBP;
  return KIND_UNKNOWN;
}

/* Converts between 1, 3 and 4 channels (see image-io.h for the rules). */
static guint8 *
convert_channels (const guint8 *src,
                  gsize         n_pixels,
                  guint         from,
                  guint         to)
{
  const guint matte = to == 1 ? 0 : 255;
  guint8     *dst = g_try_malloc (n_pixels * to);

  if (! dst)
    return NULL;
  for (gsize i = 0; i < n_pixels; i++)
    {
      const guint8 *s = src + i * from;
      guint8       *d = dst + i * to;
      guint         r, g, b, a = 255;

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
          r = (r * a + matte * (255 - a) + 127) / 255;
          g = (g * a + matte * (255 - a) + 127) / 255;
          b = (b * a + matte * (255 - a) + 127) / 255;
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

static gboolean
fail_format (GError     **error,
             const gchar *path,
             const gchar *what,
             const gchar *detail)
{
  g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, COCOEDIT_IMAGE_IO_ERROR_FORMAT, "%s: %s%s%s", path, what,
               detail ? ": " : "", detail ? detail : "");
  return FALSE;
}

/* ---- PNG ---- */

static gboolean
png_load (const gchar    *path,
          const guint8   *data,
          gsize           len,
          gboolean        header_only,
          CocoeditPixels *image,
          GError        **error)
{
  png_image png;

  memset (&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (! png_image_begin_read_from_memory (&png, data, len))
    return fail_format (error, path, "not a readable PNG", png.message);
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
  image->pixels = g_try_malloc ((gsize) PNG_IMAGE_SIZE (png));
  if (! image->pixels || ! png_image_finish_read (&png, NULL, image->pixels, 0, NULL))
    {
      fail_format (error, path, "damaged PNG", image->pixels ? png.message : "out of memory");
      png_image_free (&png);
      cocoedit_pixels_clear (image);
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
  /* Warnings about damaged data are not fatal; libjpeg would print them. */
  (void) cinfo;
}

static gboolean
jpeg_load (const gchar    *path,
           const guint8   *data,
           gsize           len,
           gboolean        header_only,
           CocoeditPixels *image,
           GError        **error)
{
  struct jpeg_decompress_struct cinfo;
  JpegError                     jerr;
  guint8 *volatile              pixels = NULL;

  cinfo.err = jpeg_std_error (&jerr.mgr);
  jerr.mgr.error_exit = jpeg_error_exit;
  jerr.mgr.output_message = jpeg_no_output;
  if (setjmp (jerr.jump))
    {
      jpeg_destroy_decompress (&cinfo);
      g_free (pixels);
      return fail_format (error, path, "not a readable JPEG", jerr.message);
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
  pixels = g_try_malloc ((gsize) image->width * image->height * image->channels);
  if (! pixels)
    {
      jpeg_destroy_decompress (&cinfo);
      return fail_format (error, path, "JPEG too large", "out of memory");
    }
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
webp_load (const gchar    *path,
           const guint8   *data,
           gsize           len,
           gboolean        header_only,
           CocoeditPixels *image,
           GError        **error)
{
  WebPBitstreamFeatures features;
  guint8               *decoded;
  int                   w, h;

  if (WebPGetFeatures (data, len, &features) != VP8_STATUS_OK)
    return fail_format (error, path, "not a readable WebP image", NULL);
  image->width = features.width;
  image->height = features.height;
  image->channels = features.has_alpha ? 4 : 3;
  if (header_only)
    return TRUE;
  decoded = features.has_alpha ? WebPDecodeRGBA (data, len, &w, &h) : WebPDecodeRGB (data, len, &w, &h);
  if (! decoded)
    return fail_format (error, path, "damaged WebP image", NULL);
  /* WebP's buffers come from its own allocator: move into g_malloc'd memory. */
  image->pixels = g_memdup2 (decoded, (gsize) w * h * image->channels);
  WebPFree (decoded);
  return TRUE;
}

typedef gboolean (*Loader) (const gchar *, const guint8 *, gsize, gboolean, CocoeditPixels *, GError **);

static gboolean
load_any (const gchar    *path,
          gboolean        header_only,
          guint           channels,
          guint           max_side,
          CocoeditPixels *image,
          GError        **error)
{
  GMappedFile  *map;
  GError       *local = NULL;
  const guint8 *data;
  gsize         len;
  Loader        load = NULL;
  gboolean      ok;

  g_return_val_if_fail (channels == 0 || channels == 1 || channels == 3 || channels == 4, FALSE);
  memset (image, 0, sizeof *image);
  map = g_mapped_file_new (path, FALSE, &local);
  if (! map)
    {
      g_set_error_literal (error, COCOEDIT_IMAGE_IO_ERROR, COCOEDIT_IMAGE_IO_ERROR_READ, local->message);
      g_error_free (local);
      return FALSE;
    }
  data = (const guint8 *) g_mapped_file_get_contents (map);
  len = g_mapped_file_get_length (map);
  switch (sniff (data, len))
    {
    case KIND_PNG:  load = png_load; break;
    case KIND_JPEG: load = jpeg_load; break;
    case KIND_WEBP: load = webp_load; break;
    default:        break;
    }
  ok = load ? load (path, data, len, TRUE, image, error)
            : fail_format (error, path, "not a PNG, JPEG or WebP image", NULL);
  /* The size is checked from the header, before anything is allocated. */
  if (ok && (image->width == 0 || image->height == 0))
    ok = fail_format (error, path, "the image is empty", NULL);
  else if (ok && (image->width > max_side || image->height > max_side))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, COCOEDIT_IMAGE_IO_ERROR_TOO_LARGE,
                   "%s: %u×%u is larger than %u pixels on a side", path, image->width, image->height, max_side);
      ok = FALSE;
    }
  if (ok && ! header_only)
    ok = load (path, data, len, FALSE, image, error);
  if (ok && ! header_only && channels && channels != image->channels)
    {
      guint8 *converted = convert_channels (image->pixels, (gsize) image->width * image->height,
                                            image->channels, channels);

      g_free (image->pixels);
      image->pixels = converted;
      image->channels = channels;
      if (! converted)
        ok = fail_format (error, path, "image too large", "out of memory");
    }
  if (! ok)
    cocoedit_pixels_clear (image);
  g_mapped_file_unref (map);
  return ok;
}

gboolean
cocoedit_pixels_load (const gchar    *path,
                      guint           channels,
                      guint           max_side,
                      CocoeditPixels *out,
                      GError        **error)
{
  return load_any (path, FALSE, channels, max_side, out, error);
}

gboolean
cocoedit_pixels_probe (const gchar *path,
                       guint       *width,
                       guint       *height,
                       GError     **error)
{
  CocoeditPixels image;

  if (! load_any (path, TRUE, 0, G_MAXUINT, &image, error))
    return FALSE;
  *width = image.width;
  *height = image.height;
  return TRUE;
}

gboolean
cocoedit_pixels_save_png (const CocoeditPixels *pixels,
                          const gchar          *path,
                          GError              **error)
{
  png_image        image;
  png_alloc_size_t size = 0;
  gpointer         buffer;
  gboolean         ok;

  g_return_val_if_fail (pixels->channels == 1 || pixels->channels == 4, FALSE);
  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = pixels->width;
  image.height = pixels->height;
  image.format = pixels->channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_GRAY;
  if (! png_image_write_get_memory_size (image, size, 0, pixels->pixels, 0, NULL))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, COCOEDIT_IMAGE_IO_ERROR_FORMAT,
                   "%s: cannot encode the PNG (%s)", path, image.message);
      return FALSE;
    }
  buffer = g_try_malloc (size);
  if (! buffer || ! png_image_write_to_memory (&image, buffer, &size, 0, pixels->pixels, 0, NULL))
    {
      g_set_error (error, COCOEDIT_IMAGE_IO_ERROR, COCOEDIT_IMAGE_IO_ERROR_FORMAT,
                   "%s: cannot encode the PNG (%s)", path, buffer ? image.message : "out of memory");
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
