/* cocoedit-data: generate, check and preview editing datasets.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   cocoedit-data generate --out DIR [--assets DIR] [--count N] [--seed S]
 *                          [--size 256] [--split train|bench] [--jobs N]
 *                          [--edit-types LIST] [--langs LIST] [--dry-run]
 *   cocoedit-data check DATASET [--format F] [--skip-bad]
 *   cocoedit-data grid DATASET -o GRID.png [--rows N] [--stride K] [--cell PX]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "cocodata-private.h"

static void
fail (const gchar *fmt, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

static void
fail (const gchar *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fputs ("cocoedit-data: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (1);
}

/* "replace,move" → bit set; "all" or NULL → 0 (everything). */
static guint
parse_list (const gchar *list, gboolean langs)
{
  g_auto (GStrv) parts = NULL;
  guint bits = 0;

  if (!list || g_strcmp0 (list, "all") == 0)
    return 0;
  parts = g_strsplit (list, ",", -1);
  for (guint i = 0; parts[i]; i++)
    {
      const gchar *p = g_strstrip (parts[i]);
      CocodataEditType t;
      CocodataLang l;

      if (langs && cocodata_lang_parse (p, &l))
        bits |= 1u << l;
      else if (!langs && cocodata_edit_type_parse (p, &t) && t != COCODATA_EDIT_UNKNOWN)
        bits |= 1u << t;
      else
        fail ("unknown %s \"%s\" (known: %s)", langs ? "language" : "edit type", p,
              langs ? "en, zh, ja" : "replace, remove, add, recolor, resize, move, text");
    }
  return bits;
}

/* ---------------------------------------------------------------- generate */

typedef struct
{
  CocodataGenerator *gen;
  const gchar       *out;
  gboolean           dry_run;
  guint              count;
  gint               next;       /* atomic */
  gchar            **lines;      /* manifest records by index */
  guint64           *keys;       /* (image, prompt) hashes for deduplication */
  GMutex             lock;
  GError            *error;
} GenJob;

static guint64
hash_bytes (const guint8 *p, gsize n, guint64 h)
{
  for (gsize i = 0; i < n; i += 8)
    {
      guint64 v = 0;
      memcpy (&v, p + i, MIN (8, n - i));
      h = cocodata_mix64 (h ^ v);
    }
  return h;
}

static gpointer
gen_worker (gpointer data)
{
  GenJob *job = data;

  for (;;)
    {
      gint i = g_atomic_int_add (&job->next, 1);
      CocodataSample s = { 0 };
      GError *error = NULL;

      if (i >= (gint) job->count || g_atomic_pointer_get (&job->error))
        break;
      if (cocodata_generate (job->gen, i, &s, &error) && !job->dry_run)
        job->lines[i] = cocodata_sample_save (&s, job->out, "images", s.id, &error);
      if (!error)
        job->keys[i] = hash_bytes ((const guint8 *) s.prompt, strlen (s.prompt),
                                   hash_bytes (s.source, (gsize) s.width * s.height * 3, 1));
      cocodata_sample_clear (&s);
      if (error)
        {
          g_mutex_lock (&job->lock);
          if (!job->error)
            job->error = error;
          else
            g_error_free (error);
          g_mutex_unlock (&job->lock);
          break;
        }
    }
  return NULL;
}

static void
write_text_atomic (const gchar *path, const gchar *text)
{
  g_autoptr (GError) error = NULL;

  /* g_file_set_contents writes a temporary file and renames it. */
  if (!g_file_set_contents (path, text, -1, &error))
    fail ("%s", error->message);
}

