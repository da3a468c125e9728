/* Tests of the dataset loaders and the asset catalogue's error handling,
 * with fixtures the tests write themselves (no assets needed).
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "cocodata.h"

#define W 24
#define H 16

static gchar *
make_dir (void)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("cocodata-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree gchar *p = g_build_filename (dir, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        remove_tree (p);
      else
        g_unlink (p);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

/* A deterministic picture; salt makes pictures differ. */
static guint8 *
pattern (guint w, guint h, guint channels, guint salt)
{
  guint8 *p = g_malloc ((gsize) w * h * channels);

  for (gsize i = 0; i < (gsize) w * h * channels; i++)
    p[i] = (guint8) (i * 7 + salt * 31 + (i / channels) % 5);
  return p;
}

/* A mask: left half (x < w/2) set to value, the rest to 255 - value. */
static guint8 *
half_mask (guint w, guint h, guint8 value)
{
  guint8 *m = g_malloc ((gsize) w * h);

  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      m[y * w + x] = x < w / 2 ? value : 255 - value;
  return m;
}

static void
write_png (const gchar *dir, const gchar *name, const guint8 *px, guint w, guint h, guint ch)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (cocodata_write_png (path, px, w, h, ch, &error));
  g_assert_no_error (error);
}

static void
write_text (const gchar *dir, const gchar *name, const gchar *text)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

/* ---- our manifest: write with cocodata_sample_save, read back ---- */

static void
test_manifest_round_trip (void)
{
  g_autofree gchar *dir = make_dir ();
  g_autofree gchar *images = g_build_filename (dir, "images", NULL);
  GString *manifest = g_string_new (NULL);
  CocodataSample written[3];
  CocodataDataset *ds;
  g_autoptr (GError) error = NULL;

  g_mkdir (images, 0755);
  for (guint i = 0; i < 3; i++)
    {
      CocodataSample *s = &written[i];
      gchar *line;

      memset (s, 0, sizeof *s);
      s->width = W;
      s->height = H;
      s->source = pattern (W, H, 3, i);
      s->target = i == 2 ? NULL : pattern (W, H, 3, i + 10);
      s->mask = half_mask (W, H, 255);
      s->prompt = g_strdup (i == 1 ? "把杯子换成\"狗\"\n。" : "Remove the cup.");
      s->edit_type = i == 2 ? COCODATA_EDIT_UNKNOWN : COCODATA_EDIT_REMOVE;
      s->lang = g_strdup (i == 1 ? "zh" : "en");
      s->id = g_strdup_printf ("s%u", i);
      s->metadata = g_strdup ("{\"k\":[1,2]}");
      line = cocodata_sample_save (s, dir, "images", s->id, &error);
      g_assert_no_error (error);
      g_string_append_printf (manifest, "%s\n\n", line);   /* blank lines are ignored */
      g_free (line);
    }
  write_text (dir, "manifest.jsonl", manifest->str);
  g_string_free (manifest, TRUE);

  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cocodata_dataset_format (ds), ==, COCODATA_FORMAT_MANIFEST);
  g_assert_cmpuint (cocodata_dataset_size (ds), ==, 3);
  g_assert_null (cocodata_dataset_problems (ds)[0]);
  for (guint i = 0; i < 3; i++)
    {
      CocodataSample r = { 0 };

      g_assert_true (cocodata_dataset_get (ds, i, &r, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (r.width, ==, W);
      g_assert_cmpuint (r.height, ==, H);
      g_assert_cmpmem (r.source, W * H * 3, written[i].source, W * H * 3);
      g_assert_cmpmem (r.mask, W * H, written[i].mask, W * H);
      if (written[i].target)
        g_assert_cmpmem (r.target, W * H * 3, written[i].target, W * H * 3);
      else
        g_assert_null (r.target);
      g_assert_cmpstr (r.prompt, ==, written[i].prompt);
      g_assert_cmpstr (r.lang, ==, written[i].lang);
      g_assert_cmpstr (r.id, ==, written[i].id);
      g_assert_cmpint (r.edit_type, ==, written[i].edit_type);
      g_assert_cmpstr (r.metadata, ==, "{\"k\":[1,2]}");
      cocodata_sample_clear (&r);
      cocodata_sample_clear (&written[i]);
    }
  g_assert_false (cocodata_dataset_get (ds, 3, &(CocodataSample) { 0 }, &error));
  g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID);
  cocodata_dataset_free (ds);
  remove_tree (dir);
}

/* ---- CoCoEdit-40K: white = keep on disk, 255 = edit in memory ---- */

