/* CoCoEdit for GIMP
 *
 * cocoedit-region.c: the pixels of one edit: read from a drawable and
 * its selection, written back as a new layer or into the drawable
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * Only the part the engine reads is read from GIMP: the selection's
 * bounds with the context around them, by the engine's own rule
 * (cocoedit_context_rect), never the whole layer when a small part is
 * selected.  The engine gets the pixels
 * in 8-bit when the image is 8-bit (exact round trip) and in float
 * otherwise.  When writing back, every pixel whose mask value is zero is
 * copied from the drawable's own bytes, so that nothing outside the
 * selection changes by even one bit, whatever the precision.
 */

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "cocoedit-region.h"


static void   * image_alloc          (cocoedit_image        *image,
                                      gint                   width,
                                      gint                   height,
                                      cocoedit_pixel_format  format);
static guchar * region_compose       (CocoeditRegion        *region);
static const Babl * mask_format      (GimpDrawable          *drawable);
static GdkPixbuf * rgba_to_pixbuf    (CocoeditRegion        *region,
                                      const cocoedit_image  *image,
                                      gint                   width,
                                      gint                   height);


/* The bounds of the non-zero pixels of @channel (image-sized) on
 * @drawable, in drawable coordinates.  Read tile by tile: a channel can
 * be as large as the image.
 */
static gboolean
channel_intersect (GimpChannel   *channel,
                   GimpDrawable  *drawable,
                   GeglRectangle *bounds)
{
  GimpImage          *image = gimp_item_get_image (GIMP_ITEM (channel));
  GeglBuffer         *buffer;
  GeglBufferIterator *iter;
  GeglRectangle       area;
  gint                offset_x, offset_y;
  gint                x1 = G_MAXINT, y1 = G_MAXINT, x2 = G_MININT, y2 = G_MININT;

  gimp_drawable_get_offsets (drawable, &offset_x, &offset_y);
  gegl_rectangle_set (&area, offset_x, offset_y,
                      gimp_drawable_get_width (drawable),
                      gimp_drawable_get_height (drawable));
  if (! gegl_rectangle_intersect (&area, &area,
                                  GEGL_RECTANGLE (0, 0,
                                                  gimp_image_get_width (image),
                                                  gimp_image_get_height (image))))
    return FALSE;

  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (channel));
  iter   = gegl_buffer_iterator_new (buffer, &area, 0, babl_format ("Y float"),
                                     GEGL_ACCESS_READ, GEGL_ABYSS_NONE, 1);

  while (gegl_buffer_iterator_next (iter))
    {
      const gfloat        *data = iter->items[0].data;
      const GeglRectangle *roi  = &iter->items[0].roi;
      gint                 x, y;

      for (y = 0; y < roi->height; y++)
        for (x = 0; x < roi->width; x++)
          if (*data++ > 0.0f)
            {
              x1 = MIN (x1, roi->x + x);
              y1 = MIN (y1, roi->y + y);
              x2 = MAX (x2, roi->x + x + 1);
              y2 = MAX (y2, roi->y + y + 1);
            }
    }
  g_object_unref (buffer);

  if (x2 <= x1 || y2 <= y1)
    return FALSE;

  gegl_rectangle_set (bounds, x1 - offset_x, y1 - offset_y, x2 - x1, y2 - y1);

  return TRUE;
}

