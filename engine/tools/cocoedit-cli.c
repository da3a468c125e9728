/* cocoedit-cli.c — the `cocoedit` command: edit an image file by an
 * instruction, describe a model, or create a randomly initialised one.
 *
 *   cocoedit edit IMAGE --prompt TEXT [--mask MASK] [--seed N] [--steps N] -o OUT.png
 *   cocoedit info [MODEL]
 *   (both take --lora FILE[:SCALE], --dtype, --family, and, with a single
 *   FLUX transformer file as the model, --vae, --clip-l, --t5xxl)
 *   cocoedit init-model --config CONFIG.json [--seed N] -o MODEL_DIR
 *
 * Exit codes: 0 success; 1 bad command line; 2 an input file could not be
 * read; 3 the output could not be written; 10 + the engine's status for
 * engine failures (11 invalid argument, 12 I/O, 13 format, 14 device,
 * 15 out of memory, 16 cancelled, 17 internal).
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cocoedit.h"
#include "image-io.h"

enum
{
  EXIT_USAGE = 1,
  EXIT_INPUT = 2,
  EXIT_OUTPUT = 3,
  EXIT_ENGINE = 10,
};

/* Images larger than this on a side are refused before decoding. */
#define MAX_SIDE 30000

static volatile sig_atomic_t interrupted = 0;

static void
on_sigint (int sig)
{
  interrupted = 1;
}

typedef struct
{
  gboolean json;
  gboolean tty;
  gint64   started;
} Progress;

static bool
report_progress (int   step,
                 int   n_steps,
                 void *user_data)
{
  Progress *p = user_data;

  if (p->tty && ! p->json && n_steps > 0)
    {
      const gint   width = 30;
      gint         done = step * width / n_steps;
      gdouble      elapsed = (g_get_monotonic_time () - p->started) / 1e6;
      gdouble      eta = step > 0 ? elapsed * (n_steps - step) / step : 0.0;
      gchar        bar[64];

      memset (bar, '#', done);
      memset (bar + done, '.', width - done);
      bar[width] = '\0';
      fprintf (stderr, "\r[%s] %d/%d  %.1fs elapsed, %.1fs left ", bar, step, n_steps, elapsed, eta);
      if (step == n_steps)
        fputc ('\n', stderr);
      fflush (stderr);
    }
  return ! interrupted;
}

/* True for the binary in the build tree (not an installed copy). */
static gboolean
running_from_build_tree (void)
{
  g_autofree gchar *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree gchar *dir = exe ? g_path_get_dirname (exe) : NULL;
  g_autofree gchar *build = realpath (COCOEDIT_BUILD_DIR, NULL);

  return dir && build && strcmp (dir, build) == 0;
}

/* The default model: $COCOEDIT_MODEL; else, for the build tree's binary,
 * the source tree's (an installed copy may be older); else the one
 * installed with the package, falling back to the source tree's. */
static const gchar *
default_model (void)
{
  const gchar *env = g_getenv ("COCOEDIT_MODEL");
  g_autofree gchar *installed = g_build_filename (COCOEDIT_DEFAULT_MODEL_DIR, "config.json", NULL);

  if (env && *env)
    return env;
  if (! running_from_build_tree () && g_file_test (installed, G_FILE_TEST_EXISTS))
    return COCOEDIT_DEFAULT_MODEL_DIR;
  return COCOEDIT_SOURCE_MODEL_DIR;
}

static int
engine_failure (gboolean              json,
                const gchar          *what,
                const cocoedit_error *err)
{
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode)    root = NULL;
      g_autofree gchar       *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "ok");
      json_builder_add_boolean_value (b, FALSE);
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, cocoedit_status_name (err->code));
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, err->message);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = json_to_string (root, FALSE);
      printf ("%s\n", text);
    }
  fprintf (stderr, "cocoedit: %s: %s\n", what, err->message);
  return EXIT_ENGINE + err->code;
}

static int
usage_error (const gchar *message)
{
  fprintf (stderr, "cocoedit: %s\n", message);
  fprintf (stderr, "Try 'cocoedit --help'.\n");
  return EXIT_USAGE;
}

static gboolean
parse_device (const gchar      *name,
              cocoedit_device  *out)
{
  if (! name || g_str_equal (name, "auto"))
    *out = COCOEDIT_DEVICE_AUTO;
  else if (g_str_equal (name, "cpu"))
    *out = COCOEDIT_DEVICE_CPU;
  else if (g_str_equal (name, "cuda"))
    *out = COCOEDIT_DEVICE_CUDA;
  else
    return FALSE;
  return TRUE;
}