static void
test_cocoedit40k (void)
{
  g_autofree gchar *dir = make_dir ();
  g_autofree guint8 *img = pattern (W, H, 3, 1);
  g_autofree guint8 *keep_white = half_mask (W, H, 255);   /* left half kept */
  g_autoptr (GError) error = NULL;
  CocodataSample r = { 0 };
  CocodataDataset *ds;

  write_png (dir, "a.png", img, W, H, 3);
  write_png (dir, "a_mask.png", keep_white, W, H, 1);
  write_text (dir, "metadata.jsonl",
              "{\"prompt\": \"make the sky pink\", \"image\": \"a.png\", \"mask\": \"a_mask.png\"}\n");
  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cocodata_dataset_format (ds), ==, COCODATA_FORMAT_COCOEDIT40K);
  g_assert_true (cocodata_dataset_get (ds, 0, &r, &error));
  g_assert_cmpuint (r.mask[0], ==, 0);          /* kept → 0 */
  g_assert_cmpuint (r.mask[W - 1], ==, 255);    /* edited → 255 */
  g_assert_cmpmem (r.source, W * H * 3, img, W * H * 3);
  g_assert_null (r.target);
  g_assert_cmpint (r.edit_type, ==, COCODATA_EDIT_UNKNOWN);
  g_assert_cmpstr (r.prompt, ==, "make the sky pink");
  cocodata_sample_clear (&r);
  cocodata_dataset_free (ds);

  /* The index file itself can be given too. */
  {
    g_autofree gchar *index = g_build_filename (dir, "metadata.jsonl", NULL);
    ds = cocodata_dataset_open (index, COCODATA_FORMAT_AUTO, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (cocodata_dataset_size (ds), ==, 1);
    cocodata_dataset_free (ds);
  }
  remove_tree (dir);
}

/* ---- masked GEdit-Bench / ImgEdit-Bench layout ---- */

static void
test_masked_bench (void)
{
  g_autofree gchar *dir = make_dir ();
  g_autofree guint8 *img = pattern (W, H, 4, 2);   /* RGBA input is flattened */
  g_autofree guint8 *mask = half_mask (W, H, 255);
  g_autoptr (GError) error = NULL;
  CocodataSample r = { 0 };
  CocodataDataset *ds;

  write_png (dir, "0001.png", img, W, H, 4);
  write_png (dir, "0001_mask.png", mask, W, H, 1);
  write_png (dir, "0002.png", img, W, H, 4);
  write_png (dir, "0002_mask.png", mask, W, H, 1);
  write_text (dir, "instructions.jsonl",
              "{\"id\": \"0001\", \"instruction\": \"Replace the dog with a cat\", \"lang\": \"en\","
              " \"edit_type\": \"replace\"}\n"
              "{\"id\": \"0002\", \"instruction\": \"把狗换成猫\", \"lang\": \"zh\"}\n");
  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_MASKED_BENCH, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cocodata_dataset_size (ds), ==, 2);
  g_assert_true (cocodata_dataset_get (ds, 1, &r, &error));
  g_assert_cmpstr (r.id, ==, "0002");
  g_assert_cmpstr (r.prompt, ==, "把狗换成猫");
  g_assert_cmpstr (r.lang, ==, "zh");
  g_assert_cmpuint (r.mask[0], ==, 255);
  g_assert_cmpuint (r.mask[W - 1], ==, 0);
  for (gsize p = 0; p < W * H; p++)   /* over white: c·a + 255·(1 − a) */
    {
      guint a = img[p * 4 + 3];
      g_assert_cmpuint (r.source[p * 3], ==, (img[p * 4] * a + 255 * (255 - a) + 127) / 255);
    }
  cocodata_sample_clear (&r);
  g_assert_true (cocodata_dataset_get (ds, 0, &r, &error));
  g_assert_cmpint (r.edit_type, ==, COCODATA_EDIT_REPLACE);
  cocodata_sample_clear (&r);
  cocodata_dataset_free (ds);
  remove_tree (dir);
}

/* ---- bad records ---- */

typedef struct
{
  const gchar *line;
  const gchar *expect;   /* part of the error message */
} BadCase;