/* @channel: the edit's mask, image-sized; NULL: the image's selection. */
gboolean
cocoedit_region_get_bounds (GimpDrawable   *drawable,
                            GimpChannel    *channel,
                            GeglRectangle  *crop,
                            GeglRectangle  *bounds,
                            GError        **error)
{
  GimpImage *image  = gimp_item_get_image (GIMP_ITEM (drawable));
  gint       width  = gimp_drawable_get_width (drawable);
  gint       height = gimp_drawable_get_height (drawable);
  gint       x, y, w, h;
  cocoedit_rect  box, context;
  cocoedit_error err;

  if (channel)
    {
      if (! channel_intersect (channel, drawable, bounds))
        {
          g_set_error_literal (error, GIMP_PLUG_IN_ERROR, 0,
                               _("The selection saved with this layer is "
                                 "empty or does not overlap its source "
                                 "layer."));
          return FALSE;
        }
    }
  else
    {
      if (! gimp_drawable_mask_intersect (drawable, &x, &y, &w, &h) ||
          w <= 0 || h <= 0)
        {
          g_set_error_literal (error, GIMP_PLUG_IN_ERROR, 0,
                               _("The selection does not overlap the layer. "
                                 "Select a part of the layer to edit, or "
                                 "select nothing to edit all of it."));
          return FALSE;
        }

      gegl_rectangle_set (bounds, x, y, w, h);

      if (gimp_selection_is_empty (image))
        {
          *crop = *bounds;
          return TRUE;
        }
    }

  /* What the engine reads around the selection, by its own rule: read
   * just that from GIMP.
   */
  box = (cocoedit_rect) { bounds->x, bounds->y, bounds->width, bounds->height };
  if (cocoedit_context_rect (&box, width, height, -1, &context, &err) !=
      COCOEDIT_OK)
    {
      g_set_error_literal (error, GIMP_PLUG_IN_ERROR, 0, err.message);
      return FALSE;
    }
  gegl_rectangle_set (crop, context.x, context.y, context.width,
                      context.height);

  return TRUE;
}

CocoeditRegion *
cocoedit_region_new (GimpDrawable  *drawable,
                     GimpChannel   *channel,
                     GError       **error)
{
  CocoeditRegion        *region;
  GimpImage             *image;
  GeglBuffer            *buffer;
  cocoedit_pixel_format  pixel_format;
  const Babl            *type;

  g_return_val_if_fail (GIMP_IS_DRAWABLE (drawable), NULL);

  region = g_new0 (CocoeditRegion, 1);
  region->drawable  = g_object_ref (drawable);

  if (! cocoedit_region_get_bounds (drawable, channel,
                                    &region->crop, &region->bounds, error))
    {
      cocoedit_region_free (region);
      return NULL;
    }

  image = gimp_item_get_image (GIMP_ITEM (drawable));
  region->drawable_width  = gimp_drawable_get_width (drawable);
  region->drawable_height = gimp_drawable_get_height (drawable);
  region->has_mask      = channel || ! gimp_selection_is_empty (image);
  region->native_format = gimp_drawable_get_format (drawable);

  type = babl_format_get_type (region->native_format, 0);
  if (type == babl_type ("u8"))
    {
      pixel_format          = COCOEDIT_RGBA8;
      region->engine_format = babl_format_with_space ("R'G'B'A u8",
                                                      region->native_format);
    }
  else
    {
      pixel_format          = COCOEDIT_RGBA_F32;
      region->engine_format = babl_format_with_space ("R'G'B'A float",
                                                      region->native_format);
    }

  if (! image_alloc (&region->source, region->crop.width,
                     region->crop.height, pixel_format) ||
      ! image_alloc (&region->output, region->crop.width,
                     region->crop.height, pixel_format))
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Not enough memory to edit %d × %d pixels."),
                   region->crop.width, region->crop.height);
      cocoedit_region_free (region);
      return NULL;
    }

  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, &region->crop, 1.0, region->engine_format,
                   region->source.data, region->source.stride,
                   GEGL_ABYSS_NONE);

  if (region->has_mask)
    {
      GimpDrawable *selection;
      GeglBuffer   *sel_buffer;
      gfloat       *soft;
      const Babl   *sel_format;
      GeglRectangle rect;
      gfloat       *mask;
      gint          offset_x, offset_y;
      gint          n, i;

      gsize native_bpp = babl_format_get_bytes_per_pixel (region->native_format);

      region->native = g_try_malloc ((gsize) region->bounds.width *
                                     region->bounds.height * native_bpp);
      mask = image_alloc (&region->mask, region->crop.width,
                          region->crop.height, COCOEDIT_GRAY_F32);
      soft = image_alloc (&region->selection, region->crop.width,
                          region->crop.height, COCOEDIT_GRAY_F32);
      if (! region->native || ! mask || ! soft)
        {
          g_object_unref (buffer);
          g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                       _("Not enough memory to edit %d × %d pixels."),
                       region->crop.width, region->crop.height);
          cocoedit_region_free (region);
          return NULL;
        }

      gegl_buffer_get (buffer, &region->bounds, 1.0, region->native_format,
                       region->native, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);

      /* The selection is image-sized; the drawable may be offset, smaller
       * or larger than the canvas.  Outside the canvas nothing is
       * selected (abyss is zero).
       */
      selection = channel ? GIMP_DRAWABLE (channel)
                          : GIMP_DRAWABLE (gimp_image_get_selection (image));
      gimp_drawable_get_offsets (drawable, &offset_x, &offset_y);

      sel_format = mask_format (selection);

      rect = region->crop;
      rect.x += offset_x;
      rect.y += offset_y;

      sel_buffer = gimp_drawable_get_buffer (selection);
      gegl_buffer_get (sel_buffer, &rect, 1.0, sel_format,
                       soft, region->selection.stride, GEGL_ABYSS_NONE);
      g_object_unref (sel_buffer);

      /* GIMP blends the result through the selection itself (the new
       * layer's mask, or gimp_drawable_merge_shadow when replacing): the
       * engine gets the selected area as a hard mask, or the blend would
       * be applied twice.
       */
      n = region->crop.width * region->crop.height;
      for (i = 0; i < n; i++)
        {
          soft[i] = CLAMP (soft[i], 0.0f, 1.0f);
          mask[i] = soft[i] > 0.0f ? 1.0f : 0.0f;
        }
    }

  g_object_unref (buffer);

  return region;
}

