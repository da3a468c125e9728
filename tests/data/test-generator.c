/* Tests of the synthetic editing-data generator (issue 3).
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Needs the asset cache: the first argument is tools/gather-assets, which is
 * run (idempotent, ~1 s when the cache is current) unless COCOEDIT_ASSETS
 * names an asset directory.
 */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "cocodata.h"

static CocodataAssets *assets;
static gchar *assets_dir;

static const gchar *
real_assets_dir (void)
{
  return assets_dir;
}

static CocodataGenerator *
make_gen (guint64 seed, CocodataSplit split, guint types, guint langs)
{
  CocodataGenConfig cfg;
  g_autoptr (GError) error = NULL;
  CocodataGenerator *gen;

  cocodata_gen_config_init (&cfg);
  cfg.seed = seed;
  cfg.split = split;
  cfg.edit_types = types;
  cfg.langs = langs;
  gen = cocodata_generator_new (assets, &cfg, &error);
  g_assert_no_error (error);
  g_assert_nonnull (gen);
  return gen;
}

static void
generate (CocodataGenerator *gen, guint64 index, CocodataSample *s)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (cocodata_generate (gen, index, s, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s->width, ==, 256);
  g_assert_cmpuint (s->height, ==, 256);
  g_assert_nonnull (s->source);
  g_assert_nonnull (s->target);
  g_assert_nonnull (s->mask);
}

static gboolean
samples_equal (const CocodataSample *a, const CocodataSample *b)
{
  gsize n = (gsize) a->width * a->height;

  return a->width == b->width && a->height == b->height &&
         memcmp (a->source, b->source, n * 3) == 0 &&
         memcmp (a->target, b->target, n * 3) == 0 &&
         memcmp (a->mask, b->mask, n) == 0 &&
         g_strcmp0 (a->prompt, b->prompt) == 0 && a->edit_type == b->edit_type &&
         g_strcmp0 (a->lang, b->lang) == 0 && g_strcmp0 (a->metadata, b->metadata) == 0;
}

static void
test_determinism (void)
{
  CocodataGenerator *g1 = make_gen (7, COCODATA_SPLIT_TRAIN, 0, 0);
  CocodataGenerator *g2 = make_gen (7, COCODATA_SPLIT_TRAIN, 0, 0);
  CocodataGenerator *g3 = make_gen (8, COCODATA_SPLIT_TRAIN, 0, 0);
  guint same_other_seed = 0;

  /* Same seed and index → same sample, whatever the order of the calls. */
  for (gint i = 20; i >= 0; i--)
    {
      CocodataSample a = { 0 }, b = { 0 }, c = { 0 };

      generate (g1, i, &a);
      generate (g2, i, &b);
      generate (g3, i, &c);
      g_assert_true (samples_equal (&a, &b));
      same_other_seed += samples_equal (&a, &c);
      cocodata_sample_clear (&a);
      cocodata_sample_clear (&b);
      cocodata_sample_clear (&c);
    }
  g_assert_cmpuint (same_other_seed, ==, 0);
  cocodata_generator_free (g1);
  cocodata_generator_free (g2);
  cocodata_generator_free (g3);
}

typedef struct
{
  CocodataGenerator *gen;
  guint64            first;
  CocodataSample    *out;
  guint              n;
} ThreadJob;

static gpointer
thread_generate (gpointer data)
{
  ThreadJob *job = data;

  for (guint i = 0; i < job->n; i++)
    g_assert_true (cocodata_generate (job->gen, job->first + 2 * i, &job->out[i], NULL));
  return NULL;
}

static void
test_threads (void)
{
  CocodataGenerator *gen = make_gen (3, COCODATA_SPLIT_TRAIN, 0, 0);
  CocodataGenerator *ref = make_gen (3, COCODATA_SPLIT_TRAIN, 0, 0);
  CocodataSample out[2][12] = { { { 0 } } };
  ThreadJob jobs[2] = { { gen, 0, out[0], 12 }, { gen, 1, out[1], 12 } };
  GThread *t[2];

  for (int k = 0; k < 2; k++)
    t[k] = g_thread_new ("gen", thread_generate, &jobs[k]);
  for (int k = 0; k < 2; k++)
    g_thread_join (t[k]);
  for (int k = 0; k < 2; k++)
    for (guint i = 0; i < 12; i++)
      {
        CocodataSample s = { 0 };
        generate (ref, k + 2 * i, &s);
        g_assert_true (samples_equal (&s, &out[k][i]));
        cocodata_sample_clear (&s);
        cocodata_sample_clear (&out[k][i]);
      }
  cocodata_generator_free (gen);
  cocodata_generator_free (ref);
}