static int
cmd_generate (int argc, char **argv)
{
  gchar *assets_dir = NULL, *out = NULL, *split = NULL, *types = NULL, *langs = NULL;
  gint count = -1, size = 256, jobs = 0;
  gint64 seed = -1;
  gboolean dry_run = FALSE, force = FALSE;
  GOptionEntry entries[] = {
    { "assets", 'a', 0, G_OPTION_ARG_FILENAME, &assets_dir, "Asset directory (default: the tools/gather-assets cache)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Dataset directory to write", "DIR" },
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Number of samples (bench default: 7 types × 3 languages × 10)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (train default 1; bench default the fixed CoCoBench seed)", "S" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Image side in pixels (default 256)", "PX" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &split, "train (default) or bench", "SPLIT" },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Worker threads (default: number of processors)", "N" },
    { "edit-types", 0, 0, G_OPTION_ARG_STRING, &types, "Comma-separated edit types (default all)", "LIST" },
    { "langs", 0, 0, G_OPTION_ARG_STRING, &langs, "Comma-separated languages: en,zh,ja (default all)", "LIST" },
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run, "Generate but write nothing (measures the generator)", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Overwrite an existing dataset", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- write a synthetic editing dataset");
  g_autoptr (GError) error = NULL;
  g_autofree gchar *manifest = NULL, *images = NULL;
  CocodataAssets *assets;
  CocodataGenConfig cfg;
  GenJob job = { 0 };
  GThread **threads;
  gint64 t0;
  double secs;
  guint written = 0, dupes = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    fail ("generate: %s", error->message);
  if (!out && !dry_run)
    fail ("generate: --out DIR is required");
  cocodata_gen_config_init (&cfg);
  if (split && strcmp (split, "bench") == 0)
    cfg.split = COCODATA_SPLIT_BENCH;
  else if (split && strcmp (split, "train") != 0)
    fail ("generate: --split must be train or bench, not \"%s\"", split);
  cfg.size = size;
  cfg.edit_types = parse_list (types, FALSE);
  cfg.langs = parse_list (langs, TRUE);
  cfg.seed = seed >= 0 ? (guint64) seed : cfg.split == COCODATA_SPLIT_BENCH ? 0 : 1;
  if (count < 0)
    count = cfg.split == COCODATA_SPLIT_BENCH ? COCODATA_N_EDIT_TYPES * COCODATA_N_LANGS * 10 : 1000;
  if (jobs <= 0)
    jobs = g_get_num_processors ();

  if (!(assets = cocodata_assets_open (assets_dir, &error)))
    fail ("%s", error->message);
  if (!(job.gen = cocodata_generator_new (assets, &cfg, &error)))
    fail ("%s", error->message);

  if (!dry_run)
    {
      manifest = g_build_filename (out, "manifest.jsonl", NULL);
      if (g_file_test (manifest, G_FILE_TEST_EXISTS) && !force)
        fail ("%s exists; pass --force to overwrite the dataset", manifest);
      images = g_build_filename (out, "images", NULL);
      if (g_mkdir_with_parents (images, 0755) != 0)
        fail ("cannot create %s: %s", images, g_strerror (errno));
    }
  job.out = out;
  job.dry_run = dry_run;
  job.count = count;
  job.lines = g_new0 (gchar *, count);
  job.keys = g_new0 (guint64, count);
  g_mutex_init (&job.lock);

  t0 = g_get_monotonic_time ();
  threads = g_new (GThread *, jobs);
  for (gint j = 0; j < jobs; j++)
    threads[j] = g_thread_new ("cocodata-gen", gen_worker, &job);
  for (gint j = 0; j < jobs; j++)
    g_thread_join (threads[j]);
  secs = (g_get_monotonic_time () - t0) / 1e6;
  if (job.error)
    fail ("%s", job.error->message);

  if (!dry_run)
    {
      /* Drop repeated (image, instruction) pairs, keeping the first. */
      g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
      GString *text = g_string_new (NULL);
      g_autofree gchar *info = NULL;

      for (gint i = 0; i < count; i++)
        {
          if (g_hash_table_contains (seen, &job.keys[i]))
            {
              dupes++;
              continue;
            }
          g_hash_table_add (seen, &job.keys[i]);
          g_string_append (text, job.lines[i]);
          g_string_append_c (text, '\n');
          written++;
        }
      write_text_atomic (manifest, text->str);
      g_string_free (text, TRUE);
      info = g_strdup_printf ("{\"format\":\"cocoedit-manifest\",\"generator\":\"cocodata-1\","
                              "\"split\":\"%s\",\"seed\":%" G_GUINT64_FORMAT ",\"count\":%u,"
                              "\"size\":%u,\"duplicates_dropped\":%u}\n",
                              cfg.split == COCODATA_SPLIT_BENCH ? "bench" : "train",
                              cfg.split == COCODATA_SPLIT_BENCH && cfg.seed == 0
                              ? COCODATA_BENCH_SEED : cfg.seed, written, cfg.size, dupes);
      g_autofree gchar *info_path = g_build_filename (out, "dataset.json", NULL);
      write_text_atomic (info_path, info);
    }
  printf ("%d samples (%u written, %u duplicates dropped) at %u×%u in %.2f s: %.1f samples/s "
          "with %d threads%s\n", count, written, dupes, cfg.size, cfg.size, secs,
          count / MAX (secs, 1e-9), jobs, dry_run ? " (dry run, nothing written)" : "");

  for (gint i = 0; i < count; i++)
    g_free (job.lines[i]);
  g_free (job.lines);
  g_free (job.keys);
  g_free (threads);
  g_mutex_clear (&job.lock);
  cocodata_generator_free (job.gen);
  cocodata_assets_free (assets);
  g_free (assets_dir);
  g_free (out);
  g_free (split);
  g_free (types);
  g_free (langs);
  return 0;
}

