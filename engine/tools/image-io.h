/* image-io.h — PNG and JPEG files to pixel buffers and back, for the
 * `cocoedit` command (libpng's simplified API and libjpeg do the work). */
#ifndef COCOEDIT_IMAGE_IO_H
#define COCOEDIT_IMAGE_IO_H

#include <glib.h>

G_BEGIN_DECLS

#define COCOEDIT_IMAGE_IO_ERROR (cocoedit_image_io_error_quark ())
GQuark cocoedit_image_io_error_quark (void);

typedef struct
{
  gint    width;
  gint    height;
  gint    channels; /* 4 (RGBA) or 1 (gray) */
  guint8 *pixels;   /* width × height × channels bytes, rows packed */
} CocoeditPixels;

/* Reads a PNG or JPEG file (by its first bytes) as RGBA (channels = 4) or
 * as gray (channels = 1, luminance of colour images).  Refuses images with a
 * side above `max_side`. */
gboolean cocoedit_pixels_load (const gchar    *path,
                               gint            channels,
                               gint            max_side,
                               CocoeditPixels *out,
                               GError        **error);

/* Writes a PNG through a temporary file and a rename: `path` is either the
 * old file or the complete new one. */
gboolean cocoedit_pixels_save_png (const CocoeditPixels *pixels,
                                   const gchar          *path,
                                   GError              **error);

void     cocoedit_pixels_clear (CocoeditPixels *pixels);

G_END_DECLS

#endif