/* Marks in `allowed` the boxes (bbox_source, bbox_target) of the items the
 * edit is about, grown by room for their shadows and outlines. */
static void
edited_region (const gchar *metadata, guint8 *allowed, guint size)
{
  g_autoptr (JsonNode) meta = json_from_string (metadata, NULL);
  JsonArray *objs = json_object_get_array_member (json_node_get_object (meta), "objects");
  static const gchar *const boxes[] = { "bbox_source", "bbox_target" };

  memset (allowed, 0, (gsize) size * size);
  for (guint k = 0; k < json_array_get_length (objs); k++)
    {
      JsonObject *o = json_array_get_object_element (objs, k);
      const gchar *role = json_object_get_string_member (o, "role");

      if (g_strcmp0 (role, "context") == 0 || g_strcmp0 (role, "distractor") == 0)
        continue;
      for (int b = 0; b < 2; b++)
        {
          JsonNode *n = json_object_get_member (o, boxes[b]);
          JsonArray *box;
          double x, y, w, h, m;

          if (!n || JSON_NODE_HOLDS_NULL (n))
            continue;
          box = json_node_get_array (n);
          x = json_array_get_int_element (box, 0);
          y = json_array_get_int_element (box, 1);
          w = json_array_get_int_element (box, 2);
          h = json_array_get_int_element (box, 3);
          m = 0.15 * MAX (w, h) + 10;
          for (gint yy = MAX (0, (gint) (y - m)); yy < MIN ((gint) size, (gint) (y + h + m)); yy++)
            for (gint xx = MAX (0, (gint) (x - m)); xx < MIN ((gint) size, (gint) (x + w + m)); xx++)
              allowed[yy * size + xx] = 1;
        }
    }
}

static gboolean
has_cjk (const gchar *s)
{
  for (; *s; s = g_utf8_next_char (s))
    {
      gunichar c = g_utf8_get_char (s);
      if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3040 && c <= 0x30ff))
        return TRUE;
    }
  return FALSE;
}

/* The two properties the benchmark relies on, for every edit type and
 * language: nothing changes outside the mask, and the mask covers every
 * changed pixel (which holds since it is their dilation) but is not much
 * larger than the change. */
static void
test_masks_exact (void)
{
  g_autofree guint8 *allowed = g_malloc (256 * 256);

  for (guint t = 0; t < COCODATA_N_EDIT_TYPES; t++)
    for (guint l = 0; l < COCODATA_N_LANGS; l++)
      {
        CocodataGenerator *gen = make_gen (11, COCODATA_SPLIT_TRAIN, 1u << t, 1u << l);

        for (guint i = 0; i < 4; i++)
          {
            CocodataSample s = { 0 };
            g_autoptr (JsonNode) meta = NULL;
            g_autoptr (GError) error = NULL;
            gsize n = 256 * 256, changed = 0, masked = 0, outside = 0;
            JsonObject *obj;

            generate (gen, i, &s);
            edited_region (s.metadata, allowed, 256);
            g_assert_cmpint (s.edit_type, ==, t);
            g_assert_cmpstr (s.lang, ==, cocodata_lang_name (l));
            g_assert_true (g_utf8_validate (s.prompt, -1, NULL));
            g_assert_cmpuint (strlen (s.prompt), >, 4);
            g_assert_true (l == COCODATA_LANG_EN ? !has_cjk (s.prompt) || t == COCODATA_EDIT_TEXT
                                                 : has_cjk (s.prompt));
            for (gsize p = 0; p < n; p++)
              {
                gboolean diff = memcmp (s.source + 3 * p, s.target + 3 * p, 3) != 0;
                g_assert_true (s.mask[p] == 0 || s.mask[p] == 255);
                changed += diff;
                masked += s.mask[p] == 255;
                if (diff && s.mask[p] != 255)
                  outside++;
                /* no stray changes away from the edited items */
                if (diff && !allowed[p])
                  g_error ("%s: pixel (%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ") changed away "
                           "from the edited items: %s", cocodata_edit_type_name (t),
                           p % 256, p / 256, s.metadata);
              }
            g_assert_cmpuint (outside, ==, 0);
            g_assert_cmpuint (changed, >, n / 500);
            g_assert_cmpuint (masked, >=, changed);
            g_assert_cmpuint (masked, <, n * 6 / 10);

            meta = json_from_string (s.metadata, &error);
            g_assert_no_error (error);
            obj = json_node_get_object (meta);
            g_assert_cmpstr (json_object_get_string_member (obj, "split"), ==, "train");
            g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "objects")), >=, 1);
            g_assert_true (json_object_has_member (json_object_get_object_member (obj, "background"), "source"));
            cocodata_sample_clear (&s);
          }
        cocodata_generator_free (gen);
      }
}

