/* CoCoEdit for GIMP
 *
 * cocoedit-region.h: the pixels of one edit: read from a drawable and
 * its selection, written back as a new layer or into the drawable
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_REGION_H__
#define __COCOEDIT_REGION_H__

#include <libgimp/gimp.h>

#include "cocoedit.h"
#include "cocoedit-record.h"

G_BEGIN_DECLS

typedef enum
{
  COCOEDIT_OUTPUT_NEW_LAYER,
  COCOEDIT_OUTPUT_REPLACE
} CocoeditOutputMode;

typedef struct
{
  GimpDrawable   *drawable;
  gint            drawable_width;  /* its size when the pixels were read  */
  gint            drawable_height;

  /* In drawable coordinates: the pixels handed to the engine (the
   * selection's bounds plus context), and the selection's bounds on the
   * drawable (all of it when nothing is selected).  Nothing outside
   * @bounds ever changes.
   */
  GeglRectangle   crop;
  GeglRectangle   bounds;

  gboolean        has_mask;

  const Babl     *engine_format;   /* R'G'B'A u8 or float, drawable space */
  const Babl     *native_format;   /* the drawable's own format           */

  cocoedit_image  source;          /* crop-sized, engine format           */
  cocoedit_image  mask;            /* crop-sized GRAY_F32 0 or 1, or NULL */
  cocoedit_image  selection;       /* the same, as selected (soft edges)  */
  cocoedit_image  output;          /* crop-sized, engine format           */
  guchar         *native;          /* bounds-sized source, native format  */
} CocoeditRegion;


gboolean         cocoedit_region_get_bounds    (GimpDrawable        *drawable,
                                                GimpChannel         *channel,
                                                GeglRectangle       *crop,
                                                GeglRectangle       *bounds,
                                                GError             **error);

CocoeditRegion * cocoedit_region_new           (GimpDrawable        *drawable,
                                                GimpChannel         *channel,
                                                GError             **error);
void             cocoedit_region_free          (CocoeditRegion      *region);

gboolean         cocoedit_region_check_place   (CocoeditRegion      *region,
                                                GimpLayer           *replaces,
                                                GError             **error);
GimpDrawable   * cocoedit_region_apply         (CocoeditRegion      *region,
                                                CocoeditOutputMode   mode,
                                                const gchar         *layer_name,
                                                CocoeditRecord      *record,
                                                GimpLayer           *replaces,
                                                GError             **error);
CocoeditRecord * cocoedit_region_get_record    (GimpDrawable        *drawable,
                                                GError             **error);

GdkPixbuf      * cocoedit_region_get_thumbnail (GimpDrawable        *drawable,
                                                const GeglRectangle *crop,
                                                gint                 max_size);
void             cocoedit_region_make_previews (CocoeditRegion      *region,
                                                gint                 max_size,
                                                GdkPixbuf          **before,
                                                GdkPixbuf          **after,
                                                GdkPixbuf          **changes,
                                                gdouble             *changed_fraction);

gchar          * cocoedit_layer_name_from_prompt (const gchar       *prompt);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CocoeditRegion, cocoedit_region_free)

G_END_DECLS

#endif /* __COCOEDIT_REGION_H__ */