void
cocoedit_region_free (CocoeditRegion *region)
{
  if (! region)
    return;

  g_clear_object (&region->drawable);
  g_free (region->source.data);
  g_free (region->mask.data);
  g_free (region->selection.data);
  g_free (region->output.data);
  g_free (region->native);
  g_free (region);
}

/* The image's layer or channel that the user may have removed, or whose
 * image was closed, while the edit ran.
 */
static gboolean
item_is_gone (GimpItem *item)
{
  GimpImage *image;

  return ! gimp_item_is_valid (item) ||
         ! (image = gimp_item_get_image (item)) ||
         ! gimp_image_is_valid (image);
}

/* The soft selection the pixels were read with, as a layer mask of
 * @layer (which has the source's size and offsets) or as a channel.
 */
static void
region_write_mask (CocoeditRegion *region,
                   GimpDrawable   *target,
                   gint            offset_x,
                   gint            offset_y)
{
  GeglBuffer    *buffer = gimp_drawable_get_buffer (target);
  GeglRectangle  rect   = region->crop;

  rect.x += offset_x;
  rect.y += offset_y;
  gegl_buffer_set (buffer, &rect, 0, mask_format (target),
                   region->selection.data, region->selection.stride);
  g_object_unref (buffer);
}

/* Saves the selection as a hidden channel, so that Regenerate finds it
 * after the user selected something else.
 */
static GimpChannel *
region_save_selection (CocoeditRegion *region,
                       GimpImage      *image,
                       const gchar    *layer_name)
{
  GimpChannel *channel;
  GeglColor   *color = gegl_color_new ("black");
  gchar       *name;
  gint         offset_x, offset_y;

  /* TRANSLATORS: name of the channel that keeps an edit's selection;
   * %s is the layer's name (the instruction)
   */
  name    = g_strdup_printf (_("CoCoEdit selection: %s"), layer_name);
  channel = gimp_channel_new (image, name,
                              gimp_image_get_width (image),
                              gimp_image_get_height (image),
                              50.0, color);
  g_free (name);
  g_object_unref (color);

  gimp_item_set_visible (GIMP_ITEM (channel), FALSE);
  gimp_image_insert_channel (image, channel, NULL, -1);

  gimp_drawable_get_offsets (region->drawable, &offset_x, &offset_y);
  region_write_mask (region, GIMP_DRAWABLE (channel), offset_x, offset_y);

  return channel;
}

static void
attach_record (GimpItem             *item,
               const CocoeditRecord *record)
{
  GimpParasite *parasite;
  gchar        *json;
  gsize         length;

  json     = cocoedit_record_to_json (record, &length);
  parasite = gimp_parasite_new (COCOEDIT_RECORD_PARASITE,
                                GIMP_PARASITE_PERSISTENT |
                                GIMP_PARASITE_UNDOABLE,
                                length, json);
  gimp_item_attach_parasite (item, parasite);
  gimp_parasite_free (parasite);
  g_free (json);
}

