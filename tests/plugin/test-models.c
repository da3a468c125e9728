/* test-models.c: the models the dialog offers, found in a models folder
 * made here: a CoCoEdit model, a diffusers FLUX.1 Kontext folder, a model
 * description file, and things that are not models.
 */

#include <glib.h>
#include <glib/gstdio.h>

#include "cocoedit-models.h"

static void
write_bytes (const gchar *path,
             gsize        n)
{
  gchar  *dir  = g_path_get_dirname (path);
  gchar  *data = g_malloc0 (n);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, data, n, NULL));
  g_free (data);
  g_free (dir);
}

static void
write_text (const gchar *path,
            const gchar *text)
{
  gchar *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_free (dir);
}

static gchar *
in (const gchar *root,
    const gchar *rel)
{
  return g_build_filename (root, rel, NULL);
}

static void
test_folder (void)
{
  gchar     *root = g_dir_make_tmp ("cocoedit-models-XXXXXX", NULL);
  gchar     *p;
  GPtrArray *models;
  const CocoeditModelEntry *e;

  /* b-small: the project's own model, 1000 bytes of weights. */
  p = in (root, "b-small/config.json"); write_text (p, "{}"); g_free (p);
  p = in (root, "b-small/model.safetensors"); write_bytes (p, 1000); g_free (p);
  /* a-kontext: diffusers layout, weights one folder down (two shards). */
  p = in (root, "a-kontext/model_index.json"); write_text (p, "{}"); g_free (p);
  p = in (root, "a-kontext/transformer/x-00001.safetensors"); write_bytes (p, 300); g_free (p);
  p = in (root, "a-kontext/transformer/x-00002.safetensors"); write_bytes (p, 200); g_free (p);
  p = in (root, "a-kontext/vae/y.safetensors"); write_bytes (p, 50); g_free (p);
  /* c-single.json: BFL's single files, relative to the description. */
  p = in (root, "files/flux1-kontext-dev.safetensors"); write_bytes (p, 70); g_free (p);
  p = in (root, "files/ae.safetensors"); write_bytes (p, 7); g_free (p);
  p = in (root, "c-single.json");
  write_text (p, "{\"transformer\": \"files/flux1-kontext-dev.safetensors\", "
                 "\"vae\": \"files/ae.safetensors\", \"clip_l\": \"files/missing.safetensors\"}");
  g_free (p);
  /* Not models: an empty folder, a folder of weights alone, a text file,
   * a hidden folder, a broken description. */
  p = in (root, "empty"); g_assert_cmpint (g_mkdir (p, 0755), ==, 0); g_free (p);
  p = in (root, "weights-only/model.safetensors"); write_bytes (p, 10); g_free (p);
  p = in (root, "notes.txt"); write_text (p, "hello"); g_free (p);
  p = in (root, ".hidden/config.json"); write_text (p, "{}"); g_free (p);
  p = in (root, "d-broken.json"); write_text (p, "{ not json"); g_free (p);

  models = cocoedit_models_in_folder (root);
  g_assert_cmpuint (models->len, ==, 4);

  e = g_ptr_array_index (models, 0);
  g_assert_cmpstr (e->name, ==, "a-kontext");
  g_assert_cmpstr (e->family, ==, "flux-kontext");
  g_assert_cmpuint (e->bytes, ==, 550);

  e = g_ptr_array_index (models, 1);
  g_assert_cmpstr (e->name, ==, "b-small");
  g_assert_cmpstr (e->family, ==, "cocoedit");
  g_assert_cmpuint (e->bytes, ==, 1000);

  e = g_ptr_array_index (models, 2);
  g_assert_cmpstr (e->name, ==, "c-single.json");
  g_assert_cmpstr (e->family, ==, "flux-kontext");
  g_assert_cmpuint (e->bytes, ==, 77);  /* the missing CLIP file adds nothing */

  /* A description that is not JSON is still offered (the engine says
   * what is wrong with it when it is chosen), with no size. */
  e = g_ptr_array_index (models, 3);
  g_assert_cmpstr (e->name, ==, "d-broken.json");
  g_assert_cmpuint (e->bytes, ==, 0);
  g_ptr_array_unref (models);

  /* A folder that does not exist offers nothing. */
  p = in (root, "nowhere");
  models = cocoedit_models_in_folder (p);
  g_assert_cmpuint (models->len, ==, 0);
  g_ptr_array_unref (models);
  g_free (p);

  g_assert_null (cocoedit_model_entry_new (NULL));
  g_assert_null (cocoedit_model_entry_new (""));
  g_free (root);
}

static void
test_models_folder (void)
{
  gchar *folder;

  g_setenv ("COCOEDIT_MODELS_DIR", "/somewhere/models", TRUE);
  folder = cocoedit_models_folder ();
  g_assert_cmpstr (folder, ==, "/somewhere/models");
  g_free (folder);

  g_unsetenv ("COCOEDIT_MODELS_DIR");
  folder = cocoedit_models_folder ();
  g_assert_true (g_str_has_suffix (folder, G_DIR_SEPARATOR_S "cocoedit" G_DIR_SEPARATOR_S "models"));
  g_free (folder);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/models/folder", test_folder);
  g_test_add_func ("/models/models-folder", test_models_folder);

  return g_test_run ();
}