static void
print_json (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree gchar    *text = json_to_string (root, TRUE);

  printf ("%s\n", text);
}

static void
add_info (JsonBuilder               *b,
          cocoedit_model            *model,
          const cocoedit_model_info *info)
{
  json_builder_set_member_name (b, "family");
  json_builder_add_string_value (b, info->family);
  json_builder_set_member_name (b, "components");
  json_builder_begin_array (b);
  for (int i = 0; i < info->n_components; i++)
    {
      cocoedit_component_info c;

      if (cocoedit_model_get_component (model, i, &c, NULL) != COCOEDIT_OK)
        continue;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "role");
      json_builder_add_string_value (b, c.role);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, c.kind);
      json_builder_set_member_name (b, "parameters");
      json_builder_add_int_value (b, c.n_parameters);
      json_builder_set_member_name (b, "dtype");
      json_builder_add_string_value (b, c.dtype);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "memory_weights");
  json_builder_add_int_value (b, info->memory_weights);
  json_builder_set_member_name (b, "memory_edit");
  json_builder_add_int_value (b, info->memory_edit);
  json_builder_set_member_name (b, "memory_edit_size");
  json_builder_add_int_value (b, info->memory_edit_size);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, info->name);
  json_builder_set_member_name (b, "architecture");
  json_builder_add_string_value (b, info->architecture);
  json_builder_set_member_name (b, "parameters");
  json_builder_add_int_value (b, info->n_parameters);
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, info->device);
  json_builder_set_member_name (b, "dtype");
  json_builder_add_string_value (b, info->dtype);
  json_builder_set_member_name (b, "working_size");
  json_builder_add_int_value (b, info->working_size);
  json_builder_set_member_name (b, "patch_size");
  json_builder_add_int_value (b, info->patch_size);
  json_builder_set_member_name (b, "default_steps");
  json_builder_add_int_value (b, info->default_steps);
  json_builder_set_member_name (b, "default_guidance");
  json_builder_add_double_value (b, info->default_guidance);
  json_builder_set_member_name (b, "mask_channel");
  json_builder_add_boolean_value (b, info->has_mask_channel);
}

/* How to open the model, shared by `edit` and `info`: family, dtype, BFL's
 * single files beside a transformer file, and LoRAs. */
typedef struct
{
  gchar   *dtype, *family, *vae, *clip_l, *t5xxl;
  gchar  **loras;          /* FILE or FILE:SCALE, as given */
  gchar  **lora_paths;     /* parsed from loras */
  gfloat  *lora_scales;
} ModelOptions;

static GOptionGroup *
model_option_group (ModelOptions *o)
{
  const GOptionEntry entries[] = {
    { "dtype", 0, 0, G_OPTION_ARG_STRING, &o->dtype, "float32 or bfloat16 (default: as the weights are stored)", "DTYPE" },
    { "family", 0, 0, G_OPTION_ARG_STRING, &o->family, "cocoedit or flux-kontext (default: detected)", "FAMILY" },
    { "vae", 0, 0, G_OPTION_ARG_FILENAME, &o->vae, "With a single transformer file: the autoencoder (ae.safetensors)", "FILE" },
    { "clip-l", 0, 0, G_OPTION_ARG_FILENAME, &o->clip_l, "With a single transformer file: CLIP-L (clip_l.safetensors)", "FILE" },
    { "t5xxl", 0, 0, G_OPTION_ARG_FILENAME, &o->t5xxl, "With a single transformer file: T5-XXL (t5xxl_fp16.safetensors)", "FILE" },
    { "lora", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->loras, "A LoRA to merge, with an optional multiplier (repeatable)", "FILE[:SCALE]" },
    { NULL }
  };
  GOptionGroup *g = g_option_group_new ("model", "Model options:", "Show the model options", NULL, NULL);

  g_option_group_add_entries (g, entries);
  return g;
}