CocoeditRecord *
cocoedit_region_get_record (GimpDrawable  *drawable,
                            GError       **error)
{
  GimpParasite   *parasite;
  CocoeditRecord *record;
  gconstpointer   data;
  guint32         length;

  parasite = gimp_item_get_parasite (GIMP_ITEM (drawable),
                                     COCOEDIT_RECORD_PARASITE);
  if (! parasite)
    return NULL;

  data   = gimp_parasite_get_data (parasite, &length);
  record = cocoedit_record_from_json (data, length, error);
  gimp_parasite_free (parasite);

  return record;
}

/* A new layer above the source: a copy of it with the result where the
 * selection is, and the selection as its layer mask, so that the user
 * can paint where the edit shows; or, with @replaces (Regenerate), a
 * copy of that layer, mask, name and place included, in its stead.
 */
static GimpDrawable *
region_apply_layer (CocoeditRegion *region,
                    GimpImage      *image,
                    const gchar    *layer_name,
                    GimpLayer      *replaces,
                    const guchar   *pixels)
{
  GimpLayer       *template = replaces ? replaces : GIMP_LAYER (region->drawable);
  GimpLayer       *layer;
  GimpLayer       *parent;
  GeglBuffer      *buffer;

  /* A copy keeps the source's offsets, size, mode, opacity and type,
   * and every pixel outside the selection exactly.
   */
  layer  = gimp_layer_copy (template);
  parent = GIMP_LAYER (gimp_item_get_parent (GIMP_ITEM (template)));

  if (! replaces)
    {
      gimp_item_set_name (GIMP_ITEM (layer), layer_name);

    }

  gimp_image_insert_layer (image, layer, parent,
                           gimp_image_get_item_position (image,
                                                         GIMP_ITEM (template)));

  /* An edit of an edit: the copy has the earlier one's mask and record
   * (GIMP removes a mask only from a layer in an image).
   */
  if (! replaces)
    {
      if (gimp_layer_get_mask (layer))
        gimp_layer_remove_mask (layer, GIMP_MASK_DISCARD);
      gimp_item_detach_parasite (GIMP_ITEM (layer), COCOEDIT_RECORD_PARASITE);
    }

  buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  gegl_buffer_set (buffer, &region->bounds, 0, region->native_format,
                   pixels, GEGL_AUTO_ROWSTRIDE);
  g_object_unref (buffer);

  if (! replaces && region->has_mask)
    {
      GimpLayerMask *mask = gimp_layer_create_mask (layer,
                                                    GIMP_ADD_MASK_BLACK);

      gimp_layer_add_mask (layer, mask);
      region_write_mask (region, GIMP_DRAWABLE (mask), 0, 0);

      /* GIMP makes a new mask the drawable being edited; the layer stays
       * active, so that the next CoCoEdit edits the result.
       */
      gimp_layer_set_edit_mask (layer, FALSE);
    }

  if (replaces)
    {
      guint  tattoo = gimp_item_get_tattoo (GIMP_ITEM (replaces));
      gchar *name   = gimp_item_get_name (GIMP_ITEM (replaces));

      /* Later edits of this one name it by tattoo; GIMP names a copy
       * "… #1" while the original is there.
       */
      gimp_image_remove_layer (image, replaces);
      gimp_item_set_tattoo (GIMP_ITEM (layer), tattoo);
      gimp_item_set_name (GIMP_ITEM (layer), name);
      g_free (name);
    }

  return GIMP_DRAWABLE (layer);
}

/* Whether the result of @region still has its place: the user may have
 * closed the image, removed the layer (or @replaces, the layer the result
 * is to replace) or resized it while the edit ran.  Called while the edit
 * runs, to stop it at once, and again before anything is changed.
 */