/* ---------------------------------------------------------------- check */

static gboolean
open_dataset_args (int *argc, char ***argv, const gchar *what, GOptionEntry *extra,
                   CocodataDataset **ds, gboolean allow_skip)
{
  gchar *format = NULL;
  gboolean skip_bad = FALSE;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "auto, cocoedit-manifest, cocoedit40k or masked-bench", "F" },
    { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &skip_bad, "Skip bad records instead of failing", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (what);
  g_autoptr (GError) error = NULL;
  CocodataFormat f = COCODATA_FORMAT_AUTO;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (extra)
    g_option_context_add_main_entries (ctx, extra, NULL);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    fail ("%s", error->message);
  if (*argc != 2)
    fail ("expected one DATASET argument (a directory or its index file)");
  if (format && !cocodata_format_parse (format, &f))
    fail ("unknown --format \"%s\"", format);
  g_free (format);
  *ds = cocodata_dataset_open ((*argv)[1], f, skip_bad && allow_skip, &error);
  if (!*ds)
    fail ("%s", error->message);
  return skip_bad;
}

static int
cmd_check (int argc, char **argv)
{
  CocodataDataset *ds;
  const gchar *const *problems;
  guint per_type[COCODATA_N_EDIT_TYPES + 1] = { 0 }, n_bad = 0, n_leaks = 0, n_uncovered = 0;
  g_autoptr (GHashTable) langs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  double mask_sum = 0;

  open_dataset_args (&argc, &argv, "DATASET - validate a dataset", NULL, &ds, TRUE);
  problems = cocodata_dataset_problems (ds);
  for (guint i = 0; problems[i]; i++)
    {
      fprintf (stderr, "skipped: %s\n", problems[i]);
      n_bad++;
    }
  for (gsize i = 0; i < cocodata_dataset_size (ds); i++)
    {
      CocodataSample s = { 0 };
      g_autoptr (GError) error = NULL;
      gsize n = 0, leak = 0, uncovered = 0;

      if (!cocodata_dataset_get (ds, i, &s, &error))
        {
          fprintf (stderr, "error: %s\n", error->message);
          n_bad++;
          continue;
        }
      per_type[s.edit_type]++;
      g_hash_table_insert (langs, g_strdup (*s.lang ? s.lang : "(none)"),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (langs, *s.lang ? s.lang : "(none)")) + 1));
      for (gsize p = 0; p < (gsize) s.width * s.height; p++)
        {
          n += s.mask[p] >= 128;
          if (s.target && s.mask[p] == 0 && memcmp (s.source + p * 3, s.target + p * 3, 3) != 0)
            leak++;
        }
      if (n == 0)
        uncovered++;
      mask_sum += (double) n / ((double) s.width * s.height);
      if (leak)
        {
          fprintf (stderr, "%s: %" G_GSIZE_FORMAT " pixels differ outside the mask\n", s.id, leak);
          n_leaks++;
        }
      if (uncovered)
        {
          fprintf (stderr, "%s: empty mask\n", s.id);
          n_uncovered++;
        }
      cocodata_sample_clear (&s);
    }
  printf ("%s (%s): %" G_GSIZE_FORMAT " records, %u bad, %u with changes outside the mask, "
          "%u with empty masks, mean mask area %.1f%%\n",
          argv[1], cocodata_format_name (cocodata_dataset_format (ds)), cocodata_dataset_size (ds),
          n_bad, n_leaks, n_uncovered,
          100 * mask_sum / MAX (1, cocodata_dataset_size (ds)));
  printf ("edit types:");
  for (guint t = 0; t <= COCODATA_N_EDIT_TYPES; t++)
    if (per_type[t])
      printf (" %s %u", cocodata_edit_type_name (t), per_type[t]);
  printf ("\nlanguages:");
  {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, langs);
    while (g_hash_table_iter_next (&it, &k, &v))
      printf (" %s %u", (gchar *) k, GPOINTER_TO_UINT (v));
  }
  printf ("\n");
  cocodata_dataset_free (ds);
  return n_bad || n_leaks || n_uncovered ? 1 : 0;
}