/* Distinct prompts reference their object: the English name of the edited
 * object (or the words of a text edit) appears in the instruction. */
static void
test_prompt_names_object (void)
{
  CocodataGenerator *gen = make_gen (5, COCODATA_SPLIT_TRAIN, 0, 1u << COCODATA_LANG_EN);

  for (guint i = 0; i < 40; i++)
    {
      CocodataSample s = { 0 };
      g_autoptr (JsonNode) meta = NULL;
      JsonArray *objs;
      gboolean found = FALSE;

      generate (gen, i, &s);
      meta = json_from_string (s.metadata, NULL);
      objs = json_object_get_array_member (json_node_get_object (meta), "objects");
      for (guint k = 0; k < json_array_get_length (objs); k++)
        {
          JsonObject *o = json_array_get_object_element (objs, k);
          const gchar *role = json_object_get_string_member (o, "role");
          const gchar *name;

          if (g_strcmp0 (role, "edited") != 0 && g_strcmp0 (role, "added") != 0)
            continue;
          name = json_object_has_member (o, "names")
                 ? json_object_get_string_member (json_object_get_object_member (o, "names"), "en")
                 : json_object_get_string_member (o, "text_source");
          found |= strstr (s.prompt, name) != NULL;
        }
      if (!found)
        g_error ("sample %u: \"%s\" names no edited object (%s)", i, s.prompt, s.metadata);
      cocodata_sample_clear (&s);
    }
  cocodata_generator_free (gen);
}

static void
test_languages_present (void)
{
  CocodataGenerator *gen = make_gen (1, COCODATA_SPLIT_TRAIN, 0, 0);
  guint counts[COCODATA_N_LANGS] = { 0 }, types = 0;

  for (guint i = 0; i < 60; i++)
    {
      CocodataSample s = { 0 };
      CocodataLang l;

      generate (gen, i, &s);
      g_assert_true (cocodata_lang_parse (s.lang, &l));
      counts[l]++;
      types |= 1u << s.edit_type;
      cocodata_sample_clear (&s);
    }
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    g_assert_cmpuint (counts[l], >=, 5);
  g_assert_cmpuint (types, ==, (1u << COCODATA_N_EDIT_TYPES) - 1);
  cocodata_generator_free (gen);
}

static void
collect_assets (const CocodataSample *s, GHashTable *names, GHashTable *backgrounds)
{
  g_autoptr (JsonNode) meta = json_from_string (s->metadata, NULL);
  JsonObject *root = json_node_get_object (meta);
  JsonArray *objs = json_object_get_array_member (root, "objects");

  g_hash_table_add (backgrounds, g_strdup (json_object_get_string_member (
                      json_object_get_object_member (root, "background"), "asset")));
  for (guint k = 0; k < json_array_get_length (objs); k++)
    {
      JsonObject *o = json_array_get_object_element (objs, k);
      if (json_object_has_member (o, "names"))
        g_hash_table_add (names, g_strdup (json_object_get_string_member (
                            json_object_get_object_member (o, "names"), "en")));
      if (json_object_has_member (o, "replaced_by"))
        g_hash_table_add (names, g_strdup (json_object_get_string_member (
                            json_object_get_object_member (o, "replaced_by"), "name")));
    }
}

/* CoCoBench: balanced (type, language) cells, fixed seed, and objects and
 * backgrounds never seen in training. */
