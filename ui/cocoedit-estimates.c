/* CoCoEdit for GIMP
 *
 * cocoedit-estimates.c: how long one edit takes with each model on this
 * machine (see cocoedit-estimates.h)
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * A key file in GIMP's folder, one group per model folder and device.
 * The estimate follows the latest runs (the first run of a session also
 * loads the model and is slower; a moving average smooths that out).
 */

#include <glib/gstdio.h>
#include <libgimp/gimp.h>

#include "cocoedit-estimates.h"

#define SECONDS_KEY "seconds-per-edit"
/* Weight of the newest measurement. */
#define NEWEST_WEIGHT 0.5


gchar *
cocoedit_estimates_get_path (void)
{
  return g_build_filename (gimp_directory (), "cocoedit-gimp",
                           "estimates.ini", NULL);
}

static gchar *
group_name (const gchar *model_dir,
            const gchar *device)
{
  return g_strdup_printf ("%s|%s", device, model_dir);
}

gdouble
cocoedit_estimates_get (const gchar *path,
                        const gchar *model_dir,
                        const gchar *device)
{
  GKeyFile *key_file = g_key_file_new ();
  gchar    *group    = group_name (model_dir, device);
  gdouble   seconds  = -1.0;
  GError   *error    = NULL;

  if (g_key_file_load_from_file (key_file, path, G_KEY_FILE_NONE, NULL))
    {
      seconds = g_key_file_get_double (key_file, group, SECONDS_KEY, &error);
      /* A file edited by hand may say anything. */
      if (error || ! (seconds > 0.0 && seconds < 1e6))
        seconds = -1.0;
      g_clear_error (&error);
    }

  g_free (group);
  g_key_file_free (key_file);

  return seconds;
}

gboolean
cocoedit_estimates_add (const gchar  *path,
                        const gchar  *model_dir,
                        const gchar  *device,
                        gdouble       seconds,
                        GError      **error)
{
  GKeyFile *key_file = g_key_file_new ();
  gchar    *group    = group_name (model_dir, device);
  gdouble   old      = cocoedit_estimates_get (path, model_dir, device);
  gchar    *dir;
  gboolean  success;

  g_key_file_load_from_file (key_file, path, G_KEY_FILE_KEEP_COMMENTS, NULL);

  if (old > 0.0)
    seconds = NEWEST_WEIGHT * seconds + (1.0 - NEWEST_WEIGHT) * old;
  g_key_file_set_double (key_file, group, SECONDS_KEY, seconds);

  /* g_key_file_save_to_file() writes a temporary file and renames it. */
  dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0700);
  success = g_key_file_save_to_file (key_file, path, error);

  g_free (dir);
  g_free (group);
  g_key_file_free (key_file);

  return success;
}