gboolean
cocoedit_region_check_place (CocoeditRegion  *region,
                             GimpLayer       *replaces,
                             GError         **error)
{
  GimpDrawable *drawable = region->drawable;

  if (item_is_gone (GIMP_ITEM (drawable)) ||
      (replaces && item_is_gone (GIMP_ITEM (replaces))))
    {
      g_set_error_literal (error, GIMP_PLUG_IN_ERROR, 0,
                           _("The layer was removed or its image closed "
                             "while the edit ran; nothing was changed."));
      return FALSE;
    }

  /* A resized layer's pixels moved within it (its boundary grew or shrank
   * on some side): the result would land in the wrong place.
   */
  if (gimp_drawable_get_width (drawable)  != region->drawable_width ||
      gimp_drawable_get_height (drawable) != region->drawable_height)
    {
      g_set_error_literal (error, GIMP_PLUG_IN_ERROR, 0,
                           _("The layer changed size while the edit ran; "
                             "nothing was changed."));
      return FALSE;
    }
  if (replaces)
    {
      gint sx, sy, rx, ry;

      gimp_drawable_get_offsets (drawable, &sx, &sy);
      gimp_drawable_get_offsets (GIMP_DRAWABLE (replaces), &rx, &ry);

      if (sx != rx || sy != ry ||
          gimp_drawable_get_width (GIMP_DRAWABLE (replaces)) != region->drawable_width ||
          gimp_drawable_get_height (GIMP_DRAWABLE (replaces)) != region->drawable_height ||
          gimp_item_get_image (GIMP_ITEM (replaces)) !=
          gimp_item_get_image (GIMP_ITEM (drawable)))
        {
          g_set_error_literal (error, GIMP_PLUG_IN_ERROR, 0,
                               _("This layer and the layer it was made from "
                                 "no longer have the same size and place; "
                                 "nothing was changed."));
          return FALSE;
        }
    }

  return TRUE;
}

GimpDrawable *
cocoedit_region_apply (CocoeditRegion      *region,
                       CocoeditOutputMode   mode,
                       const gchar         *layer_name,
                       CocoeditRecord      *record,
                       GimpLayer           *replaces,
                       GError             **error)
{
  GimpDrawable *drawable = region->drawable;
  GimpImage    *image;
  GimpDrawable *target;
  GeglBuffer   *buffer;
  guchar       *pixels;

  if (! cocoedit_region_check_place (region, replaces, error))
    return NULL;
  image = gimp_item_get_image (GIMP_ITEM (drawable));

  pixels = region_compose (region);
  if (! pixels)
    {
      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("Not enough memory to edit %d × %d pixels."),
                   region->bounds.width, region->bounds.height);
      return NULL;
    }

  gimp_image_undo_group_start (image);

  if (mode == COCOEDIT_OUTPUT_NEW_LAYER || replaces)
    {
      target = region_apply_layer (region, image, layer_name, replaces, pixels);

      if (record)
        {
          if (! replaces && region->has_mask)
            {
              GimpChannel *channel = region_save_selection (region, image,
                                                            layer_name);

              record->selection_tattoo = gimp_item_get_tattoo (GIMP_ITEM (channel));
            }
          attach_record (GIMP_ITEM (target), record);
        }

      /* The result is what the user works on next (a new channel would
       * be selected otherwise).
       */
      gimp_image_set_selected_layers (image, (const GimpLayer *[])
                                             { GIMP_LAYER (target), NULL });
    }
  else
    {
      target = drawable;

      buffer = gimp_drawable_get_shadow_buffer (target);
      gegl_buffer_set (buffer, &region->bounds, 0, region->native_format,
                       pixels, GEGL_AUTO_ROWSTRIDE);
      g_object_unref (buffer);

      gimp_drawable_merge_shadow (target, TRUE);
    }

  gimp_drawable_update (target,
                        region->bounds.x, region->bounds.y,
                        region->bounds.width, region->bounds.height);

  gimp_image_undo_group_end (image);

  g_free (pixels);

  return target;
}

/* A layer name from the instruction: its first line, at most 64
 * characters.
 */
gchar *
cocoedit_layer_name_from_prompt (const gchar *prompt)
{
  GString     *name = g_string_new (NULL);
  const gchar *p;
  gint         n    = 0;

  prompt = prompt ? prompt : "";
  while (g_unichar_isspace (g_utf8_get_char (prompt)))
    prompt = g_utf8_next_char (prompt);

  for (p = prompt; *p && *p != '\n' && *p != '\r'; p = g_utf8_next_char (p))
    {
      if (n == 64)
        {
          g_string_append (name, "…");
          break;
        }
      g_string_append_unichar (name, g_utf8_get_char (p));
      n++;
    }

  while (name->len > 0 && g_ascii_isspace (name->str[name->len - 1]))
    g_string_truncate (name, name->len - 1);

  return g_string_free (name, FALSE);
}