/* Fills `params` from `o`; FALSE with a message for a bad --lora. */
static gboolean
model_options_apply (ModelOptions         *o,
                     cocoedit_open_params *params,
                     gchar               **message)
{
  guint n = o->loras ? g_strv_length (o->loras) : 0;

  params->dtype = o->dtype;
  params->family = o->family;
  params->vae_path = o->vae;
  params->clip_l_path = o->clip_l;
  params->t5xxl_path = o->t5xxl;
  o->lora_paths = g_new0 (gchar *, n + 1);
  o->lora_scales = g_new0 (gfloat, n + 1);
  for (guint i = 0; i < n; i++)
    {
      const gchar *colon = strrchr (o->loras[i], ':');
      gchar       *end = NULL;
      gdouble      scale = 1.0;

      if (colon)
        {
          scale = g_ascii_strtod (colon + 1, &end);
          if (end == colon + 1 || *end)
            {
              g_autofree gchar *before = g_strndup (o->loras[i], colon - o->loras[i]);

              /* FILE:junk where FILE exists is a mistyped multiplier; else
               * the ':' is part of the file's name. */
              if (! g_file_test (o->loras[i], G_FILE_TEST_EXISTS) &&
                  g_file_test (before, G_FILE_TEST_IS_REGULAR))
                {
                  *message = g_strdup_printf ("--lora %s: the multiplier \"%s\" is not a number",
                                              o->loras[i], colon + 1);
                  return FALSE;
                }
              colon = NULL;
            }
          else if (! isfinite (scale))
            {
              *message = g_strdup_printf ("--lora %s: the multiplier is not finite", o->loras[i]);
              return FALSE;
            }
        }
      o->lora_paths[i] = colon ? g_strndup (o->loras[i], colon - o->loras[i]) : g_strdup (o->loras[i]);
      o->lora_scales[i] = colon ? (gfloat) scale : 1.0f;
      if (! *o->lora_paths[i])
        {
          *message = g_strdup_printf ("--lora %s names no file", o->loras[i]);
          return FALSE;
        }
    }
  params->lora_paths = (const char *const *) o->lora_paths;
  params->lora_scales = o->lora_scales;
  params->n_loras = (int) n;
  return TRUE;
}

static void
model_options_clear (ModelOptions *o)
{
  g_free (o->dtype);
  g_free (o->family);
  g_free (o->vae);
  g_free (o->clip_l);
  g_free (o->t5xxl);
  g_strfreev (o->loras);
  g_strfreev (o->lora_paths);
  g_free (o->lora_scales);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ModelOptions, model_options_clear)

/* Opens the model at `dir` and prints what it is. */
static int
show_info (const gchar                *dir,
           const cocoedit_open_params *params,
           gboolean                    json)
{
  cocoedit_model     *model = NULL;
  cocoedit_model_info info;
  cocoedit_error      err;

  if (cocoedit_model_open (dir, params, &model, &err) != COCOEDIT_OK)
    return engine_failure (json, dir, &err);
  if (cocoedit_model_get_info (model, &info, &err) != COCOEDIT_OK)
    {
      cocoedit_model_free (model);
      return engine_failure (json, dir, &err);
    }
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "ok");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, dir);
      add_info (b, model, &info);
      json_builder_end_object (b);
      print_json (b);
    }
  else
    {
      printf ("model:         %s (%s)\n", info.name, dir);
      printf ("family:        %s\n", info.family);
      printf ("architecture:  %s\n", info.architecture);
      for (int i = 0; i < info.n_components; i++)
        {
          cocoedit_component_info c;

          if (cocoedit_model_get_component (model, i, &c, NULL) == COCOEDIT_OK)
            printf ("  %-14s %-12s %12" G_GINT64_FORMAT " parameters%s%s\n",
                    c.role, c.kind, c.n_parameters, *c.dtype ? ", " : "", c.dtype);
        }
      printf ("parameters:    %" G_GINT64_FORMAT " (%.1f M)\n", info.n_parameters, info.n_parameters / 1e6);
      printf ("device:        %s\n", info.device);
      printf ("dtype:         %s\n", info.dtype);
      printf ("working size:  %d px, patch %d px\n", info.working_size, info.patch_size);
      printf ("defaults:      %d steps, guidance %.2f\n", info.default_steps, info.default_guidance);
      printf ("mask channel:  %s\n", info.has_mask_channel ? "yes" : "no");
      printf ("memory:        %.1f MB of weights, about %.1f MB more for an edit at %d px\n",
              info.memory_weights / 1e6, info.memory_edit / 1e6, info.memory_edit_size);
    }
  cocoedit_model_free (model);
  return 0;
}