/* ---------------------------------------------------------------- grid */

static cairo_surface_t *
rgb_surface (const guint8 *rgb, const guint8 *mask, guint w, guint h)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  int stride = cairo_image_surface_get_stride (s);
  guint8 *d;

  cairo_surface_flush (s);
  d = cairo_image_surface_get_data (s);
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      {
        gsize p = (gsize) y * w + x;
        guint r = rgb[p * 3], g = rgb[p * 3 + 1], b = rgb[p * 3 + 2];
        if (mask)   /* dim the kept region, tint the edit region */
          {
            double m = mask[p] / 255.0;
            r = (guint) (r * (0.35 + 0.3 * m) + 255 * 0.35 * m);
            g = (guint) (g * (0.35 + 0.3 * m));
            b = (guint) (b * (0.35 + 0.3 * m) + 60 * m);
          }
        ((guint32 *) (d + (gsize) y * stride))[x] = (MIN (r, 255u) << 16) | (MIN (g, 255u) << 8) | MIN (b, 255u);
      }
  cairo_surface_mark_dirty (s);
  return s;
}

static gchar *
find_caption_font (const gchar *given)
{
  g_autofree gchar *assets = cocodata_assets_default_dir ();
  const gchar *candidates[] = {
    given, NULL, "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
  };
  g_autofree gchar *cached = g_build_filename (assets, "fonts", "wqy-microhei.ttc", NULL);

  candidates[1] = cached;
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (candidates[i] && g_file_test (candidates[i], G_FILE_TEST_IS_REGULAR))
      return g_strdup (candidates[i]);
  if (given)
    fail ("font %s not found", given);
  fail ("no CJK font for captions found; pass --font FILE");
}