/* A picture of @crop at most @max_size pixels wide and high.  (Not
 * gimp_drawable_get_sub_thumbnail(): it double-frees in GIMP 3.0.4.)
 */
GdkPixbuf *
cocoedit_region_get_thumbnail (GimpDrawable        *drawable,
                               const GeglRectangle *crop,
                               gint                 max_size)
{
  GeglBuffer    *buffer;
  GdkPixbuf     *pixbuf;
  GeglRectangle  rect;
  gdouble        scale;

  scale = MIN (1.0, (gdouble) max_size / MAX (crop->width, crop->height));
  gegl_rectangle_set (&rect,
                      floor (crop->x * scale), floor (crop->y * scale),
                      MAX (1, crop->width * scale), MAX (1, crop->height * scale));

  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, rect.width, rect.height);
  buffer = gimp_drawable_get_buffer (drawable);
  gegl_buffer_get (buffer, &rect, scale,
                   babl_format_with_space ("R'G'B'A u8",
                                           gimp_drawable_get_format (drawable)),
                   gdk_pixbuf_get_pixels (pixbuf),
                   gdk_pixbuf_get_rowstride (pixbuf),
                   GEGL_ABYSS_NONE);
  g_object_unref (buffer);

  return pixbuf;
}

void
cocoedit_region_make_previews (CocoeditRegion  *region,
                               gint             max_size,
                               GdkPixbuf      **before,
                               GdkPixbuf      **after,
                               GdkPixbuf      **changes,
                               gdouble         *changed_fraction)
{
  gint       width  = region->crop.width;
  gint       height = region->crop.height;
  gdouble    scale  = MIN (1.0, (gdouble) max_size / MAX (width, height));
  gint       dest_w = MAX (1, (gint) (width * scale + 0.5));
  gint       dest_h = MAX (1, (gint) (height * scale + 0.5));
  GdkPixbuf *src_pixbuf;
  GdkPixbuf *out_pixbuf;
  GdkPixbuf *diff_pixbuf;
  guint64    n_changed = 0;
  gint       x, y;

  src_pixbuf  = rgba_to_pixbuf (region, &region->source, width, height);
  out_pixbuf  = rgba_to_pixbuf (region, &region->output, width, height);
  diff_pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, width, height);

  /* The engine painted the selected area hard; GIMP shows it through the
   * soft selection.
   */
  if (region->has_mask)
    for (y = 0; y < height; y++)
      {
        const guchar *s = gdk_pixbuf_get_pixels (src_pixbuf) +
                          y * gdk_pixbuf_get_rowstride (src_pixbuf);
        guchar       *o = gdk_pixbuf_get_pixels (out_pixbuf) +
                          y * gdk_pixbuf_get_rowstride (out_pixbuf);
        const gfloat *m = (const gfloat *)
          ((const guchar *) region->selection.data +
           (gsize) y * region->selection.stride);

        for (x = 0; x < width * 4; x++)
          o[x] = (guchar) (s[x] + (o[x] - s[x]) * m[x / 4] + 0.5f);
      }

  /* What changed: the source in faded grey, changed pixels in magenta
   * as strong as the change.
   */
  for (y = 0; y < height; y++)
    {
      const guchar *s = gdk_pixbuf_get_pixels (src_pixbuf) +
                        y * gdk_pixbuf_get_rowstride (src_pixbuf);
      const guchar *o = gdk_pixbuf_get_pixels (out_pixbuf) +
                        y * gdk_pixbuf_get_rowstride (out_pixbuf);
      guchar       *d = gdk_pixbuf_get_pixels (diff_pixbuf) +
                        y * gdk_pixbuf_get_rowstride (diff_pixbuf);

      for (x = 0; x < width; x++, s += 4, o += 4, d += 4)
        {
          gint diff = 0;
          gint grey = (s[0] * 54 + s[1] * 183 + s[2] * 19) >> 8;
          gint c;

          for (c = 0; c < 4; c++)
            diff = MAX (diff, ABS ((gint) s[c] - (gint) o[c]));

          if (diff > 0)
            n_changed++;

          diff = MIN (255, diff * 4);
          grey = 96 + grey / 3;

          d[0] = (grey * (255 - diff) + 255 * diff) / 255;
          d[1] = (grey * (255 - diff) +   0 * diff) / 255;
          d[2] = (grey * (255 - diff) + 200 * diff) / 255;
          d[3] = 255;
        }
    }

  *before  = gdk_pixbuf_scale_simple (src_pixbuf,  dest_w, dest_h,
                                      GDK_INTERP_BILINEAR);
  *after   = gdk_pixbuf_scale_simple (out_pixbuf,  dest_w, dest_h,
                                      GDK_INTERP_BILINEAR);
  *changes = gdk_pixbuf_scale_simple (diff_pixbuf, dest_w, dest_h,
                                      GDK_INTERP_BILINEAR);
  *changed_fraction = (gdouble) n_changed / ((gdouble) width * height);

  g_object_unref (src_pixbuf);
  g_object_unref (out_pixbuf);
  g_object_unref (diff_pixbuf);
}


