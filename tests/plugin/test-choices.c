/* test-choices.c: the plug-in's kept choices are a dataset the trainer
 * loads: written by cocoedit_choices_append() (plugin/cocoedit-choices.c),
 * read back by libcocodata's manifest loader as preference records, pixel
 * for pixel, the second choice appended without touching the first.
 */

#include <string.h>

#include <glib/gstdio.h>

#include "cocodata.h"
#include "cocoedit-choices.h"

#define W 40
#define H 24

static guint8 *
pattern (guint channels,
         guint seed)
{
  guint8 *p = g_malloc ((gsize) W * H * channels);

  for (gsize i = 0; i < (gsize) W * H * channels; i++)
    p[i] = (guint8) (i * 7 + seed * 31 + (i / channels) % 13);
  return p;
}

static void
remove_tree (const gchar *dir)
{
  gchar *argv[] = { "rm", "-rf", (gchar *) dir, NULL };

  g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                NULL, NULL);
}

static void
test_round_trip (void)
{
  gchar           *dir = g_dir_make_tmp ("cocoedit-choices-XXXXXX", NULL);
  guint8          *source   = pattern (3, 1);
  guint8          *mask     = pattern (1, 2);
  guint8          *chosen   = pattern (3, 3);
  guint8          *other[2] = { pattern (3, 4), pattern (3, 5) };
  CocoeditChoice   choice   = { W, H, source, mask, chosen,
                                (const guint8 *const *) other, 2,
                                "把杯子换成红色的", "{\"seeds\":{\"chosen\":8,\"rejected\":[7,9]}}" };
  CocodataDataset *ds;
  CocodataSample   s = { 0 };
  GError          *error = NULL;
  gchar           *first, *second;

  first = cocoedit_choices_append (dir, &choice, &error);
  g_assert_no_error (error);
  g_assert_nonnull (first);

  /* A second choice, one rejected variation. */
  choice.prompt     = "make the cup red";
  choice.n_rejected = 1;
  second = cocoedit_choices_append (dir, &choice, &error);
  g_assert_no_error (error);

  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cocodata_dataset_format (ds), ==, COCODATA_FORMAT_MANIFEST);
  g_assert_cmpuint (cocodata_dataset_size (ds), ==, 2);

  g_assert_true (cocodata_dataset_get (ds, 0, &s, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (s.id, ==, first);
  g_assert_cmpstr (s.prompt, ==, "把杯子换成红色的");
  g_assert_cmpuint (s.width, ==, W);
  g_assert_cmpuint (s.height, ==, H);
  g_assert_cmpmem (s.source, W * H * 3, source, W * H * 3);
  g_assert_cmpmem (s.mask, W * H, mask, W * H);
  g_assert_cmpmem (s.target, W * H * 3, chosen, W * H * 3);
  g_assert_cmpuint (s.n_rejected, ==, 2);
  g_assert_cmpmem (s.rejected[0], W * H * 3, other[0], W * H * 3);
  g_assert_cmpmem (s.rejected[1], W * H * 3, other[1], W * H * 3);
  g_assert_nonnull (strstr (s.metadata, "\"rejected\":[7,9]"));
  cocodata_sample_clear (&s);

  g_assert_true (cocodata_dataset_get (ds, 1, &s, &error));
  g_assert_cmpstr (s.id, ==, second);
  g_assert_cmpuint (s.n_rejected, ==, 1);
  cocodata_sample_clear (&s);
  cocodata_dataset_free (ds);

  /* Damaged metadata is refused before anything is written. */
  choice.metadata = "{not json";
  g_assert_null (cocoedit_choices_append (dir, &choice, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cocodata_dataset_size (ds), ==, 2);
  cocodata_dataset_free (ds);

  g_free (first);
  g_free (second);
  g_free (source);
  g_free (mask);
  g_free (chosen);
  g_free (other[0]);
  g_free (other[1]);
  remove_tree (dir);
  g_free (dir);
}

/* The loader's checks of preference records. */
static void
test_bad_records (void)
{
  static const gchar *bad[] =
  {
    "\"rejected\": []",
    "\"rejected\": \"images/a_rejected0.png\"",
    "\"rejected\": [3]",
    "\"rejected\": [\"../outside.png\"]",
    "\"rejected\": [\"images/small.png\"]",
    "\"rejected\": [\"images/missing.png\"]",
  };
  gchar          *dir    = g_dir_make_tmp ("cocoedit-choices-XXXXXX", NULL);
  guint8         *pixels = pattern (3, 1);
  guint8         *mask   = pattern (1, 1);
  CocoeditChoice  choice = { W, H, pixels, mask, pixels,
                             (const guint8 *const *) &pixels, 1, "x", "{}" };
  CocoeditChoice  small  = { 8, 8, pixels, mask, pixels, NULL, 0, "x", "{}" };
  GError         *error  = NULL;
  gchar          *id, *small_id, *path, *from, *to;

  id = cocoedit_choices_append (dir, &choice, &error);
  g_assert_no_error (error);
  /* An 8 × 8 picture to refer to, then only its image kept. */
  small_id = cocoedit_choices_append (dir, &small, &error);
  g_assert_no_error (error);
  from = g_strdup_printf ("%s/images/%s.png", dir, small_id);
  to   = g_strdup_printf ("%s/images/small.png", dir);
  g_assert_cmpint (g_rename (from, to), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gchar           *line;
      CocodataDataset *ds;

      line = g_strdup_printf ("{\"id\":\"a\",\"prompt\":\"x\",\"image\":\"images/%s.png\","
                              "\"mask\":\"images/%s_mask.png\",\"target\":\"images/%s_target.png\","
                              "%s}\n", id, id, id, bad[i]);
      path = g_build_filename (dir, "manifest.jsonl", NULL);
      g_assert_true (g_file_set_contents (path, line, -1, NULL));
      ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
      if (ds || ! strstr (error->message, "rejected"))
        g_error ("%s: %s", bad[i], ds ? "accepted" : error->message);
      g_clear_error (&error);
      g_free (line);
      g_free (path);
    }

  g_free (id);
  g_free (small_id);
  g_free (from);
  g_free (to);
  g_free (pixels);
  g_free (mask);
  remove_tree (dir);
  g_free (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/choices/round-trip", test_round_trip);
  g_test_add_func ("/choices/bad-records", test_bad_records);

  return g_test_run ();
}