static int
cmd_info (int    argc,
          char **argv)
{
  g_autofree gchar   *device = NULL, *message = NULL;
  gboolean            json = FALSE;
  g_auto (ModelOptions) mopts = { 0 };
  GOptionEntry        entries[] = {
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "auto, cpu or cuda", "DEVICE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[MODEL] — describe a model");
  g_autoptr (GError)  error = NULL;
  cocoedit_open_params params = cocoedit_open_default_params ();

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, model_option_group (&mopts));
  if (! g_option_context_parse (ctx, &argc, &argv, &error))
    return usage_error (error->message);
  if (argc > 2)
    return usage_error ("info takes at most one model");
  if (! parse_device (device, &params.device))
    return usage_error ("--device must be auto, cpu or cuda");
  if (! model_options_apply (&mopts, &params, &message))
    return usage_error (message);
  return show_info (argc == 2 ? argv[1] : default_model (), &params, json);
}

static int
cmd_init_model (int    argc,
                char **argv)
{
  g_autofree gchar *config = NULL;
  g_autofree gchar *out = NULL;
  gint64            seed = 0;
  gint              shard_mib = 0;
  GOptionEntry      entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Model config.json", "FILE" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the random weights", "N" },
    { "shard-mib", 0, 0, G_OPTION_ARG_INT, &shard_mib, "Largest weight file in MiB (0 = one file)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Model directory to write", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("— create a randomly initialised model");
  g_autoptr (GError) error = NULL;
  cocoedit_open_params params = cocoedit_open_default_params ();
  cocoedit_model    *model = NULL;
  cocoedit_error     err;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (! g_option_context_parse (ctx, &argc, &argv, &error))
    return usage_error (error->message);
  if (! config || ! out || argc != 1)
    return usage_error ("init-model needs --config and --output");
  if (shard_mib < 0 || seed < 0)
    return usage_error ("--seed and --shard-mib must not be negative");
  params.device = COCOEDIT_DEVICE_CPU;
  if (cocoedit_model_create_random (config, (uint64_t) seed, &params, &model, &err) != COCOEDIT_OK)
    return engine_failure (FALSE, config, &err);
  if (cocoedit_model_save (model, out, (size_t) shard_mib << 20, &err) != COCOEDIT_OK)
    {
      cocoedit_model_free (model);
      return engine_failure (FALSE, out, &err);
    }
  cocoedit_model_free (model);
  return 0;
}