static void
test_bench_split (void)
{
  CocodataGenerator *bench = make_gen (0, COCODATA_SPLIT_BENCH, 0, 1u << COCODATA_LANG_EN);
  CocodataGenerator *bench2 = make_gen (COCODATA_BENCH_SEED, COCODATA_SPLIT_BENCH, 0,
                                        1u << COCODATA_LANG_EN);
  CocodataGenerator *train = make_gen (1, COCODATA_SPLIT_TRAIN, 0, 1u << COCODATA_LANG_EN);
  g_autoptr (GHashTable) bn = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) bb = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) tn = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) tb = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter it;
  gpointer key;

  for (guint i = 0; i < 2 * COCODATA_N_EDIT_TYPES; i++)
    {
      CocodataSample s = { 0 }, s2 = { 0 };
      generate (bench, i, &s);
      generate (bench2, i, &s2);
      g_assert_true (samples_equal (&s, &s2));   /* seed 0 means the fixed seed */
      g_assert_cmpint (s.edit_type, ==, i % COCODATA_N_EDIT_TYPES);
      g_assert_true (g_str_has_prefix (s.id, "bench-"));
      collect_assets (&s, bn, bb);
      cocodata_sample_clear (&s);
      cocodata_sample_clear (&s2);
    }
  for (guint i = 0; i < 150; i++)
    {
      CocodataSample s = { 0 };
      generate (train, i, &s);
      collect_assets (&s, tn, tb);
      cocodata_sample_clear (&s);
    }
  g_assert_cmpuint (g_hash_table_size (bn), >=, 5);
  g_hash_table_iter_init (&it, bn);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (g_hash_table_contains (tn, key))
      g_error ("object \"%s\" is in both the bench and the train split", (gchar *) key);
  g_hash_table_iter_init (&it, bb);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (g_hash_table_contains (tb, key))
      g_error ("background \"%s\" is in both the bench and the train split", (gchar *) key);
  cocodata_generator_free (bench);
  cocodata_generator_free (bench2);
  cocodata_generator_free (train);
}

/* Weights change how often each type is drawn in the train split; weights
 * of 1 draw exactly what no weights draw (a run's data stays the same). */
static void
test_type_weights (void)
{
  CocodataGenConfig   cfg;
  g_autoptr (GError)  error = NULL;
  CocodataGenerator  *gen[3];
  guint               count[COCODATA_N_EDIT_TYPES] = { 0 };
  const guint         n = 550;

  cocodata_gen_config_init (&cfg);
  cfg.size = 64;
  cfg.seed = 5;
  for (guint k = 0; k < 3; k++)
    {
      for (guint t = 0; t < COCODATA_N_EDIT_TYPES; t++)
        cfg.type_weights[t] = k == 0 ? 0 : 1;
      if (k == 2)
        cfg.type_weights[COCODATA_EDIT_RECOLOR] = 5;
      gen[k] = cocodata_generator_new (assets, &cfg, &error);
      g_assert_no_error (error);
    }
  for (guint64 i = 0; i < 30; i++)
    {
      CocodataSample a, b;

      g_assert_true (cocodata_generate (gen[0], i, &a, &error));
      g_assert_true (cocodata_generate (gen[1], i, &b, &error));
      g_assert_true (samples_equal (&a, &b));
      cocodata_sample_clear (&a);
      cocodata_sample_clear (&b);
    }
  for (guint64 i = 0; i < n; i++)
    {
      CocodataSample s;

      g_assert_true (cocodata_generate (gen[2], i, &s, &error));
      count[s.edit_type]++;
      cocodata_sample_clear (&s);
    }
  /* recolor: 5/11 of the draws (250, s.d. 12); each other type 1/11 (50,
   * s.d. 7). */
  for (guint t = 0; t < COCODATA_N_EDIT_TYPES; t++)
    {
      gboolean heavy = t == COCODATA_EDIT_RECOLOR;

      g_assert_cmpuint (count[t], >, heavy ? 200 : 20);
      g_assert_cmpuint (count[t], <, heavy ? 300 : 90);
    }
  for (guint k = 0; k < 3; k++)
    cocodata_generator_free (gen[k]);

  cfg.type_weights[COCODATA_EDIT_REMOVE] = 1001;
  g_assert_null (cocodata_generator_new (assets, &cfg, &error));
  g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID);
}

