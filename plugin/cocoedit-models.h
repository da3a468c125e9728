/* CoCoEdit for GIMP
 *
 * cocoedit-models.h: the models the dialog offers: the installed one,
 * $COCOEDIT_MODEL and every model in the user's models folder, each
 * with its family and size on disk.  GLib only, so that a unit test
 * can run it without GIMP.
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_MODELS_H__
#define __COCOEDIT_MODELS_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gchar   *path;    /* the folder, or a model description file        */
  gchar   *name;    /* its file name                                  */
  gchar   *family;  /* "cocoedit" or "flux-kontext" (by the files)    */
  guint64  bytes;   /* of its .safetensors files, one level of folders */
} CocoeditModelEntry;

/* A CoCoEdit model (config.json), a diffusers FLUX.1 Kontext folder
 * (model_index.json) or a model description file naming BFL's single
 * files (.json); the engine tells the families apart for certain.
 */
gboolean     cocoedit_is_model_path    (const gchar *path);

/* The user's models folder: $COCOEDIT_MODELS_DIR, else
 * <user data dir>/cocoedit/models.  Newly allocated.
 */
gchar      * cocoedit_models_folder    (void);

/* An entry for the model at @path, or NULL when it is none. */
CocoeditModelEntry *
             cocoedit_model_entry_new  (const gchar        *path);
void         cocoedit_model_entry_free (CocoeditModelEntry *entry);

/* The models in @folder (its sub-folders and .json files that are
 * models), sorted by name; empty when @folder does not exist.  Owns its
 * entries.
 */
GPtrArray  * cocoedit_models_in_folder (const gchar        *folder);

G_END_DECLS

#endif /* __COCOEDIT_MODELS_H__ */
