/* CoCoEdit for GIMP
 *
 * cocoedit-history.c: the recently used instructions
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * The list lives in a key file in the user's GIMP folder, most recent
 * first, without duplicates.  GKeyFile escapes newlines and separators,
 * so multi-line instructions survive.
 */

#include <libgimp/gimp.h>

#include "cocoedit-history.h"


#define HISTORY_GROUP "history"
#define HISTORY_KEY   "instructions"


gchar *
cocoedit_history_get_path (void)
{
  return g_build_filename (gimp_directory (), "cocoedit-gimp",
                           "history.ini", NULL);
}

gchar **
cocoedit_history_load (const gchar *path)
{
  GKeyFile  *key_file = g_key_file_new ();
  gchar    **list     = NULL;

  if (g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, NULL))
    list = g_key_file_get_string_list (key_file, HISTORY_GROUP, HISTORY_KEY,
                                       NULL, NULL);

  g_key_file_free (key_file);

  return list ? list : g_new0 (gchar *, 1);
}

gboolean
cocoedit_history_add (const gchar  *path,
                      const gchar  *instruction,
                      GError      **error)
{
  GKeyFile     *key_file;
  GPtrArray    *items;
  gchar       **old;
  gchar        *dir;
  gchar        *trimmed;
  gboolean      success;
  gint          i;

  trimmed = g_strstrip (g_strdup (instruction));
  if (! *trimmed)
    {
      g_free (trimmed);
      return TRUE;
    }

  old   = cocoedit_history_load (path);
  items = g_ptr_array_new ();

  g_ptr_array_add (items, trimmed);
  for (i = 0; old[i] && items->len < COCOEDIT_HISTORY_MAX; i++)
    if (g_strcmp0 (old[i], trimmed))
      g_ptr_array_add (items, old[i]);

  key_file = g_key_file_new ();
  g_key_file_set_string_list (key_file, HISTORY_GROUP, HISTORY_KEY,
                              (const gchar * const *) items->pdata,
                              items->len);

  dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0700);
  success = g_key_file_save_to_file (key_file, path, error);

  g_free (dir);
  g_key_file_free (key_file);
  g_ptr_array_free (items, TRUE);
  g_strfreev (old);
  g_free (trimmed);

  return success;
}