/*  private functions  */

static void *
image_alloc (cocoedit_image        *image,
             gint                   width,
             gint                   height,
             cocoedit_pixel_format  format)
{
  gsize bpp;

  switch (format)
    {
    case COCOEDIT_RGBA8:    bpp = 4; break;
    case COCOEDIT_RGBA_F32: bpp = 16; break;
    case COCOEDIT_GRAY8:    bpp = 1; break;
    case COCOEDIT_GRAY_F32:
    default:                bpp = 4; break;
    }

  image->width  = width;
  image->height = height;
  image->format = format;
  image->stride = bpp * width;
  image->data   = g_try_malloc0 (image->stride * height);

  return image->data;
}

/* Masks are read and written as floats in their own model (linear or
 * not), so that the values round-trip exactly.
 */
static const Babl *
mask_format (GimpDrawable *drawable)
{
  if (babl_get_model_flags (gimp_drawable_get_format (drawable)) &
      BABL_MODEL_FLAG_LINEAR)
    return babl_format ("Y float");

  return babl_format ("Y' float");
}

/* The bounds' pixels in the drawable's own format: the engine's output
 * where the mask is not zero, the drawable's bytes where it is.
 */
static guchar *
region_compose (CocoeditRegion *region)
{
  const Babl *fish;
  gsize       engine_bpp = babl_format_get_bytes_per_pixel (region->engine_format);
  gsize       native_bpp = babl_format_get_bytes_per_pixel (region->native_format);
  gint        dx         = region->bounds.x - region->crop.x;
  gint        dy         = region->bounds.y - region->crop.y;
  guchar     *pixels;
  gint        x, y;

  pixels = g_try_malloc ((gsize) region->bounds.width *
                         region->bounds.height * native_bpp);
  if (! pixels)
    return NULL;

  fish = babl_fish (region->engine_format, region->native_format);

  for (y = 0; y < region->bounds.height; y++)
    {
      const guchar *out  = (const guchar *) region->output.data +
                           (gsize) (y + dy) * region->output.stride +
                           (gsize) dx * engine_bpp;
      guchar       *dest = pixels +
                           (gsize) y * region->bounds.width * native_bpp;

      babl_process (fish, out, dest, region->bounds.width);

      if (region->has_mask)
        {
          const gfloat *mask = (const gfloat *)
            ((const guchar *) region->mask.data +
             (gsize) (y + dy) * region->mask.stride) + dx;
          const guchar *src  = region->native +
                               (gsize) y * region->bounds.width * native_bpp;

          for (x = 0; x < region->bounds.width; x++)
            if (mask[x] <= 0.0f)
              memcpy (dest + x * native_bpp, src + x * native_bpp, native_bpp);
        }
    }

  return pixels;
}

static GdkPixbuf *
rgba_to_pixbuf (CocoeditRegion       *region,
                const cocoedit_image *image,
                gint                  width,
                gint                  height)
{
  GdkPixbuf  *pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8,
                                       width, height);
  const Babl *fish   = babl_fish (region->engine_format,
                                  babl_format_with_space ("R'G'B'A u8",
                                                          region->engine_format));
  gint        y;

  for (y = 0; y < height; y++)
    babl_process (fish,
                  (const guchar *) image->data + (gsize) y * image->stride,
                  gdk_pixbuf_get_pixels (pixbuf) +
                  y * gdk_pixbuf_get_rowstride (pixbuf),
                  width);

  return pixbuf;
}