static void
test_bad_config (void)
{
  CocodataGenConfig cfg;
  g_autoptr (GError) error = NULL;

  cocodata_gen_config_init (&cfg);
  cfg.size = 16;
  g_assert_null (cocodata_generator_new (assets, &cfg, &error));
  g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID);
  g_clear_error (&error);
  cocodata_gen_config_init (&cfg);
  cfg.edit_types = 1u << 20;
  g_assert_null (cocodata_generator_new (assets, &cfg, &error));
  g_assert_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID);
}

static void
test_other_size (void)
{
  CocodataGenConfig cfg;
  CocodataSample s = { 0 };
  CocodataGenerator *gen;

  cocodata_gen_config_init (&cfg);
  cfg.size = 128;
  gen = cocodata_generator_new (assets, &cfg, NULL);
  g_assert_nonnull (gen);
  for (guint i = 0; i < 7; i++)
    {
      g_assert_true (cocodata_generate (gen, i, &s, NULL));
      g_assert_cmpuint (s.width, ==, 128);
      for (gsize p = 0; p < 128 * 128; p++)
        g_assert_true (s.mask[p] || memcmp (s.source + 3 * p, s.target + 3 * p, 3) == 0);
      cocodata_sample_clear (&s);
    }
  cocodata_generator_free (gen);
}

/* A small asset set made here: 12 drawn objects (one of them a corrupt
 * file), one background, the cache's fonts (linked) and a few words. */
static gchar *
make_tiny_assets (const gchar *real_dir, const gchar *broken)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("cocodata-assets-XXXXXX", &error);
  g_autofree gchar *objects = g_build_filename (dir, "objects", NULL);
  g_autofree gchar *fonts = g_build_filename (dir, "fonts", NULL);
  g_autofree gchar *bgpath = g_build_filename (dir, "bg.png", NULL);
  g_autofree gchar *font_src = g_build_filename (real_dir, "fonts", "wqy-microhei.ttc", NULL);
  g_autofree gchar *font_dst = g_build_filename (fonts, "wqy-microhei.ttc", NULL);
  g_autofree guint8 *bg = g_malloc (64 * 48 * 3);
  GString *cat = g_string_new ("{\"objects\": [");

  g_assert_no_error (error);
  g_mkdir (objects, 0755);
  g_mkdir (fonts, 0755);
  g_assert_cmpint (symlink (font_src, font_dst), ==, 0);
  for (gsize i = 0; i < 64 * 48 * 3; i++)
    bg[i] = (guint8) (i * 13 / 7);
  g_assert_true (cocodata_write_png (bgpath, bg, 64, 48, 3, NULL));
  for (guint k = 0; k < 12; k++)
    {
      g_autofree gchar *name = g_strdup_printf ("obj%02u", k);
      g_autofree gchar *path = g_strdup_printf ("%s/%s.png", objects, name);
      guint8 px[40 * 30 * 4];

      if (g_strcmp0 (name, broken) == 0)
        g_assert_true (g_file_set_contents (path, "\x89PNG\r\n\x1a\ngarbage", -1, NULL));
      else
        {
          for (guint p = 0; p < 40 * 30; p++)
            {
              guint x = p % 40, y = p / 40;
              px[p * 4] = 40 * k;
              px[p * 4 + 1] = 255 - 20 * k;
              px[p * 4 + 2] = (x * 6) & 255;
              px[p * 4 + 3] = (x > 2 && x < 37 && y > 2 && y < 27) ? 255 : 0;
            }
          g_assert_true (cocodata_write_png (path, px, 40, 30, 4, NULL));
        }
      g_string_append_printf (cat, "%s{\"id\": \"%s\", \"file\": \"objects/%s.png\", "
                              "\"width\": 40, \"height\": 30, \"names\": {\"en\": \"thing %u\", "
                              "\"zh\": \"东西%u\", \"ja\": \"もの%u\"}}",
                              k ? ", " : "", name, name, k, k, k);
    }
  g_string_append (cat, "], \"backgrounds\": [{\"id\": \"bg\", \"file\": \"bg.png\", "
                        "\"kind\": \"photo\"}], \"fonts\": [{\"id\": \"wqy\", "
                        "\"file\": \"fonts/wqy-microhei.ttc\", \"scripts\": [\"latin\", \"zh\", \"ja\"]}], "
                        "\"words\": {\"en\": [\"open\", \"closed\", \"sale\", \"exit\"], "
                        "\"zh\": [\"出口\", \"入口\", \"营业\"], \"ja\": [\"出口\", \"入口\", \"営業中\"]}}");
  {
    g_autofree gchar *catalogue = g_build_filename (dir, "catalogue.json", NULL);
    g_assert_true (g_file_set_contents (catalogue, cat->str, -1, NULL));
  }
  g_string_free (cat, TRUE);
  return dir;
}