static void
test_bad_records (void)
{
  static const BadCase cases[] = {
    { "{\"image\": \"ok.png\", \"mask\": \"ok_mask.png\"}", "missing field \"prompt\"" },
    { "{\"prompt\": \"p\", \"image\": \"ok.png\"}", "missing field \"mask\"" },
    { "{\"prompt\": \"p\", \"image\": \"../outside.png\", \"mask\": \"ok_mask.png\"}", "outside the dataset" },
    { "{\"prompt\": \"p\", \"image\": \"/etc/passwd\", \"mask\": \"ok_mask.png\"}", "absolute path" },
    { "{\"prompt\": \"p\", \"image\": \"link.png\", \"mask\": \"ok_mask.png\"}", "leads outside" },
    { "{\"prompt\": \"p\", \"image\": \"ok.png\", \"mask\": \"small_mask.png\"}", "is 12×16 but the image is 24×16" },
    { "{\"prompt\": \"p\", \"image\": \"ok.png\", \"mask\": \"ok_mask.png\", \"edit_type\": \"teleport\"}", "unknown edit_type \"teleport\"" },
    { "{\"prompt\": \"p\", \"image\": \"missing.png\", \"mask\": \"ok_mask.png\"}", "does not exist" },
    { "{\"prompt\": \"p\", \"image\": \"notimage.png\", \"mask\": \"ok_mask.png\"}", "not a PNG, JPEG or WebP" },
    { "{\"prompt\": 3, \"image\": \"ok.png\", \"mask\": \"ok_mask.png\"}", "\"prompt\" is not a string" },
    { "{\"prompt\": \"p\", \"image\": \"ok.png\", \"mask\": \"ok_mask.png\", \"target\": \"small_mask.png\"}", "target" },
    { "{\"prompt\": \"p\", \"image\": \"ok.png\", \"mask\": \"ok_mask.png\", \"id\": \"good\"}", "duplicate id \"good\"" },
    { "{not json", "not valid JSON" },
    { "[1, 2]", "not a JSON object" },
  };
  static const gchar good[] =
    "{\"prompt\": \"p\", \"image\": \"ok.png\", \"mask\": \"ok_mask.png\", \"id\": \"good\"}";
  g_autofree gchar *parent = make_dir ();
  g_autofree gchar *dir = g_build_filename (parent, "ds", NULL);
  g_autofree gchar *outside = g_build_filename (parent, "outside.png", NULL);
  g_autofree gchar *link = g_build_filename (dir, "link.png", NULL);
  g_autofree guint8 *img = pattern (W, H, 3, 0);
  g_autofree guint8 *mask = half_mask (W, H, 255);
  g_autofree guint8 *small = half_mask (W / 2, H, 255);

  g_mkdir (dir, 0755);
  write_png (dir, "ok.png", img, W, H, 3);
  write_png (dir, "ok_mask.png", mask, W, H, 1);
  write_png (dir, "small_mask.png", small, W / 2, H, 1);
  write_png (parent, "outside.png", img, W, H, 3);
  write_text (dir, "notimage.png", "hello");
  g_assert_cmpint (symlink (outside, link), ==, 0);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      /* good record on line 1, the bad one on line 3 (line 2 is blank) */
      g_autofree gchar *text = g_strdup_printf ("%s\n\n%s\n", good, cases[c].line);
      g_autofree gchar *where = g_strdup_printf ("manifest.jsonl:3: ");
      g_autoptr (GError) error = NULL;
      CocodataDataset *ds;

      write_text (dir, "manifest.jsonl", text);
      ds = cocodata_dataset_open (dir, COCODATA_FORMAT_MANIFEST, FALSE, &error);
      g_assert_null (ds);
      g_assert_nonnull (error);
      if (!strstr (error->message, where) || !strstr (error->message, cases[c].expect))
        g_error ("case %u: error \"%s\" lacks \"%s\" or \"%s\"", c, error->message, where,
                 cases[c].expect);
      g_clear_error (&error);

      ds = cocodata_dataset_open (dir, COCODATA_FORMAT_MANIFEST, TRUE, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (cocodata_dataset_size (ds), ==, 1);
      g_assert_nonnull (cocodata_dataset_problems (ds)[0]);
      g_assert_true (strstr (cocodata_dataset_problems (ds)[0], cases[c].expect));
      g_assert_null (cocodata_dataset_problems (ds)[1]);
      {
        CocodataSample r = { 0 };
        g_assert_true (cocodata_dataset_get (ds, 0, &r, &error));
        g_assert_cmpstr (r.id, ==, "good");
        cocodata_sample_clear (&r);
      }
      cocodata_dataset_free (ds);
    }

  /* A file corrupted after opening: a clear error from get, no crash. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *ok = g_build_filename (dir, "ok.png", NULL);
    g_autofree gchar *bytes = NULL;
    gsize len;
    CocodataSample r = { 0 };
    CocodataDataset *ds;

    write_text (dir, "manifest.jsonl", good);
    ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (ok, &bytes, &len, NULL));
    g_assert_true (g_file_set_contents (ok, bytes, len / 2, NULL));   /* truncate */
    g_assert_false (cocodata_dataset_get (ds, 0, &r, &error));
    g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT);
    g_assert_true (strstr (error->message, "manifest.jsonl:1:"));
    g_assert_true (strstr (error->message, "ok.png"));
    cocodata_dataset_free (ds);
  }

  /* No index file at all. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *empty = g_build_filename (parent, "empty", NULL);
    g_mkdir (empty, 0755);
    g_assert_null (cocodata_dataset_open (empty, COCODATA_FORMAT_AUTO, FALSE, &error));
    g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_IO);
    g_assert_true (strstr (error->message, "manifest.jsonl, metadata.jsonl or instructions.jsonl"));
  }
  remove_tree (parent);
}

static void
test_masked_bench_bad (void)
{
  g_autofree gchar *dir = make_dir ();
  g_autofree guint8 *img = pattern (W, H, 3, 2);
  g_autofree guint8 *mask = half_mask (W, H, 255);
  g_autoptr (GError) error = NULL;
  CocodataDataset *ds;

  write_png (dir, "a.png", img, W, H, 3);
  write_png (dir, "a_mask.png", mask, W, H, 1);
  write_png (dir, "b.png", img, W, H, 3);   /* no b_mask.png */
  write_text (dir, "instructions.jsonl",
              "{\"id\": \"a\", \"instruction\": \"x\"}\n"
              "{\"id\": \"b\", \"instruction\": \"x\"}\n"
              "{\"id\": \"../a\", \"instruction\": \"x\"}\n"
              "{\"id\": \"c\", \"instruction\": \"x\"}\n");
  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, FALSE, &error);
  g_assert_null (ds);
  g_assert_true (strstr (error->message, "instructions.jsonl:2:"));
  g_assert_true (strstr (error->message, "b_mask.png"));
  g_clear_error (&error);
  ds = cocodata_dataset_open (dir, COCODATA_FORMAT_AUTO, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cocodata_dataset_size (ds), ==, 1);
  g_assert_true (strstr (cocodata_dataset_problems (ds)[1], "may only hold"));
  g_assert_true (strstr (cocodata_dataset_problems (ds)[2], "no image"));
  cocodata_dataset_free (ds);
  remove_tree (dir);
}

