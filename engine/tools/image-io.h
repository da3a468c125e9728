/* image-io.h — image files to pixel buffers and back: the one decoder of
 * the `cocoedit` command and of libcocodata (the trainer's data library).
 * libpng's simplified API, libjpeg and libwebp do the work. */
#ifndef COCOEDIT_IMAGE_IO_H
#define COCOEDIT_IMAGE_IO_H

#include <glib.h>

G_BEGIN_DECLS

#define COCOEDIT_IMAGE_IO_ERROR (cocoedit_image_io_error_quark ())
GQuark cocoedit_image_io_error_quark (void);

typedef enum
{
  COCOEDIT_IMAGE_IO_ERROR_READ,     /* the file could not be read or written */
  COCOEDIT_IMAGE_IO_ERROR_FORMAT,   /* not an image, or a damaged one        */
  COCOEDIT_IMAGE_IO_ERROR_TOO_LARGE /* larger than the caller allows         */
} CocoeditImageIoError;

typedef struct
{
  guint   width;
  guint   height;
  guint   channels; /* 1 gray, 3 RGB, 4 RGBA (straight alpha) */
  guint8 *pixels;   /* width × height × channels bytes, rows packed */
} CocoeditPixels;

/* Reads a PNG, JPEG or WebP file (told apart by its first bytes).
 * `channels` is 1, 3 or 4, or 0 for the file's own.  Converting drops alpha
 * by compositing: RGB over white (a picture on a page), gray over black (a
 * mask: transparent means unselected); gray from colour is the Rec. 601
 * luma.  Refuses empty images and images with a side above `max_side`. */
gboolean cocoedit_pixels_load     (const gchar    *path,
                                   guint           channels,
                                   guint           max_side,
                                   CocoeditPixels *out,
                                   GError        **error);

/* Reads only the size from the header. */
gboolean cocoedit_pixels_probe    (const gchar    *path,
                                   guint          *width,
                                   guint          *height,
                                   GError        **error);

/* Writes a PNG (1 or 4 channels) through a temporary file and a rename:
 * `path` is either the old file or the complete new one. */
gboolean cocoedit_pixels_save_png (const CocoeditPixels *pixels,
                                   const gchar          *path,
                                   GError              **error);

void     cocoedit_pixels_clear    (CocoeditPixels *pixels);

G_END_DECLS

#endif