static int
cmd_grid (int argc, char **argv)
{
  gchar *out = NULL, *font_path = NULL;
  gint rows = 7, stride = 1, cell = 192, first = 0;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "PNG file to write", "FILE" },
    { "rows", 'r', 0, G_OPTION_ARG_INT, &rows, "Samples to show (default 7)", "N" },
    { "first", 0, 0, G_OPTION_ARG_INT, &first, "First record (default 0)", "I" },
    { "stride", 0, 0, G_OPTION_ARG_INT, &stride, "Show every K-th record (default 1)", "K" },
    { "cell", 0, 0, G_OPTION_ARG_INT, &cell, "Picture size in pixels (default 192)", "PX" },
    { "font", 0, 0, G_OPTION_ARG_FILENAME, &font_path, "Caption font (default: a CJK font)", "FILE" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *font_file = NULL;
  CocodataDataset *ds;
  CocodataFont *font;
  cairo_surface_t *grid;
  cairo_t *cr;
  const int pad = 8, caption = 26, label = 18;
  int width, height;
  gsize n;

  open_dataset_args (&argc, &argv, "DATASET - draw a picture grid of samples", entries, &ds, TRUE);
  if (!out)
    fail ("grid: -o FILE.png is required");
  if (rows < 1 || stride < 1 || cell < 32 || cell > 1024 || first < 0)
    fail ("grid: --rows, --stride, --first or --cell out of range");
  font_file = find_caption_font (font_path);
  if (!(font = cocodata_font_new (font_file, &error)))
    fail ("%s", error->message);
  n = 0;
  for (gsize i = first; i < cocodata_dataset_size (ds) && n < (gsize) rows; i += stride)
    n++;
  if (n == 0)
    fail ("%s: no records to show", argv[1]);

  width = pad + 3 * (cell + pad);
  height = label + pad + n * (cell + caption + pad);
  grid = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cr = cairo_create (grid);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  {
    const gchar *heads[] = { "source", "mask (edit region bright)", "target" };
    for (int c = 0; c < 3; c++)
      cocodata_font_draw (font, cr, heads[c], 13, pad + c * (cell + pad), label);
  }
  for (gsize k = 0, i = first; k < n; k++, i += stride)
    {
      CocodataSample s = { 0 };
      double y = label + pad + k * (cell + caption + pad);
      g_autofree gchar *text = NULL;

      if (!cocodata_dataset_get (ds, i, &s, &error))
        fail ("%s", error->message);
      for (int c = 0; c < 3; c++)
        {
          cairo_surface_t *img;
          if (c == 2 && !s.target)
            continue;
          img = rgb_surface (c == 2 ? s.target : s.source, c == 1 ? s.mask : NULL, s.width, s.height);
          cairo_save (cr);
          cairo_translate (cr, pad + c * (cell + pad), y);
          cairo_scale (cr, (double) cell / s.width, (double) cell / s.height);
          cairo_set_source_surface (cr, img, 0, 0);
          cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
          cairo_paint (cr);
          cairo_restore (cr);
          cairo_surface_destroy (img);
        }
      text = g_strdup_printf ("[%s · %s] %s", cocodata_edit_type_name (s.edit_type),
                              *s.lang ? s.lang : "?", s.prompt);
      cairo_set_source_rgb (cr, 0, 0, 0);
      {
        double px = 14, w = cocodata_font_measure (font, text, px);
        if (w > width - 2 * pad)
          px *= (width - 2 * pad) / w;
        cocodata_font_draw (font, cr, text, px, pad, y + cell + caption * 0.7);
      }
      cocodata_sample_clear (&s);
    }
  cairo_destroy (cr);
  {
    /* cairo writes RGB24 as RGB; go through our writer for atomicity. */
    guint8 *rgb = g_malloc ((gsize) width * height * 3);
    const guint8 *d = cairo_image_surface_get_data (grid);
    int st = cairo_image_surface_get_stride (grid);
    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++)
        {
          guint32 p = ((const guint32 *) (d + (gsize) y * st))[x];
          guint8 *o = rgb + ((gsize) y * width + x) * 3;
          o[0] = p >> 16; o[1] = p >> 8; o[2] = p;
        }
    if (!cocodata_write_png_full (out, rgb, width, height, 3, TRUE, &error))
      fail ("%s", error->message);
    g_free (rgb);
  }
  printf ("wrote %s: %" G_GSIZE_FORMAT " samples\n", out, n);
  cairo_surface_destroy (grid);
  cocodata_font_free (font);
  cocodata_dataset_free (ds);
  g_free (out);
  g_free (font_path);
  return 0;
}

int
main (int argc, char **argv)
{
  static const gchar usage[] =
    "usage: cocoedit-data generate --out DIR [--assets DIR] [--count N] [--seed S] [--size PX]\n"
    "                              [--split train|bench] [--jobs N] [--edit-types LIST]\n"
    "                              [--langs LIST] [--dry-run] [--force]\n"
    "       cocoedit-data check DATASET [--format F] [--skip-bad]\n"
    "       cocoedit-data grid DATASET -o GRID.png [--rows N] [--first I] [--stride K]\n"
    "                          [--cell PX] [--font FILE]\n"
    "Each command takes --help.\n";


  if (argc < 2)
    {
      fputs (usage, stderr);
      return 2;
    }
  if (strcmp (argv[1], "generate") == 0)
    return cmd_generate (argc - 1, argv + 1);
  if (strcmp (argv[1], "check") == 0)
    return cmd_check (argc - 1, argv + 1);
  if (strcmp (argv[1], "grid") == 0)
    return cmd_grid (argc - 1, argv + 1);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      fputs (usage, stdout);
      return 0;
    }
  fprintf (stderr, "cocoedit-data: unknown command \"%s\"\n%s", argv[1], usage);
  return 2;
}
