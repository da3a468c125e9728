/* CoCoEdit for GIMP
 *
 * cocoedit-preview.h: shows the region before and after an edit
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_PREVIEW_H__
#define __COCOEDIT_PREVIEW_H__

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum
{
  COCOEDIT_PREVIEW_BEFORE,
  COCOEDIT_PREVIEW_AFTER,
  COCOEDIT_PREVIEW_CHANGES
} CocoeditPreviewMode;

#define COCOEDIT_TYPE_PREVIEW (cocoedit_preview_get_type ())
G_DECLARE_FINAL_TYPE (CocoeditPreview, cocoedit_preview,
                      COCOEDIT, PREVIEW, GtkDrawingArea)

GtkWidget         * cocoedit_preview_new         (gint                 size);

void                cocoedit_preview_set_before  (CocoeditPreview     *preview,
                                                  GdkPixbuf           *before);
void                cocoedit_preview_set_result  (CocoeditPreview     *preview,
                                                  GdkPixbuf           *before,
                                                  GdkPixbuf           *after,
                                                  GdkPixbuf           *changes);
gboolean            cocoedit_preview_has_result  (CocoeditPreview     *preview);

void                cocoedit_preview_set_mode    (CocoeditPreview     *preview,
                                                  CocoeditPreviewMode  mode);
CocoeditPreviewMode cocoedit_preview_get_mode    (CocoeditPreview     *preview);

G_END_DECLS

#endif /* __COCOEDIT_PREVIEW_H__ */