/* ---- asset catalogue errors ---- */

static void
test_bad_assets (void)
{
  g_autofree gchar *dir = make_dir ();
  g_autoptr (GError) error = NULL;

  g_assert_null (cocodata_assets_open (dir, &error));
  g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_IO);
  g_assert_true (strstr (error->message, "catalogue.json"));
  g_assert_true (strstr (error->message, "gather-assets"));
  g_clear_error (&error);

  write_text (dir, "catalogue.json", "{\"objects\": [");
  g_assert_null (cocodata_assets_open (dir, &error));
  g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT);
  g_clear_error (&error);

  write_text (dir, "catalogue.json",
              "{\"objects\": [{\"id\": \"x\", \"file\": \"objects/x.png\", "
              "\"names\": {\"en\": \"x\", \"zh\": \"x\", \"ja\": \"x\"}}], "
              "\"backgrounds\": [], \"fonts\": []}");
  g_assert_null (cocodata_assets_open (dir, &error));
  g_assert_true (strstr (error->message, "objects[0]"));
  g_assert_true (strstr (error->message, "objects/x.png is missing"));
  g_clear_error (&error);

  write_text (dir, "catalogue.json",
              "{\"objects\": [{\"id\": \"x\", \"file\": \"../x.png\", "
              "\"names\": {\"en\": \"x\", \"zh\": \"x\", \"ja\": \"x\"}}], "
              "\"backgrounds\": [], \"fonts\": []}");
  g_assert_null (cocodata_assets_open (dir, &error));
  g_assert_true (strstr (error->message, "outside the asset directory"));
  g_clear_error (&error);

  write_text (dir, "x.png", "");
  write_text (dir, "catalogue.json",
              "{\"objects\": [{\"id\": \"x\", \"file\": \"x.png\", \"names\": {\"en\": \"x\"}}]}");
  g_assert_null (cocodata_assets_open (dir, &error));
  g_assert_true (strstr (error->message, "objects[0].names: missing or empty string \"zh\""));
  remove_tree (dir);
}

static void
test_names (void)
{
  CocodataEditType t;
  CocodataFormat f;

  for (guint i = 0; i < COCODATA_N_EDIT_TYPES; i++)
    {
      g_assert_true (cocodata_edit_type_parse (cocodata_edit_type_name (i), &t));
      g_assert_cmpint (t, ==, i);
    }
  g_assert_false (cocodata_edit_type_parse ("teleport", &t));
  g_assert_true (cocodata_format_parse ("cocoedit40k", &f));
  g_assert_cmpint (f, ==, COCODATA_FORMAT_COCOEDIT40K);
  g_assert_false (cocodata_format_parse ("coco", &f));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/loaders/manifest-round-trip", test_manifest_round_trip);
  g_test_add_func ("/loaders/cocoedit40k", test_cocoedit40k);
  g_test_add_func ("/loaders/masked-bench", test_masked_bench);
  g_test_add_func ("/loaders/bad-records", test_bad_records);
  g_test_add_func ("/loaders/masked-bench-bad", test_masked_bench_bad);
  g_test_add_func ("/loaders/bad-assets", test_bad_assets);
  g_test_add_func ("/loaders/names", test_names);
  return g_test_run ();
}
