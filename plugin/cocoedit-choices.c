/* CoCoEdit for GIMP
 *
 * cocoedit-choices.c: the user's choices among variations as a dataset
 * (see cocoedit-choices.h; the format is docs/data.md's manifest)
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <errno.h>
#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cocoedit-choices.h"


gchar *
cocoedit_choices_folder (void)
{
  const gchar *env = g_getenv ("COCOEDIT_CHOICES_DIR");

  if (env && *env)
    return g_strdup (env);

  return g_build_filename (g_get_user_data_dir (), "cocoedit", "choices",
                           NULL);
}

/* A PNG of @pixels (RGB8 or GRAY8), written atomically. */
static gboolean
write_png (const gchar   *path,
           const guint8  *pixels,
           gint           width,
           gint           height,
           gint           channels,
           GError       **error)
{
  GdkPixbuf *pixbuf;
  gchar     *data = NULL;
  gsize      size = 0;
  gboolean   success;
  gint       x, y;

  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, width, height);
  if (! pixbuf)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                   "no memory for a %d × %d picture", width, height);
      return FALSE;
    }

  /* GdkPixbuf has no grey PNGs: a mask is written as equal R, G, B, which
   * every reader (ours too) turns back into the same grey.
   */
  for (y = 0; y < height; y++)
    {
      guchar       *row = gdk_pixbuf_get_pixels (pixbuf) +
                          (gsize) y * gdk_pixbuf_get_rowstride (pixbuf);
      const guint8 *src = pixels + (gsize) y * width * channels;

      for (x = 0; x < width; x++)
        {
          row[3 * x + 0] = src[x * channels + 0];
          row[3 * x + 1] = src[x * channels + (channels == 3 ? 1 : 0)];
          row[3 * x + 2] = src[x * channels + (channels == 3 ? 2 : 0)];
        }
    }

  success = gdk_pixbuf_save_to_buffer (pixbuf, &data, &size, "png", error,
                                       "compression", "3", NULL) &&
            g_file_set_contents (path, data, size, error);

  g_free (data);
  g_object_unref (pixbuf);

  return success;
}

gchar *
cocoedit_choices_append (const gchar          *folder,
                         const CocoeditChoice *choice,
                         GError              **error)
{
  g_autoptr (JsonBuilder)   builder   = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonParser)    metadata  = json_parser_new ();
  g_autoptr (JsonNode)      root      = NULL;
  g_autoptr (GDateTime)     now       = g_date_time_new_now_utc ();
  g_autofree gchar         *images    = g_build_filename (folder, "images", NULL);
  g_autofree gchar         *manifest  = g_build_filename (folder, "manifest.jsonl", NULL);
  g_autofree gchar         *stamp     = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree gchar         *old       = NULL;
  g_autofree gchar         *line      = NULL;
  g_autofree gchar         *text      = NULL;
  gchar                    *id;
  gsize                     old_length = 0;
  guint                     k;

  if (! json_parser_load_from_data (metadata, choice->metadata, -1, error))
    return NULL;

  if (g_mkdir_with_parents (images, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot make the folder %s: %s", images, g_strerror (errno));
      return NULL;
    }

  id = g_strdup_printf ("choice-%s-%08x", stamp, g_random_int ());

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, id);
  json_builder_set_member_name (builder, "prompt");
  json_builder_add_string_value (builder, choice->prompt);

  /* images/<id>.png, _mask, _target (the chosen), _rejected<k> */
  {
    static const gchar *fields[] = { "image", "mask", "target" };
    static const gchar *suffix[] = { "", "_mask", "_target" };
    const guint8       *pixels[] = { choice->source, choice->mask, choice->chosen };

    for (k = 0; k < G_N_ELEMENTS (fields); k++)
      {
        g_autofree gchar *name = g_strdup_printf ("%s%s.png", id, suffix[k]);
        g_autofree gchar *path = g_build_filename (images, name, NULL);
        g_autofree gchar *rel  = g_strconcat ("images/", name, NULL);

        if (! write_png (path, pixels[k], choice->width, choice->height,
                         k == 1 ? 1 : 3, error))
          goto fail;
        json_builder_set_member_name (builder, fields[k]);
        json_builder_add_string_value (builder, rel);
      }
  }

  json_builder_set_member_name (builder, "rejected");
  json_builder_begin_array (builder);
  for (k = 0; k < choice->n_rejected; k++)
    {
      g_autofree gchar *name = g_strdup_printf ("%s_rejected%u.png", id, k);
      g_autofree gchar *path = g_build_filename (images, name, NULL);
      g_autofree gchar *rel  = g_strconcat ("images/", name, NULL);

      if (! write_png (path, choice->rejected[k], choice->width,
                       choice->height, 3, error))
        goto fail;
      json_builder_add_string_value (builder, rel);
    }
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "edit_type");
  json_builder_add_string_value (builder, "unknown");
  json_builder_set_member_name (builder, "width");
  json_builder_add_int_value (builder, choice->width);
  json_builder_set_member_name (builder, "height");
  json_builder_add_int_value (builder, choice->height);
  json_builder_set_member_name (builder, "metadata");
  json_builder_add_value (builder,
                          json_node_copy (json_parser_get_root (metadata)));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  line = json_generator_to_data (generator, NULL);

  /* The manifest with the new line, written whole and renamed over the
   * old one.
   */
  if (g_file_test (manifest, G_FILE_TEST_EXISTS) &&
      ! g_file_get_contents (manifest, &old, &old_length, error))
    goto fail;
  text = g_strdup_printf ("%s%s%s\n", old ? old : "",
                          old_length && old[old_length - 1] != '\n' ? "\n" : "",
                          line);
  if (! g_file_set_contents (manifest, text, -1, error))
    goto fail;

  return id;

 fail:
  g_free (id);
  return NULL;
}
