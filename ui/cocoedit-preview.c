/* CoCoEdit for GIMP
 *
 * cocoedit-preview.c: shows the region before and after an edit
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * A drawing area that shows one of three pictures of the edited region,
 * scaled to fit over a checkerboard: the source, the result, or what
 * changed.  Holding a mouse button down on it shows the source, the
 * quickest way to compare.
 */

#include <libgimp/gimpui.h>

#include <glib/gi18n-lib.h>

#include "cocoedit-preview.h"


struct _CocoeditPreview
{
  GtkDrawingArea       parent_instance;

  GdkPixbuf           *before;
  GdkPixbuf           *after;
  GdkPixbuf           *changes;
  CocoeditPreviewMode  mode;
  gboolean             pressed;
};


static void     cocoedit_preview_finalize      (GObject        *object);
static gboolean cocoedit_preview_draw          (GtkWidget      *widget,
                                                cairo_t        *cr);
static gboolean cocoedit_preview_button_press  (GtkWidget      *widget,
                                                GdkEventButton *event);
static gboolean cocoedit_preview_button_release(GtkWidget      *widget,
                                                GdkEventButton *event);


G_DEFINE_FINAL_TYPE (CocoeditPreview, cocoedit_preview, GTK_TYPE_DRAWING_AREA)


static void
cocoedit_preview_class_init (CocoeditPreviewClass *klass)
{
  GObjectClass   *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize             = cocoedit_preview_finalize;

  widget_class->draw                 = cocoedit_preview_draw;
  widget_class->button_press_event   = cocoedit_preview_button_press;
  widget_class->button_release_event = cocoedit_preview_button_release;
}

static void
cocoedit_preview_init (CocoeditPreview *preview)
{
  preview->mode = COCOEDIT_PREVIEW_AFTER;

  gtk_widget_add_events (GTK_WIDGET (preview),
                         GDK_BUTTON_PRESS_MASK | GDK_BUTTON_RELEASE_MASK);
}

static void
cocoedit_preview_finalize (GObject *object)
{
  CocoeditPreview *preview = COCOEDIT_PREVIEW (object);

  g_clear_object (&preview->before);
  g_clear_object (&preview->after);
  g_clear_object (&preview->changes);

  G_OBJECT_CLASS (cocoedit_preview_parent_class)->finalize (object);
}

static GdkPixbuf *
cocoedit_preview_get_shown (CocoeditPreview *preview)
{
  if (preview->pressed || ! preview->after)
    return preview->before;

  switch (preview->mode)
    {
    case COCOEDIT_PREVIEW_BEFORE:  return preview->before;
    case COCOEDIT_PREVIEW_CHANGES: return preview->changes;
    case COCOEDIT_PREVIEW_AFTER:   break;
    }

  return preview->after;
}

static gboolean
cocoedit_preview_draw (GtkWidget *widget,
                       cairo_t   *cr)
{
  CocoeditPreview *preview = COCOEDIT_PREVIEW (widget);
  GdkPixbuf       *pixbuf  = cocoedit_preview_get_shown (preview);
  gint             width   = gtk_widget_get_allocated_width (widget);
  gint             height  = gtk_widget_get_allocated_height (widget);
  GeglColor       *light;
  GeglColor       *dark;
  cairo_pattern_t *checks;
  gint             pw, ph;
  gdouble          scale;

  if (! pixbuf)
    return FALSE;

  pw    = gdk_pixbuf_get_width (pixbuf);
  ph    = gdk_pixbuf_get_height (pixbuf);
  scale = MIN ((gdouble) width / pw, (gdouble) height / ph);

  cairo_save (cr);
  cairo_translate (cr,
                   (gint) ((width  - pw * scale) / 2.0),
                   (gint) ((height - ph * scale) / 2.0));

  light = gegl_color_new ("#999999");
  dark  = gegl_color_new ("#666666");
  checks = gimp_cairo_checkerboard_create (cr, 8, light, dark);
  cairo_rectangle (cr, 0, 0, (gint) (pw * scale), (gint) (ph * scale));
  cairo_set_source (cr, checks);
  cairo_fill_preserve (cr);
  cairo_pattern_destroy (checks);
  g_object_unref (light);
  g_object_unref (dark);

  cairo_clip (cr);
  cairo_scale (cr, scale, scale);
  gdk_cairo_set_source_pixbuf (cr, pixbuf, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr),
                            scale > 1.0 ? CAIRO_FILTER_NEAREST
                                        : CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_restore (cr);

  return TRUE;
}

static gboolean
cocoedit_preview_button_press (GtkWidget      *widget,
                               GdkEventButton *event)
{
  CocoeditPreview *preview = COCOEDIT_PREVIEW (widget);

  preview->pressed = TRUE;
  gtk_widget_queue_draw (widget);

  return TRUE;
}

static gboolean
cocoedit_preview_button_release (GtkWidget      *widget,
                                 GdkEventButton *event)
{
  CocoeditPreview *preview = COCOEDIT_PREVIEW (widget);

  preview->pressed = FALSE;
  gtk_widget_queue_draw (widget);

  return TRUE;
}


/*  public functions  */

GtkWidget *
cocoedit_preview_new (gint size)
{
  GtkWidget *preview = g_object_new (COCOEDIT_TYPE_PREVIEW, NULL);

  gtk_widget_set_size_request (preview, size, size);
  gimp_help_set_help_data (preview,
                           _("Hold a mouse button down on the preview to "
                             "see the original"), NULL);

  return preview;
}

void
cocoedit_preview_set_before (CocoeditPreview *preview,
                             GdkPixbuf       *before)
{
  g_return_if_fail (COCOEDIT_IS_PREVIEW (preview));

  g_set_object (&preview->before, before);
  g_clear_object (&preview->after);
  g_clear_object (&preview->changes);

  gtk_widget_queue_draw (GTK_WIDGET (preview));
}

void
cocoedit_preview_set_result (CocoeditPreview *preview,
                             GdkPixbuf       *before,
                             GdkPixbuf       *after,
                             GdkPixbuf       *changes)
{
  g_return_if_fail (COCOEDIT_IS_PREVIEW (preview));

  g_set_object (&preview->before,  before);
  g_set_object (&preview->after,   after);
  g_set_object (&preview->changes, changes);

  gtk_widget_queue_draw (GTK_WIDGET (preview));
}

gboolean
cocoedit_preview_has_result (CocoeditPreview *preview)
{
  g_return_val_if_fail (COCOEDIT_IS_PREVIEW (preview), FALSE);

  return preview->after != NULL;
}

void
cocoedit_preview_set_mode (CocoeditPreview     *preview,
                           CocoeditPreviewMode  mode)
{
  g_return_if_fail (COCOEDIT_IS_PREVIEW (preview));

  preview->mode = mode;
  gtk_widget_queue_draw (GTK_WIDGET (preview));
}

CocoeditPreviewMode
cocoedit_preview_get_mode (CocoeditPreview *preview)
{
  g_return_val_if_fail (COCOEDIT_IS_PREVIEW (preview), COCOEDIT_PREVIEW_AFTER);

  return preview->mode;
}
