/* CoCoEdit for GIMP
 *
 * cocoedit-models.c: the models the dialog offers (see cocoedit-models.h)
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <sys/stat.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cocoedit-models.h"


static gboolean
has_file (const gchar *dir,
          const gchar *name)
{
  gchar    *path  = g_build_filename (dir, name, NULL);
  gboolean  found = g_file_test (path, G_FILE_TEST_IS_REGULAR);

  g_free (path);

  return found;
}

gboolean
cocoedit_is_model_path (const gchar *path)
{
  if (g_str_has_suffix (path, ".json"))
    return g_file_test (path, G_FILE_TEST_IS_REGULAR);

  return has_file (path, "config.json") || has_file (path, "model_index.json");
}

gchar *
cocoedit_models_folder (void)
{
  const gchar *env = g_getenv ("COCOEDIT_MODELS_DIR");

  if (env && *env)
    return g_strdup (env);

  return g_build_filename (g_get_user_data_dir (), "cocoedit", "models", NULL);
}

/* Bytes of the .safetensors files in @dir and, when @depth > 0, in its
 * sub-folders (a diffusers folder keeps them in transformer/, vae/, ...).
 */
static guint64
weights_bytes (const gchar *dir,
               gint         depth)
{
  GDir        *d     = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint64      total = 0;

  if (! d)
    return 0;

  while ((name = g_dir_read_name (d)))
    {
      gchar     *path = g_build_filename (dir, name, NULL);
      GStatBuf   st;

      if (g_stat (path, &st) == 0)
        {
          if (S_ISREG (st.st_mode) && g_str_has_suffix (name, ".safetensors"))
            total += (guint64) st.st_size;
          else if (S_ISDIR (st.st_mode) && depth > 0)
            total += weights_bytes (path, depth - 1);
        }
      g_free (path);
    }
  g_dir_close (d);

  return total;
}

/* The files a model description names, relative to its folder; the
 * engine checks the description itself when it opens it.
 */
static guint64
description_bytes (const gchar *path)
{
  static const gchar *keys[] = { "transformer", "vae", "clip_l", "t5xxl" };
  JsonParser *parser = json_parser_new ();
  JsonNode   *root;
  gchar      *dir;
  guint64     total  = 0;

  if (! json_parser_load_from_file (parser, path, NULL) ||
      ! (root = json_parser_get_root (parser)) || ! JSON_NODE_HOLDS_OBJECT (root))
    {
      g_object_unref (parser);
      return 0;
    }

  dir = g_path_get_dirname (path);
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonObject  *object = json_node_get_object (root);
      JsonNode    *member = json_object_get_member (object, keys[i]);
      const gchar *file;
      gchar       *full;
      GStatBuf     st;

      if (! member || json_node_get_value_type (member) != G_TYPE_STRING)
        continue;

      file = json_node_get_string (member);
      full = g_path_is_absolute (file) ? g_strdup (file) : g_build_filename (dir, file, NULL);
      if (g_stat (full, &st) == 0 && S_ISREG (st.st_mode))
        total += (guint64) st.st_size;
      g_free (full);
    }
  g_free (dir);
  g_object_unref (parser);

  return total;
}

CocoeditModelEntry *
cocoedit_model_entry_new (const gchar *path)
{
  CocoeditModelEntry *entry;

  if (! path || ! *path || ! cocoedit_is_model_path (path))
    return NULL;

  entry       = g_new0 (CocoeditModelEntry, 1);
  entry->path = g_strdup (path);
  entry->name = g_path_get_basename (path);

  if (g_str_has_suffix (path, ".json"))
    {
      entry->family = g_strdup ("flux-kontext");
      entry->bytes  = description_bytes (path);
    }
  else
    {
      entry->family = g_strdup (has_file (path, "model_index.json") ? "flux-kontext"
                                                                     : "cocoedit");
      entry->bytes  = weights_bytes (path, 1);
    }

  return entry;
}

void
cocoedit_model_entry_free (CocoeditModelEntry *entry)
{
  if (! entry)
    return;

  g_free (entry->path);
  g_free (entry->name);
  g_free (entry->family);
  g_free (entry);
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  const CocoeditModelEntry *x = *(CocoeditModelEntry * const *) a;
  const CocoeditModelEntry *y = *(CocoeditModelEntry * const *) b;

  return g_utf8_collate (x->name, y->name);
}

GPtrArray *
cocoedit_models_in_folder (const gchar *folder)
{
  GPtrArray   *models = g_ptr_array_new_with_free_func ((GDestroyNotify) cocoedit_model_entry_free);
  GDir        *d      = folder ? g_dir_open (folder, 0, NULL) : NULL;
  const gchar *name;

  if (! d)
    return models;

  while ((name = g_dir_read_name (d)))
    {
      gchar              *path  = g_build_filename (folder, name, NULL);
      CocoeditModelEntry *entry = NULL;

      if (name[0] != '.' &&
          (g_file_test (path, G_FILE_TEST_IS_DIR) || g_str_has_suffix (name, ".json")))
        entry = cocoedit_model_entry_new (path);

      if (entry)
        g_ptr_array_add (models, entry);
      g_free (path);
    }
  g_dir_close (d);

  g_ptr_array_sort (models, compare_names);

  return models;
}