static void
remove_tiny_assets (const gchar *dir)
{
  const gchar *files[] = { "catalogue.json", "bg.png", "fonts/wqy-microhei.ttc" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree gchar *p = g_build_filename (dir, files[i], NULL);
      g_unlink (p);
    }
  for (guint k = 0; k < 12; k++)
    {
      g_autofree gchar *p = g_strdup_printf ("%s/objects/obj%02u.png", dir, k);
      g_unlink (p);
    }
  {
    g_autofree gchar *o = g_build_filename (dir, "objects", NULL);
    g_autofree gchar *f = g_build_filename (dir, "fonts", NULL);
    g_rmdir (o);
    g_rmdir (f);
    g_rmdir (dir);
  }
}

/* A corrupt object file: the samples that draw it fail with an error naming
 * the file; the others are generated; nothing crashes.  Also shows that the
 * generator works from any catalogue, e.g. an unpacked bundle. */
static void
test_corrupt_asset (void)
{
  g_autofree gchar *dir = make_tiny_assets (real_assets_dir (), "obj03");
  g_autoptr (GError) error = NULL;
  CocodataAssets *tiny = cocodata_assets_open (dir, &error);
  CocodataGenConfig cfg;
  CocodataGenerator *gen;
  guint ok = 0, failed = 0;

  g_assert_no_error (error);
  cocodata_gen_config_init (&cfg);
  cfg.size = 96;
  gen = cocodata_generator_new (tiny, &cfg, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 60; i++)
    {
      CocodataSample s = { 0 };
      g_autoptr (GError) e = NULL;

      if (cocodata_generate (gen, i, &s, &e))
        {
          ok++;
          g_assert_null (strstr (s.metadata, "\"obj03\""));
          for (gsize p = 0; p < 96 * 96; p++)
            g_assert_true (s.mask[p] || memcmp (s.source + 3 * p, s.target + 3 * p, 3) == 0);
        }
      else
        {
          g_assert_nonnull (e);
          if (!strstr (e->message, "objects/obj03.png"))
            g_error ("unclear error: %s", e->message);
          failed++;
        }
      cocodata_sample_clear (&s);
    }
  g_assert_cmpuint (ok, >, 10);
  g_assert_cmpuint (failed, >, 0);
  cocodata_generator_free (gen);
  cocodata_assets_free (tiny);
  remove_tiny_assets (dir);
}

static gchar *
ensure_assets (const gchar *gather)
{
  const gchar *env = g_getenv ("COCOEDIT_ASSETS");
  g_autofree gchar *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  gint status;
  const gchar *argv[] = { gather, "--print-dir", NULL };

  if (env && *env)
    return g_strdup (env);
  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, &error) || !g_spawn_check_wait_status (status, &error))
    g_error ("%s failed: %s\n%s", gather, error->message, err ? err : "");
  return g_strdup (g_strstrip (out));
}

int
main (int argc, char **argv)
{
  g_autofree gchar *dir = NULL;
  g_autoptr (GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (argc < 2)
    g_error ("usage: %s PATH/TO/tools/gather-assets", argv[0]);
  dir = ensure_assets (argv[1]);
  assets_dir = dir;
  assets = cocodata_assets_open (dir, &error);
  g_assert_no_error (error);

  g_test_add_func ("/generator/determinism", test_determinism);
  g_test_add_func ("/generator/threads", test_threads);
  g_test_add_func ("/generator/masks-exact", test_masks_exact);
  g_test_add_func ("/generator/prompt-names-object", test_prompt_names_object);
  g_test_add_func ("/generator/languages", test_languages_present);
  g_test_add_func ("/generator/bench-split", test_bench_split);
  g_test_add_func ("/generator/bad-config", test_bad_config);
  g_test_add_func ("/generator/type-weights", test_type_weights);
  g_test_add_func ("/generator/size-128", test_other_size);
  g_test_add_func ("/generator/corrupt-asset", test_corrupt_asset);
  ret = g_test_run ();
  cocodata_assets_free (assets);
  return ret;
}