static int
cmd_edit (int    argc,
          char **argv)
{
  g_autofree gchar *prompt = NULL, *mask_path = NULL, *out = NULL, *model_dir = NULL, *device = NULL;
  g_autofree gchar *message = NULL;
  g_auto (ModelOptions) mopts = { 0 };
  gint64            seed = 0;
  gint              steps = 0, working_size = 0, margin = -1;
  gdouble           guidance = -1.0, image_guidance = 1.0, strength = 1.0;
  gboolean          json = FALSE, quiet = FALSE;
  GOptionEntry      entries[] = {
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "The instruction (UTF-8)", "TEXT" },
    { "mask", 'm', 0, G_OPTION_ARG_FILENAME, &mask_path, "Edit mask: white may change, black or transparent stays", "MASK.png" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Where to write the result (PNG)", "OUT.png" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_dir, "Model folder, description file or transformer file (default: $COCOEDIT_MODEL or the installed model)", "PATH" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "auto, cpu or cuda", "DEVICE" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (same seed, same result)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Sampler steps (0 = the model's default)", "N" },
    { "guidance", 'g', 0, G_OPTION_ARG_DOUBLE, &guidance, "Instruction guidance scale (default: the model's)", "G" },
    { "image-guidance", 0, 0, G_OPTION_ARG_DOUBLE, &image_guidance, "Source-image guidance scale (1 = off)", "G" },
    { "strength", 0, 0, G_OPTION_ARG_DOUBLE, &strength, "1 = free edit; lower keeps more of the source", "S" },
    { "working-size", 0, 0, G_OPTION_ARG_INT, &working_size, "Model resolution, long side (0 = default)", "PX" },
    { "margin", 0, 0, G_OPTION_ARG_INT, &margin, "Context pixels around the mask (-1 = automatic)", "PX" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON result", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress bar", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IMAGE — edit an image by an instruction");
  g_autoptr (GError)  error = NULL;
  CocoeditPixels       src = { 0 }, mask = { 0 };
  cocoedit_open_params oparams = cocoedit_open_default_params ();
  cocoedit_edit_params eparams = cocoedit_edit_default_params ();
  cocoedit_model      *model = NULL;
  cocoedit_error       err;
  cocoedit_image       src_img, mask_img, out_img;
  Progress             progress;
  guint8              *result;
  int                  rc = 0;
  gint64               t0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, model_option_group (&mopts));
  if (! g_option_context_parse (ctx, &argc, &argv, &error))
    return usage_error (error->message);
  if (! model_options_apply (&mopts, &oparams, &message))
    return usage_error (message);
  if (argc != 2)
    return usage_error ("edit needs exactly one input image");
  if (! prompt || ! out)
    return usage_error ("edit needs --prompt and --output");
  if (! parse_device (device, &oparams.device))
    return usage_error ("--device must be auto, cpu or cuda");
  if (seed < 0)
    return usage_error ("--seed must not be negative");

  if (! cocoedit_pixels_load (argv[1], 4, MAX_SIDE, &src, &error))
    {
      fprintf (stderr, "cocoedit: %s\n", error->message);
      return EXIT_INPUT;
    }
  if (mask_path && ! cocoedit_pixels_load (mask_path, 1, MAX_SIDE, &mask, &error))
    {
      fprintf (stderr, "cocoedit: %s\n", error->message);
      cocoedit_pixels_clear (&src);
      return EXIT_INPUT;
    }

  src_img = (cocoedit_image) { src.width, src.height, COCOEDIT_RGBA8, (size_t) src.width * 4, src.pixels };
  mask_img = (cocoedit_image) { mask.width, mask.height, COCOEDIT_GRAY8, (size_t) mask.width, mask.pixels };
  result = g_try_malloc ((gsize) src.width * src.height * 4);
  if (! result)
    {
      fprintf (stderr, "cocoedit: not enough memory for the result\n");
      cocoedit_pixels_clear (&src);
      cocoedit_pixels_clear (&mask);
      return EXIT_ENGINE + COCOEDIT_ERR_OUT_OF_MEMORY;
    }
  out_img = src_img;
  out_img.data = result;

  if (cocoedit_model_open (model_dir ? model_dir : default_model (), &oparams, &model, &err) != COCOEDIT_OK)
    {
      rc = engine_failure (json, model_dir ? model_dir : default_model (), &err);
      goto out;
    }

  progress.json = json;
  progress.tty = ! quiet && isatty (STDERR_FILENO);
  progress.started = g_get_monotonic_time ();
  eparams.prompt = prompt;
  eparams.seed = (uint64_t) seed;
  eparams.steps = steps;
  eparams.guidance = (float) guidance;
  eparams.image_guidance = (float) image_guidance;
  eparams.strength = (float) strength;
  eparams.working_size = working_size;
  eparams.context_margin = margin;
  eparams.progress = report_progress;
  eparams.user_data = &progress;

  signal (SIGINT, on_sigint);
  t0 = g_get_monotonic_time ();
  if (cocoedit_edit (model, &src_img, mask_path ? &mask_img : NULL, &eparams, &out_img, &err) != COCOEDIT_OK)
    {
      rc = engine_failure (json, argv[1], &err);
      goto out;
    }
  {
    CocoeditPixels res = { src.width, src.height, 4, result };

    if (! cocoedit_pixels_save_png (&res, out, &error))
      {
        fprintf (stderr, "cocoedit: %s\n", error->message);
        rc = EXIT_OUTPUT;
        goto out;
      }
  }
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "ok");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_set_member_name (b, "output");
      json_builder_add_string_value (b, out);
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, src.width);
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, src.height);
      json_builder_set_member_name (b, "seconds");
      json_builder_add_double_value (b, (g_get_monotonic_time () - t0) / 1e6);
      json_builder_end_object (b);
      print_json (b);
    }

out:
  cocoedit_model_free (model);
  g_free (result);
  cocoedit_pixels_clear (&src);
  cocoedit_pixels_clear (&mask);
  return rc;
}

static void
print_usage (FILE *f)
{
  fprintf (f,
           "Usage: cocoedit COMMAND [OPTION...]\n\n"
           "Commands:\n"
           "  edit IMAGE --prompt TEXT [--mask MASK] -o OUT.png   edit an image by an instruction\n"
           "  info [MODEL]                                        describe a model\n"
           "  init-model --config FILE -o DIR                     create a randomly initialised model\n\n"
           "'cocoedit COMMAND --help' lists a command's options.  Version %s.\n",
           cocoedit_version ());
}

int
main (int    argc,
      char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      print_usage (stderr);
      return EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      print_usage (stdout);
      return 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("cocoedit %s\n", cocoedit_version ());
      return 0;
    }
  if (g_str_equal (argv[1], "edit"))
    return cmd_edit (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "info"))
    return cmd_info (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "init-model"))
    return cmd_init_model (argc - 1, argv + 1);
  fprintf (stderr, "cocoedit: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return EXIT_USAGE;
}
