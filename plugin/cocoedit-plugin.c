/* CoCoEdit for GIMP
 *
 * cocoedit-plugin.c: Filters > CoCoEdit > Edit with Instruction…
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * Edits the active layer by a written instruction with the CoCoEdit
 * engine, in-process.  The selection is the edit mask: nothing outside
 * it changes.  The result goes into a new layer above the source (or
 * replaces the layer's content) in one undo step.  The engine runs in a
 * worker thread; only the main thread talks to GIMP.
 */

#include <errno.h>
#include <string.h>

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "cocoedit-choices.h"
#include "cocoedit-dialog.h"
#include "cocoedit-estimates.h"
#include "cocoedit-history.h"
#include "cocoedit-models.h"
#include "cocoedit-record.h"
#include "cocoedit-region.h"
#include "cocoedit-runner.h"


#define PLUG_IN_PROC        "plug-in-cocoedit"
#define PLUG_IN_REPEAT_PROC "plug-in-cocoedit-repeat"
#define PLUG_IN_REGEN_PROC  "plug-in-cocoedit-regenerate"
#define PLUG_IN_BINARY      "cocoedit-gimp"
#define PLUG_IN_MENU        "<Image>/Filters/CoCoEdit"
#define PREVIEW_MAX_SIZE    480
#define THUMBNAIL_SIZE      64


typedef struct
{
  gchar              *prompt;
  gint                seed;
  gboolean            random_seed;
  gint                steps;
  gdouble             guidance;
  gdouble             strength;
  gchar              *model_path;
  cocoedit_device     device;
  CocoeditOutputMode  output_mode;
  gint                variations;   /* 0: automatic */
  gboolean            keep_choices;
} Settings;

typedef struct _Ui Ui;

/* One variation computed in the dialog. */
typedef struct
{
  Ui              *ui;
  CocoeditRegion  *region;
  CocoeditEditJob  job;
  GCancellable    *cancellable;
  gchar           *key;
} Preview;

struct _Ui
{
  GimpProcedureConfig *config;
  GimpDrawable        *drawable;
  CocoeditRunner      *runner;
  CocoeditDialog      *dialog;

  /* Preview makes a run of variations, one after the other, with the
   * seeds seed, seed + 1, …
   */
  Preview             *running;     /* the variation being computed  */
  GPtrArray           *variations;  /* the finished ones (Preview)   */
  gint                 chosen;      /* the one shown and applied     */
  gint                 run_size;
  gint                 run_seed;
  gboolean             run_auto;    /* "Auto": size follows the time */
  gboolean             run_stopped;
  guint                poll_id;
  guint                open_serial;
  gchar               *model_dir;   /* of the last model opened      */
  cocoedit_device      device;
  gchar               *engine_text; /* what the engine said of it    */
  gdouble              seconds;     /* per edit, measured; < 0: not  */
  GCancellable        *calibrating; /* timing a model just loaded    */
};


#define COCOEDIT_TYPE_PLUG_IN (cocoedit_plug_in_get_type ())
G_DECLARE_FINAL_TYPE (CocoeditPlugIn, cocoedit_plug_in,
                      COCOEDIT, PLUG_IN, GimpPlugIn)

struct _CocoeditPlugIn
{
  GimpPlugIn parent_instance;
};


static GList          * cocoedit_query_procedures (GimpPlugIn           *plug_in);
static GimpProcedure  * cocoedit_create_procedure (GimpPlugIn           *plug_in,
                                                   const gchar          *name);

static GimpValueArray * cocoedit_run              (GimpProcedure        *procedure,
                                                   GimpRunMode           run_mode,
                                                   GimpImage            *image,
                                                   GimpDrawable        **drawables,
                                                   GimpProcedureConfig  *config,
                                                   gpointer              run_data);
static GimpValueArray * cocoedit_run_repeat       (GimpProcedure        *procedure,
                                                   GimpRunMode           run_mode,
                                                   GimpImage            *image,
                                                   GimpDrawable        **drawables,
                                                   GimpProcedureConfig  *config,
                                                   gpointer              run_data);
static GimpValueArray * cocoedit_run_regenerate   (GimpProcedure        *procedure,
                                                   GimpRunMode           run_mode,
                                                   GimpImage            *image,
                                                   GimpDrawable        **drawables,
                                                   GimpProcedureConfig  *config,
                                                   gpointer              run_data);

typedef enum
{
  DIALOG_CANCEL,
  DIALOG_OK,
  DIALOG_REGENERATE
} DialogResult;

static DialogResult     cocoedit_dialog_run_ui    (GimpProcedure        *procedure,
                                                   GimpProcedureConfig  *config,
                                                   GimpDrawable         *drawable,
                                                   CocoeditRunner       *runner,
                                                   Preview             **preview,
                                                   GPtrArray           **others,
                                                   gboolean             *keep_seed);
static void             keep_choice               (CocoeditRegion       *region,
                                                   GPtrArray            *others,
                                                   const Settings       *settings,
                                                   const gchar          *model_dir);
static GimpValueArray * regenerate_from_dialog    (GimpProcedure        *procedure,
                                                   GimpImage            *image,
                                                   GimpDrawable         *drawable,
                                                   gboolean              keep_seed);

static void             settings_get              (Settings             *settings,
                                                   GimpProcedureConfig  *config);
static void             settings_clear            (Settings             *settings);
static gchar          * settings_key              (const Settings       *settings,
                                                   const gchar          *model_dir);
static gchar          * cocoedit_find_model       (const gchar          *model_path,
                                                   GError              **error);
static void             edit_job_init             (CocoeditEditJob      *job,
                                                   const Settings       *settings,
                                                   const gchar          *model_dir,
                                                   CocoeditRegion       *region);
static gdouble          estimated_seconds         (const gchar          *model_dir,
                                                   cocoedit_device       device);
static gchar          * with_time_left            (gchar                *text,
                                                   gdouble               seconds_left);
static void             record_seconds            (const gchar          *model_dir,
                                                   cocoedit_device       device,
                                                   gdouble               seconds);
static gboolean         run_with_progress         (CocoeditRunner       *runner,
                                                   CocoeditEditJob      *job,
                                                   CocoeditRegion       *region,
                                                   GimpLayer            *replaces,
                                                   GError              **error);
static CocoeditRecord * record_new                (const Settings       *settings,
                                                   const gchar          *model_dir,
                                                   GimpDrawable         *source);
static gchar          * progress_text             (CocoeditPhase         phase,
                                                   gint                  step,
                                                   gint                  n_steps,
                                                   gdouble              *fraction);
static void             preview_free              (Preview              *preview);


G_DEFINE_FINAL_TYPE (CocoeditPlugIn, cocoedit_plug_in, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (COCOEDIT_TYPE_PLUG_IN)


static void
cocoedit_plug_in_class_init (CocoeditPlugInClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = cocoedit_query_procedures;
  plug_in_class->create_procedure = cocoedit_create_procedure;
}

static void
cocoedit_plug_in_init (CocoeditPlugIn *plug_in)
{
}

static GList *
cocoedit_query_procedures (GimpPlugIn *plug_in)
{
  GList *list = NULL;

  list = g_list_append (list, g_strdup (PLUG_IN_PROC));
  list = g_list_append (list, g_strdup (PLUG_IN_REPEAT_PROC));
  list = g_list_append (list, g_strdup (PLUG_IN_REGEN_PROC));

  return list;
}

static GimpProcedure *
cocoedit_create_procedure (GimpPlugIn  *plug_in,
                           const gchar *name)
{
  GimpProcedure *procedure = NULL;

  if (! strcmp (name, PLUG_IN_PROC))
    {
      procedure = gimp_image_procedure_new (plug_in, name,
                                            GIMP_PDB_PROC_TYPE_PLUGIN,
                                            cocoedit_run, NULL, NULL);

      gimp_procedure_set_menu_label (procedure, _("_Edit with Instruction…"));
      gimp_procedure_set_documentation
        (procedure,
         _("Edit the layer by a written instruction"),
         _("Edits the active layer as a written instruction says (\"make "
           "the car red\", \"remove the lamp\") with the CoCoEdit model. "
           "The selection is the region that may change, feathered "
           "selections blend softly, and every pixel outside it stays as "
           "it was. The result goes into a new layer above the source "
           "layer, with the selection as its layer mask, or replaces the "
           "layer's content. Run on such a layer, it edits the result "
           "again."),
         name);

      gimp_procedure_add_string_argument (procedure, COCOEDIT_PROP_PROMPT,
                                          _("_Instruction"),
                                          _("What to change, in words"),
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (procedure, COCOEDIT_PROP_SEED,
                                       _("See_d"),
                                       _("Seed of the random noise the "
                                         "sampler starts from"),
                                       0, G_MAXINT, 0, G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (procedure, COCOEDIT_PROP_STEPS,
                                       _("S_teps"),
                                       _("Sampler steps; more are slower and "
                                         "finer. 0 uses the model's default"),
                                       0, 100, 0, G_PARAM_READWRITE);
      gimp_procedure_add_double_argument (procedure, COCOEDIT_PROP_GUIDANCE,
                                          _("_Guidance"),
                                          _("How closely to follow the "
                                            "instruction. 0 uses the model's "
                                            "default"),
                                          0.0, 20.0, 0.0, G_PARAM_READWRITE);
      gimp_procedure_add_double_argument (procedure, COCOEDIT_PROP_STRENGTH,
                                          _("Strengt_h"),
                                          _("1 repaints the selection "
                                            "freely; lower values keep more "
                                            "of the original"),
                                          0.0, 1.0, 1.0, G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (procedure, COCOEDIT_PROP_MODEL_PATH,
                                          _("Model folder"),
                                          _("Folder of the model to use; "
                                            "empty for the installed one"),
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument (procedure, COCOEDIT_PROP_DEVICE,
                                          _("De_vice"),
                                          _("Where the model runs"),
                                          gimp_choice_new_with_values
                                            ("auto", COCOEDIT_DEVICE_AUTO,
                                             _("Automatic (GPU if available)"), NULL,
                                             "cpu",  COCOEDIT_DEVICE_CPU,
                                             _("CPU"), NULL,
                                             "cuda", COCOEDIT_DEVICE_CUDA,
                                             _("GPU (CUDA)"), NULL,
                                             NULL),
                                          "auto", G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument (procedure, COCOEDIT_PROP_OUTPUT_MODE,
                                          _("O_utput"),
                                          _("Where the result goes"),
                                          gimp_choice_new_with_values
                                            ("new-layer", COCOEDIT_OUTPUT_NEW_LAYER,
                                             _("New layer above"), NULL,
                                             "replace",   COCOEDIT_OUTPUT_REPLACE,
                                             _("Replace the layer's content"), NULL,
                                             NULL),
                                          "new-layer", G_PARAM_READWRITE);
      gimp_procedure_add_int_aux_argument (procedure,
                                           COCOEDIT_PROP_VARIATIONS,
                                           _("Variation_s"),
                                           _("How many candidates Preview "
                                             "makes, each with its own "
                                             "seed. 0: three when one edit "
                                             "takes under 10 seconds here, "
                                             "else one"),
                                           0, 8, 0, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_aux_argument (procedure,
                                               COCOEDIT_PROP_KEEP_CHOICES,
                                               _("_Keep my choices as training data"),
                                               _("Store each applied choice "
                                                 "among variations locally, "
                                                 "for cocoedit-train"),
                                               FALSE, G_PARAM_READWRITE);
      gimp_procedure_add_boolean_aux_argument (procedure,
                                               COCOEDIT_PROP_RANDOM_SEED,
                                               _("Randomi_ze"),
                                               _("Pick a new seed every time"),
                                               FALSE, G_PARAM_READWRITE);
    }
  else if (! strcmp (name, PLUG_IN_REPEAT_PROC))
    {
      procedure = gimp_image_procedure_new (plug_in, name,
                                            GIMP_PDB_PROC_TYPE_PLUGIN,
                                            cocoedit_run_repeat, NULL, NULL);

      gimp_procedure_set_menu_label (procedure, _("_Repeat Last Edit"));
      gimp_procedure_set_documentation
        (procedure,
         _("Repeat the last instruction edit"),
         _("Runs \"Edit with Instruction\" again on the active layer and "
           "selection with the values used last, without a dialog."),
         name);
    }
  else if (! strcmp (name, PLUG_IN_REGEN_PROC))
    {
      procedure = gimp_image_procedure_new (plug_in, name,
                                            GIMP_PDB_PROC_TYPE_PLUGIN,
                                            cocoedit_run_regenerate, NULL, NULL);

      gimp_procedure_set_menu_label (procedure, _("Re_generate"));
      gimp_procedure_set_documentation
        (procedure,
         _("Make a layer made by CoCoEdit again"),
         _("Runs the edit that made the active layer again, with the same "
           "instruction, source layer, selection and settings, and a new "
           "seed unless told otherwise. The layer keeps its place, name "
           "and layer mask."),
         name);
      gimp_procedure_add_boolean_argument (procedure, "new-seed",
                                           _("_New seed"),
                                           _("Pick a new seed; otherwise "
                                             "the layer's own seed is used"),
                                           TRUE, G_PARAM_READWRITE);
    }

  if (procedure)
    {
      /* All three return the layer that holds the result. */
      gimp_procedure_add_layer_return_value (procedure, "layer",
                                             _("Layer"),
                                             _("The layer that holds the "
                                               "result"),
                                             FALSE, G_PARAM_READWRITE);
      gimp_procedure_set_image_types (procedure, "RGB*, GRAY*");
      gimp_procedure_set_sensitivity_mask (procedure,
                                           GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
      gimp_procedure_add_menu_path (procedure, PLUG_IN_MENU);
      gimp_procedure_set_attribution (procedure,
                                      "The CoCoEdit authors",
                                      "The CoCoEdit authors",
                                      "2026");
    }

  return procedure;
}


/*  running  */

/* The place is checked every this many polls (each check is a few round
 * trips to GIMP): a closed image stops the edit within half a second.
 */
#define PLACE_CHECK_POLLS 5

typedef struct
{
  CocoeditRunner *runner;
  CocoeditPhase   phase;
  gdouble         seconds;   /* per edit, measured here; < 0: unknown */
  gint            step;
  CocoeditRegion *region;    /* where the result goes, and ...          */
  GimpLayer      *replaces;  /* ... the layer it replaces, or NULL      */
  GCancellable   *cancellable;
  GError         *lost;      /* why the result has no place any more    */
  guint           polls;
} ProgressState;

static gboolean
progress_poll (gpointer user_data)
{
  ProgressState *state = user_data;
  CocoeditPhase  phase;
  gdouble        fraction;
  gint           step, n_steps;
  gchar         *text;

  /* Closing the image, removing or resizing the layer: the edit is
   * stopped now, instead of computing a result that has nowhere to go.
   */
  if (state->lost)
    return G_SOURCE_CONTINUE;
  if (++state->polls % PLACE_CHECK_POLLS == 0 &&
      ! cocoedit_region_check_place (state->region, state->replaces,
                                     &state->lost))
    {
      g_cancellable_cancel (state->cancellable);
      return G_SOURCE_CONTINUE;
    }

  phase = cocoedit_runner_get_progress (state->runner, &step, &n_steps);
  text  = progress_text (phase, step, n_steps, &fraction);

  /* Each call is a round trip to GIMP: say only what changed (the
   * phase, and the step with the time left).
   */
  if (state->seconds > 0.0 && fraction >= 0.0)
    text = with_time_left (text, state->seconds * (1.0 - fraction));
  if (phase != state->phase || step != state->step)
    gimp_progress_set_text (text);
  state->phase = phase;
  state->step  = step;

  if (fraction < 0.0)
    gimp_progress_pulse ();
  else
    gimp_progress_update (fraction);

  g_free (text);

  return G_SOURCE_CONTINUE;
}

static GimpValueArray *
cocoedit_run (GimpProcedure        *procedure,
              GimpRunMode           run_mode,
              GimpImage            *image,
              GimpDrawable        **drawables,
              GimpProcedureConfig  *config,
              gpointer              run_data)
{
  GimpValueArray   *return_vals;
  CocoeditRunner   *runner;
  CocoeditRegion   *region   = NULL;
  Preview          *preview  = NULL;
  GimpDrawable     *drawable;
  GimpDrawable     *result   = NULL;
  Settings          settings = { NULL, };
  CocoeditEditJob   job      = { NULL, };
  CocoeditRecord   *record   = NULL;
  GPtrArray        *others   = NULL;
  gboolean          applied_preview = FALSE;
  GimpPDBStatusType status   = GIMP_PDB_SUCCESS;
  gchar            *model_dir = NULL;
  gchar            *name;
  GError           *error    = NULL;

  gegl_init (NULL, NULL);

  if (gimp_core_object_array_get_length ((GObject **) drawables) != 1)
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("Procedure '%s' works with exactly one layer."),
                   PLUG_IN_PROC);
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_CALLING_ERROR,
                                               error);
    }

  drawable = drawables[0];

  if (! GIMP_IS_LAYER (drawable) || gimp_item_is_group (GIMP_ITEM (drawable)))
    {
      g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                           _("CoCoEdit edits the pixels of a layer: select a "
                             "layer that is not a layer group, a channel or "
                             "a layer mask."));
      return gimp_procedure_new_return_values (procedure,
                                               GIMP_PDB_CALLING_ERROR,
                                               error);
    }

  runner = cocoedit_runner_new (0);

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      DialogResult answer;
      gboolean     keep_seed = FALSE;

      gimp_ui_init (PLUG_IN_BINARY);

      answer = cocoedit_dialog_run_ui (procedure, config, drawable, runner,
                                       &preview, &others, &keep_seed);
      if (answer != DIALOG_OK)
        {
          g_object_unref (runner);
          if (answer == DIALOG_REGENERATE)
            return regenerate_from_dialog (procedure, image, drawable,
                                           keep_seed);
          return gimp_procedure_new_return_values (procedure,
                                                   GIMP_PDB_CANCEL, NULL);
        }
    }

  settings_get (&settings, config);

  if (! *settings.prompt)
    {
      if (run_mode == GIMP_RUN_WITH_LAST_VALS)
        g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                             _("There is no edit to repeat yet: use "
                               "Filters > CoCoEdit > Edit with "
                               "Instruction first."));
      else
        g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                             _("The instruction is empty: say what to "
                               "change, for example \"make the sky "
                               "purple\"."));
      status = GIMP_PDB_CALLING_ERROR;
      goto out;
    }

  model_dir = cocoedit_find_model (settings.model_path, &error);
  if (! model_dir)
    {
      status = GIMP_PDB_EXECUTION_ERROR;
      goto out;
    }

  /* Apply the preview as it is when nothing changed since. */
  if (preview)
    {
      gchar *key = settings_key (&settings, model_dir);

      region = cocoedit_region_new (drawable, NULL, &error);
      if (! region)
        {
          g_free (key);
          status = GIMP_PDB_EXECUTION_ERROR;
          goto out;
        }

      if (! strcmp (key, preview->key)                                  &&
          gegl_rectangle_equal (&region->crop, &preview->region->crop) &&
          ! memcmp (region->source.data, preview->region->source.data,
                    region->source.stride * region->source.height)      &&
          (! region->has_mask ||
           ! memcmp (region->mask.data, preview->region->mask.data,
                     region->mask.stride * region->mask.height)))
        {
          cocoedit_region_free (region);
          region = g_steal_pointer (&preview->region);
          applied_preview = TRUE;
        }
      else
        {
          cocoedit_region_free (region);
          region = NULL;
        }

      g_free (key);
    }

  if (! region)
    {
      if (settings.random_seed && run_mode != GIMP_RUN_NONINTERACTIVE)
        {
          settings.seed = g_random_int_range (0, G_MAXINT);
          g_object_set (config, COCOEDIT_PROP_SEED, settings.seed, NULL);
        }

      region = cocoedit_region_new (drawable, NULL, &error);
      if (! region)
        {
          status = GIMP_PDB_EXECUTION_ERROR;
          goto out;
        }

      edit_job_init (&job, &settings, model_dir, region);

      if (! run_with_progress (runner, &job, region, NULL, &error))
        {
          status = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ?
                   GIMP_PDB_CANCEL : GIMP_PDB_EXECUTION_ERROR;
          goto out;
        }
      if (run_mode == GIMP_RUN_INTERACTIVE)
        record_seconds (model_dir, settings.device, job.seconds);
    }

  record = record_new (&settings, model_dir, drawable);
  name   = cocoedit_layer_name_from_prompt (settings.prompt);
  result = cocoedit_region_apply (region, settings.output_mode, name,
                                  record, NULL, &error);
  g_free (name);

  if (! result)
    {
      status = GIMP_PDB_EXECUTION_ERROR;
      goto out;
    }

  /* Only a variation applied as it was shown is a choice. */
  if (others && settings.keep_choices && applied_preview)
    keep_choice (region, others, &settings, model_dir);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    {
      gchar *path = cocoedit_history_get_path ();

      cocoedit_history_add (path, settings.prompt, NULL);
      gimp_displays_flush ();
      g_free (path);
    }

 out:
  return_vals = gimp_procedure_new_return_values (procedure, status, error);
  if (status == GIMP_PDB_SUCCESS)
    GIMP_VALUES_SET_LAYER (return_vals, 1, GIMP_LAYER (result));

  cocoedit_edit_job_clear (&job);
  cocoedit_region_free (region);
  cocoedit_record_free (record);
  g_clear_pointer (&preview, preview_free);
  g_clear_pointer (&others, g_ptr_array_unref);
  settings_clear (&settings);
  g_free (model_dir);
  g_object_unref (runner);

  return return_vals;
}

/* @procedure's return values from those of the procedure it ran for the
 * user (Repeat Last Edit and Regenerate run another): its status, its
 * error message and its layer.
 */
static GimpValueArray *
forward_result (GimpProcedure  *procedure,
                GimpValueArray *inner_vals)
{
  GimpValueArray    *return_vals;
  GimpPDBStatusType  status = GIMP_VALUES_GET_ENUM (inner_vals, 0);
  GError            *error  = NULL;

  if (status != GIMP_PDB_SUCCESS && status != GIMP_PDB_CANCEL)
    {
      const gchar *message = gimp_pdb_get_last_error (gimp_get_pdb ());

      g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                           message && *message ? message
                                               : _("The edit failed."));
    }

  return_vals = gimp_procedure_new_return_values (procedure, status, error);
  if (status == GIMP_PDB_SUCCESS)
    GIMP_VALUES_SET_LAYER (return_vals, 1, GIMP_VALUES_GET_LAYER (inner_vals, 1));

  gimp_value_array_unref (inner_vals);

  return return_vals;
}

static GimpValueArray *
cocoedit_run_repeat (GimpProcedure        *procedure,
                     GimpRunMode           run_mode,
                     GimpImage            *image,
                     GimpDrawable        **drawables,
                     GimpProcedureConfig  *config,
                     gpointer              run_data)
{
  GimpProcedure       *edit;
  GimpProcedureConfig *edit_config;
  GimpValueArray      *return_vals;

  edit        = gimp_pdb_lookup_procedure (gimp_get_pdb (), PLUG_IN_PROC);
  edit_config = gimp_procedure_create_config (edit);

  g_object_set (edit_config,
                "run-mode", GIMP_RUN_WITH_LAST_VALS,
                "image",    image,
                NULL);
  gimp_procedure_config_set_core_object_array (edit_config, "drawables",
                                               (GObject **) drawables,
                                               gimp_core_object_array_get_length ((GObject **) drawables));

  return_vals = forward_result (procedure,
                                gimp_procedure_run_config (edit, edit_config));
  g_object_unref (edit_config);

  return return_vals;
}


/* Runs @job with GIMP's progress bar, stopping it (with the reason in
 * @error) when the result of @region loses its place meanwhile.
 */
static gboolean
run_with_progress (CocoeditRunner   *runner,
                   CocoeditEditJob  *job,
                   CocoeditRegion   *region,
                   GimpLayer        *replaces,
                   GError          **error)
{
  ProgressState state = { runner, COCOEDIT_PHASE_IDLE,
                          estimated_seconds (job->model_dir, job->device), -1,
                          region, replaces, g_cancellable_new (), NULL, 0 };
  gboolean      success;

  gimp_progress_init (_("CoCoEdit: editing"));

  success = cocoedit_runner_edit_sync (runner, job, state.cancellable,
                                       progress_poll, &state, error);
  if (state.lost)
    {
      g_clear_error (error);
      g_propagate_error (error, state.lost);
      success = FALSE;
    }
  else if (success)
    {
      gimp_progress_update (1.0);
    }

  gimp_progress_end ();
  g_object_unref (state.cancellable);

  return success;
}

static const gchar * const device_names[] =
{
  [COCOEDIT_DEVICE_AUTO] = "auto",
  [COCOEDIT_DEVICE_CPU]  = "cpu",
  [COCOEDIT_DEVICE_CUDA] = "cuda"
};

/* How the result of @settings on @source is made: the chain of
 * instructions goes on when @source is itself a CoCoEdit layer.
 */
static CocoeditRecord *
record_new (const Settings *settings,
            const gchar    *model_dir,
            GimpDrawable   *source)
{
  CocoeditRecord *record   = cocoedit_record_new ();
  CocoeditRecord *earlier  = cocoedit_region_get_record (source, NULL);
  GStrvBuilder   *chain    = g_strv_builder_new ();

  if (earlier)
    g_strv_builder_addv (chain, (const gchar **) earlier->chain);
  g_strv_builder_add (chain, settings->prompt);

  g_strfreev (record->chain);
  record->chain         = g_strv_builder_end (chain);
  record->seed          = settings->seed;
  record->steps         = settings->steps;
  record->guidance      = settings->guidance;
  record->strength      = settings->strength;
  g_free (record->model);
  record->model         = g_strdup (model_dir);
  g_free (record->device);
  record->device        = g_strdup (device_names[settings->device]);
  record->source_tattoo = gimp_item_get_tattoo (GIMP_ITEM (source));

  g_strv_builder_unref (chain);
  cocoedit_record_free (earlier);

  return record;
}

/* Regenerate: the edit that made a CoCoEdit layer, again, from its source
 * layer and saved selection as they are now, into that layer's place.
 */
static GimpValueArray *
cocoedit_run_regenerate (GimpProcedure        *procedure,
                         GimpRunMode           run_mode,
                         GimpImage            *image,
                         GimpDrawable        **drawables,
                         GimpProcedureConfig  *config,
                         gpointer              run_data)
{
  GimpValueArray   *return_vals;
  GimpDrawable     *drawable;
  GimpLayer        *source;
  GimpChannel      *channel  = NULL;
  CocoeditRunner   *runner   = NULL;
  CocoeditRegion   *region   = NULL;
  CocoeditRecord   *record   = NULL;
  CocoeditEditJob   job      = { NULL, };
  Settings          settings = { NULL, };
  GimpDrawable     *result   = NULL;
  GimpPDBStatusType status   = GIMP_PDB_EXECUTION_ERROR;
  gchar            *model_dir = NULL;
  gboolean          new_seed;
  guint             i;
  GError           *error    = NULL;

  gegl_init (NULL, NULL);

  g_object_get (config, "new-seed", &new_seed, NULL);

  if (gimp_core_object_array_get_length ((GObject **) drawables) != 1 ||
      ! GIMP_IS_LAYER (drawables[0]))
    {
      g_set_error (&error, GIMP_PLUG_IN_ERROR, 0,
                   _("Procedure '%s' works with exactly one layer."),
                   PLUG_IN_REGEN_PROC);
      status = GIMP_PDB_CALLING_ERROR;
      goto out;
    }
  drawable = drawables[0];

  record = cocoedit_region_get_record (drawable, &error);
  if (! record)
    {
      if (! error)
        g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                             _("This layer was not made by CoCoEdit: "
                               "select a layer that Edit with Instruction "
                               "made, or use Edit with Instruction."));
      status = GIMP_PDB_CALLING_ERROR;
      goto out;
    }

  source = gimp_image_get_layer_by_tattoo (image, record->source_tattoo);
  if (! source || GIMP_DRAWABLE (source) == drawable)
    {
      g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                           _("The layer this one was made from is no longer "
                             "in the image, so it cannot be made again. Use "
                             "Edit with Instruction on a layer instead."));
      goto out;
    }

  if (record->selection_tattoo)
    {
      channel = gimp_image_get_channel_by_tattoo (image,
                                                  record->selection_tattoo);
      if (! channel)
        {
          g_set_error_literal (&error, GIMP_PLUG_IN_ERROR, 0,
                               _("The channel that keeps this layer's "
                                 "selection was deleted, so it cannot be "
                                 "made again. Select the area and use Edit "
                                 "with Instruction instead."));
          goto out;
        }
    }

  settings.prompt      = g_strdup (cocoedit_record_get_prompt (record));
  settings.seed        = new_seed ? g_random_int_range (0, G_MAXINT)
                                  : record->seed;
  settings.steps       = record->steps;
  settings.guidance    = record->guidance;
  settings.strength    = record->strength;
  settings.model_path  = g_strdup (record->model);
  settings.device      = COCOEDIT_DEVICE_AUTO;
  for (i = 0; i < G_N_ELEMENTS (device_names); i++)
    if (! strcmp (record->device, device_names[i]))
      settings.device = i;

  model_dir = cocoedit_find_model (settings.model_path, &error);
  if (! model_dir)
    goto out;

  region = cocoedit_region_new (GIMP_DRAWABLE (source), channel, &error);
  if (! region)
    goto out;

  runner = cocoedit_runner_new (0);
  edit_job_init (&job, &settings, model_dir, region);

  if (! run_with_progress (runner, &job, region, GIMP_LAYER (drawable),
                          &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        status = GIMP_PDB_CANCEL;
      goto out;
    }

  record->seed = settings.seed;
  result = cocoedit_region_apply (region, COCOEDIT_OUTPUT_NEW_LAYER, NULL,
                                  record, GIMP_LAYER (drawable), &error);
  if (result)
    {
      status = GIMP_PDB_SUCCESS;
      if (run_mode != GIMP_RUN_NONINTERACTIVE)
        gimp_displays_flush ();
    }

 out:
  return_vals = gimp_procedure_new_return_values (procedure, status, error);
  if (status == GIMP_PDB_SUCCESS)
    GIMP_VALUES_SET_LAYER (return_vals, 1, GIMP_LAYER (result));

  cocoedit_edit_job_clear (&job);
  cocoedit_region_free (region);
  cocoedit_record_free (record);
  settings_clear (&settings);
  g_free (model_dir);
  g_clear_object (&runner);

  return return_vals;
}


/* The dialog's Regenerate button: Filters > CoCoEdit > Regenerate, with
 * a new seed or the layer's own.
 */
static GimpValueArray *
regenerate_from_dialog (GimpProcedure *procedure,
                        GimpImage     *image,
                        GimpDrawable  *drawable,
                        gboolean       keep_seed)
{
  return forward_result (procedure,
                         gimp_procedure_run (gimp_pdb_lookup_procedure (gimp_get_pdb (),
                                                                        PLUG_IN_REGEN_PROC),
                                             "run-mode",  GIMP_RUN_INTERACTIVE,
                                             "image",     image,
                                             "drawables", (GimpDrawable *[]) { drawable, NULL },
                                             "new-seed",  ! keep_seed,
                                             NULL));
}

/* An image of the engine's format as RGB8, or NULL when out of memory. */
static guint8 *
region_image_rgb8 (const CocoeditRegion *region,
                   const cocoedit_image *image)
{
  const Babl *fish   = babl_fish (region->engine_format,
                                  babl_format_with_space ("R'G'B' u8",
                                                          region->engine_format));
  guint8     *pixels = g_try_malloc ((gsize) image->width * image->height * 3);
  gint        y;

  if (pixels)
    for (y = 0; y < image->height; y++)
      babl_process (fish, (const guchar *) image->data + (gsize) y * image->stride,
                    pixels + (gsize) y * image->width * 3, image->width);

  return pixels;
}

/* Keeps the user's choice among the variations (the setting is on): the
 * area the model saw, the selection, the applied variation and the
 * others, as one record of the choices dataset.  A failure is told, never
 * in the way of the edit.
 */
static void
keep_choice (CocoeditRegion *region,
             GPtrArray      *others,
             const Settings *settings,
             const gchar    *model_dir)
{
  g_autoptr (JsonBuilder)   builder   = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode)      root      = NULL;
  GPtrArray      *rejected = g_ptr_array_new_with_free_func (g_free);
  CocoeditChoice  choice   = { 0, };
  gint            width    = region->crop.width;
  gint            height   = region->crop.height;
  guint8         *source   = region_image_rgb8 (region, &region->source);
  guint8         *chosen   = region_image_rgb8 (region, &region->output);
  guint8         *mask     = g_try_malloc ((gsize) width * height);
  gchar          *folder   = cocoedit_choices_folder ();
  gchar          *metadata = NULL;
  gchar          *id       = NULL;
  GError         *error    = NULL;
  gint            i;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "source");
  json_builder_add_string_value (builder, "gimp-plug-in");
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, model_dir);
  json_builder_set_member_name (builder, "steps");
  json_builder_add_int_value (builder, settings->steps);
  json_builder_set_member_name (builder, "guidance");
  json_builder_add_double_value (builder, settings->guidance);
  json_builder_set_member_name (builder, "strength");
  json_builder_add_double_value (builder, settings->strength);
  json_builder_set_member_name (builder, "seed");
  json_builder_add_int_value (builder, settings->seed);
  json_builder_set_member_name (builder, "rejected_seeds");
  json_builder_begin_array (builder);

  /* The others saw the same area unless the user changed it between them. */
  for (i = 0; i < (gint) others->len; i++)
    {
      const Preview *other = g_ptr_array_index (others, i);

      if (gegl_rectangle_equal (&other->region->crop, &region->crop))
        {
          g_ptr_array_add (rejected, region_image_rgb8 (other->region,
                                                        &other->region->output));
          json_builder_add_int_value (builder, (gint64) other->job.seed);
        }
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  metadata = json_generator_to_data (generator, NULL);

  if (mask)
    for (i = 0; i < width * height; i++)
      mask[i] = region->has_mask ?
                (guint8) (((const gfloat *) region->selection.data)[i] * 255.0f + 0.5f) :
                255;

  if (source && chosen && mask && rejected->len > 0 &&
      ! g_ptr_array_find (rejected, NULL, NULL))
    {
      choice.width      = width;
      choice.height     = height;
      choice.source     = source;
      choice.mask       = mask;
      choice.chosen     = chosen;
      choice.rejected   = (const guint8 *const *) rejected->pdata;
      choice.n_rejected = rejected->len;
      choice.prompt     = settings->prompt;
      choice.metadata   = metadata;

      id = cocoedit_choices_append (folder, &choice, &error);
    }

  if (! id && rejected->len > 0)
    g_message (_("Your choice could not be kept in %s: %s"), folder,
               error ? error->message : g_strerror (ENOMEM));

  g_clear_error (&error);
  g_free (id);
  g_free (metadata);
  g_free (folder);
  g_free (source);
  g_free (chosen);
  g_free (mask);
  g_ptr_array_unref (rejected);
}


/*  settings  */

static void
settings_get (Settings            *settings,
              GimpProcedureConfig *config)
{
  g_object_get (config,
                COCOEDIT_PROP_PROMPT,      &settings->prompt,
                COCOEDIT_PROP_SEED,        &settings->seed,
                COCOEDIT_PROP_RANDOM_SEED, &settings->random_seed,
                COCOEDIT_PROP_STEPS,       &settings->steps,
                COCOEDIT_PROP_GUIDANCE,    &settings->guidance,
                COCOEDIT_PROP_STRENGTH,    &settings->strength,
                COCOEDIT_PROP_MODEL_PATH,  &settings->model_path,
                COCOEDIT_PROP_VARIATIONS,  &settings->variations,
                COCOEDIT_PROP_KEEP_CHOICES, &settings->keep_choices,
                NULL);

  settings->device =
    gimp_procedure_config_get_choice_id (config, COCOEDIT_PROP_DEVICE);
  settings->output_mode =
    gimp_procedure_config_get_choice_id (config, COCOEDIT_PROP_OUTPUT_MODE);

  if (! settings->prompt)
    settings->prompt = g_strdup ("");
  g_strstrip (settings->prompt);

  if (! settings->model_path)
    settings->model_path = g_strdup ("");
  g_strstrip (settings->model_path);
}

static void
settings_clear (Settings *settings)
{
  g_clear_pointer (&settings->prompt, g_free);
  g_clear_pointer (&settings->model_path, g_free);
}

/* Everything a result depends on, apart from the pixels.  Numbers are
 * written the same in every locale.
 */
static gchar *
settings_key (const Settings *settings,
              const gchar    *model_dir)
{
  gchar guidance[G_ASCII_DTOSTR_BUF_SIZE];
  gchar strength[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_dtostr (guidance, sizeof (guidance), settings->guidance);
  g_ascii_dtostr (strength, sizeof (strength), settings->strength);

  return g_strdup_printf ("%s\n%d\n%d\n%s\n%s\n%s\n%d\n%d",
                          settings->prompt, settings->seed, settings->steps,
                          guidance, strength, model_dir,
                          settings->device, settings->output_mode);
}

static const gchar *
family_label (const gchar *family)
{
  return ! strcmp (family, "flux-kontext") ? "FLUX.1 Kontext" : "CoCoEdit";
}

/* Offers the default model (what cocoedit_find_model finds with no
 * folder chosen: $COCOEDIT_MODEL or the installed one) and the models
 * in the user's models folder, each with its family and size on disk.
 */
static void
offer_models (CocoeditDialog *dialog)
{
  GPtrArray   *ids    = g_ptr_array_new_with_free_func (g_free);
  GPtrArray   *labels = g_ptr_array_new_with_free_func (g_free);
  gchar       *folder = cocoedit_models_folder ();
  GPtrArray   *found  = cocoedit_models_in_folder (folder);
  gchar       *installed;

  /* The one used when no folder is chosen (the config's "" value). */
  installed = cocoedit_find_model (NULL, NULL);
  if (installed)
    {
      CocoeditModelEntry *entry = cocoedit_model_entry_new (installed);

      if (entry)
        {
          gchar *size = g_format_size (entry->bytes);

          g_ptr_array_add (ids, g_strdup (""));
          /* TRANSLATORS: folder name, family, size on disk */
          g_ptr_array_add (labels, g_strdup_printf (_("Default: %s (%s, %s)"), entry->name,
                                                    family_label (entry->family), size));
          g_free (size);
          cocoedit_model_entry_free (entry);
        }
    }

  for (guint i = 0; i < found->len; i++)
    {
      CocoeditModelEntry *entry = g_ptr_array_index (found, i);
      gchar              *size  = g_format_size (entry->bytes);

      if (g_strcmp0 (entry->path, installed))
        {
          g_ptr_array_add (ids, g_strdup (entry->path));
          /* TRANSLATORS: folder name, family, size on disk */
          g_ptr_array_add (labels, g_strdup_printf (_("%s (%s, %s)"), entry->name,
                                                    family_label (entry->family), size));
        }
      g_free (size);
    }
  g_ptr_array_add (ids, NULL);
  g_ptr_array_add (labels, NULL);

  cocoedit_dialog_set_models (dialog, (const gchar * const *) ids->pdata,
                              (const gchar * const *) labels->pdata, folder);

  g_ptr_array_unref (found);
  g_ptr_array_unref (ids);
  g_ptr_array_unref (labels);
  g_free (installed);
  g_free (folder);
}

/* The model: the given folder; else $COCOEDIT_MODEL; else the one in
 * the plug-in's folder; else the one installed in the data folder.
 */
static gchar *
cocoedit_find_model (const gchar  *model_path,
                     GError      **error)
{
  const gchar *env = g_getenv ("COCOEDIT_MODEL");
  gchar       *plug_in_dir;
  gchar       *candidates[3];
  GString     *tried;
  gchar       *found = NULL;
  guint        i;

  if (model_path && *model_path)
    {
      if (cocoedit_is_model_path (model_path))
        return g_strdup (model_path);

      g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                   _("There is no model in \"%s\": a model folder holds a "
                     "config.json and the weights."),
                   model_path);
      return NULL;
    }

  plug_in_dir   = g_path_get_dirname (gimp_get_progname ());
  candidates[0] = g_strdup (env && *env ? env : NULL);
  candidates[1] = g_build_filename (plug_in_dir, "model", NULL);
  candidates[2] = g_build_filename (COCOEDIT_DATADIR, "cocoedit", "models",
                                    "default", NULL);
  g_free (plug_in_dir);

  tried = g_string_new (NULL);
  for (i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (! candidates[i])
        continue;

      if (! found && cocoedit_is_model_path (candidates[i]))
        found = g_strdup (candidates[i]);

      g_string_append_printf (tried, "\n%s", candidates[i]);
    }

  if (! found)
    g_set_error (error, GIMP_PLUG_IN_ERROR, 0,
                 _("No CoCoEdit model was found. Install one, or choose "
                   "its folder in the dialog. Looked in:%s"),
                 tried->str);

  for (i = 0; i < G_N_ELEMENTS (candidates); i++)
    g_free (candidates[i]);
  g_string_free (tried, TRUE);

  return found;
}

static void
edit_job_init (CocoeditEditJob *job,
               const Settings  *settings,
               const gchar     *model_dir,
               CocoeditRegion  *region)
{
  job->model_dir      = g_strdup (model_dir);
  job->device         = settings->device;
  job->prompt         = g_strdup (settings->prompt);
  job->seed           = (guint64) settings->seed;
  job->steps          = settings->steps;
  job->guidance       = settings->guidance;
  job->strength       = settings->strength;
  job->source         = region->source;
  job->mask           = region->mask;
  job->output         = region->output;
}

static gchar *
progress_text (CocoeditPhase  phase,
               gint           step,
               gint           n_steps,
               gdouble       *fraction)
{
  *fraction = -1.0;

  switch (phase)
    {
    case COCOEDIT_PHASE_WAITING:
      return g_strdup (_("Waiting for the engine…"));

    case COCOEDIT_PHASE_LOADING:
      return g_strdup (_("Loading the model…"));

    case COCOEDIT_PHASE_SAMPLING:
      if (n_steps > 0)
        {
          *fraction = (gdouble) step / n_steps;
          return g_strdup_printf (_("Step %d of %d"), step, n_steps);
        }
      return g_strdup (_("Editing…"));

    case COCOEDIT_PHASE_IDLE:
    case COCOEDIT_PHASE_DONE:
      break;
    }

  *fraction = 0.0;
  return g_strdup (_("CoCoEdit: editing"));
}


/*  the dialog  */

static void
preview_free (Preview *preview)
{
  cocoedit_edit_job_clear (&preview->job);
  cocoedit_region_free (preview->region);
  g_clear_object (&preview->cancellable);
  g_free (preview->key);
  g_free (preview);
}

/* "Step 3 of 28" with the time left, when an edit was timed here. */
static gchar *
with_time_left (gchar   *text,
                gdouble  seconds_left)
{
  gchar *both;

  if (seconds_left <= 0.0)
    return text;

  /* TRANSLATORS: progress, then the estimated seconds still to go */
  both = g_strdup_printf (_("%s, about %.0f s left"), text,
                          MAX (1.0, seconds_left));
  g_free (text);

  return both;
}

static gboolean
preview_poll (gpointer user_data)
{
  Ui            *ui = user_data;
  CocoeditPhase  phase;
  gdouble        fraction;
  gint           step, n_steps;
  gchar         *text;

  phase = cocoedit_runner_get_progress (ui->runner, &step, &n_steps);
  text  = progress_text (phase, step, n_steps, &fraction);

  if (ui->dialog && ui->running)
    {
      if (ui->run_size > 1)
        {
          gint   done = ui->variations->len;
          gchar *both;

          /* TRANSLATORS: which variation of how many, then the step */
          both = g_strdup_printf (_("Variation %d of %d: %s"),
                                  done + 1, ui->run_size, text);
          g_free (text);
          text = both;
          fraction = (done + MAX (fraction, 0.0)) / ui->run_size;
        }
      if (ui->seconds > 0.0 && fraction >= 0.0)
        text = with_time_left (text, ui->seconds * ui->run_size *
                                     (1.0 - fraction));
      cocoedit_dialog_preview_progress (ui->dialog, fraction, text);
    }

  g_free (text);

  return G_SOURCE_CONTINUE;
}

/* Seconds per edit with @model_dir here, as measured; < 0: unknown. */
static gdouble
estimated_seconds (const gchar     *model_dir,
                   cocoedit_device  device)
{
  gchar   *path    = cocoedit_estimates_get_path ();
  gdouble  seconds = cocoedit_estimates_get (path, model_dir,
                                             device_names[device]);

  g_free (path);

  return seconds;
}

/* Keeps the time one edit took (the sampling alone: not the wait for
 * the model to load, which happens once per session).
 */
static void
record_seconds (const gchar     *model_dir,
                cocoedit_device  device,
                gdouble          seconds)
{
  gchar *path = cocoedit_estimates_get_path ();

  cocoedit_estimates_add (path, model_dir, device_names[device], seconds,
                          NULL);
  g_free (path);
}

/* "Auto" variations: three when an edit is quick here, else one. */
static gint
auto_variations (const gchar     *model_dir,
                 cocoedit_device  device)
{
  gdouble seconds = model_dir ? estimated_seconds (model_dir, device) : -1.0;

  return seconds > 0.0 && seconds < COCOEDIT_QUICK_EDIT_SECONDS ? 3 : 1;
}

/* The engine's description of the model, and how long an edit takes
 * here as measured so far; "Auto" variations follow the measurement.
 */
static void
show_engine_info (Ui *ui)
{
  gdouble  seconds = estimated_seconds (ui->model_dir, ui->device);
  gchar   *timing;
  gchar   *text;

  ui->seconds = seconds;

  if (seconds > 0.0)
    timing = g_strdup_printf (_("About %.1f s per edit here (measured)"),
                              MAX (seconds, 0.1));
  else
    timing = g_strdup (_("Time per edit: not measured here yet"));

  text = g_strconcat (ui->engine_text ? ui->engine_text : "", "\n", timing,
                      NULL);
  cocoedit_dialog_set_engine_info (ui->dialog, text, FALSE);
  cocoedit_dialog_set_default_variations (ui->dialog,
                                          auto_variations (ui->model_dir,
                                                           ui->device));
  g_free (timing);
  g_free (text);
}

static void
show_variation (Ui  *ui,
                gint index)
{
  Preview   *preview = g_ptr_array_index (ui->variations, index);
  GdkPixbuf *before;
  GdkPixbuf *after;
  GdkPixbuf *changes;
  gdouble    changed;
  gchar     *text;

  ui->chosen = index;

  /* OK applies what is shown: the config takes its seed. */
  g_object_set (ui->config, COCOEDIT_PROP_SEED, (gint) preview->job.seed, NULL);

  cocoedit_region_make_previews (preview->region, PREVIEW_MAX_SIZE,
                                 &before, &after, &changes, &changed);
  if (ui->variations->len > 1 || ui->run_size > 1)
    /* TRANSLATORS: variation number, its seed, the share of pixels changed */
    text = g_strdup_printf (_("Variation %d (seed %d): %.1f %% of the pixels "
                              "shown changed. Press OK to apply it."),
                            index + 1, (gint) preview->job.seed, changed * 100.0);
  else
    text = g_strdup_printf (_("%.1f %% of the pixels shown changed. Press "
                              "OK to apply this result."),
                            changed * 100.0);

  cocoedit_dialog_preview_show (ui->dialog, before, after, changes, text);
  cocoedit_dialog_choose_variation (ui->dialog, index);

  g_free (text);
  g_object_unref (before);
  g_object_unref (after);
  g_object_unref (changes);
}

static void preview_start_next (Ui *ui);
static void calibrate_stop     (Ui *ui);

static void
preview_ready (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Preview *preview = user_data;
  Ui      *ui      = preview->ui;
  GError  *error   = NULL;
  gint     done;

  if (ui->running == preview)
    {
      ui->running = NULL;
      g_clear_handle_id (&ui->poll_id, g_source_remove);
    }

  if (! cocoedit_runner_edit_finish (COCOEDIT_RUNNER (source), result, &error))
    {
      gboolean stopped = g_error_matches (error, G_IO_ERROR,
                                          G_IO_ERROR_CANCELLED);

      done = ui->variations->len;
      if (ui->dialog && stopped && done > 0)
        {
          /* Cancel keeps the variations that are done. */
          gchar *text = g_strdup_printf (_("Stopped: %d of %d variations "
                                           "done."), done, ui->run_size);

          cocoedit_dialog_preview_finished (ui->dialog, NULL, NULL, NULL,
                                            text);
          g_free (text);
        }
      else if (ui->dialog)
        cocoedit_dialog_preview_failed (ui->dialog,
                                        stopped ?
                                        _("The preview was stopped.") :
                                        error->message);
      g_clear_error (&error);
      preview_free (preview);
      return;
    }

  record_seconds (preview->job.model_dir, preview->job.device,
                  preview->job.seconds);
  g_ptr_array_add (ui->variations, preview);
  done = ui->variations->len;

  /* "Auto" on a model not yet measured here: the first edit has just
   * measured it, so the run grows to three when edits are quick.
   */
  if (ui->run_auto && done == 1)
    ui->run_size = auto_variations (preview->job.model_dir,
                                    preview->job.device);

  if (! ui->dialog)
    return;

  if (ui->engine_text)
    show_engine_info (ui);

  {
    GdkPixbuf *before, *after, *changes, *thumbnail;
    gdouble    changed;
    gchar     *tip;
    gint       w, h;

    cocoedit_region_make_previews (preview->region, PREVIEW_MAX_SIZE,
                                   &before, &after, &changes, &changed);
    w = gdk_pixbuf_get_width (after);
    h = gdk_pixbuf_get_height (after);
    thumbnail = gdk_pixbuf_scale_simple (after,
                                         MAX (1, w * THUMBNAIL_SIZE / MAX (w, h)),
                                         MAX (1, h * THUMBNAIL_SIZE / MAX (w, h)),
                                         GDK_INTERP_BILINEAR);
    /* TRANSLATORS: tooltip of a variation's thumbnail */
    tip = g_strdup_printf (_("Seed %d"), (gint) preview->job.seed);
    cocoedit_dialog_add_variation (ui->dialog, thumbnail, tip);

    g_free (tip);
    g_object_unref (thumbnail);
    g_object_unref (before);
    g_object_unref (after);
    g_object_unref (changes);
  }

  /* The first one is shown at once; later ones wait for a click. */
  if (done == 1)
    show_variation (ui, 0);

  if (done < ui->run_size && ! ui->run_stopped)
    preview_start_next (ui);
  else
    cocoedit_dialog_preview_finished (ui->dialog, NULL, NULL, NULL, NULL);
}

/* Starts the next variation of the run, with the settings as they are. */
static void
preview_start_next (Ui *ui)
{
  Preview  *preview;
  Settings  settings = { NULL, };
  gchar    *model_dir;
  GError   *error    = NULL;

  settings_get (&settings, ui->config);
  settings.seed = (gint) (((guint64) ui->run_seed + ui->variations->len) %
                          G_MAXINT);

  model_dir = cocoedit_find_model (settings.model_path, &error);

  preview = g_new0 (Preview, 1);
  preview->ui = ui;

  if (model_dir)
    preview->region = cocoedit_region_new (ui->drawable, NULL, &error);

  if (! model_dir || ! preview->region)
    {
      /* Variations already made stay on offer; the message says why the
       * rest were not.
       */
      if (ui->variations->len > 0)
        cocoedit_dialog_preview_finished (ui->dialog, NULL, NULL, NULL,
                                          error->message);
      else
        cocoedit_dialog_preview_failed (ui->dialog, error->message);
      g_clear_error (&error);
      preview_free (preview);
      settings_clear (&settings);
      g_free (model_dir);
      return;
    }

  preview->key         = settings_key (&settings, model_dir);
  preview->cancellable = g_cancellable_new ();
  edit_job_init (&preview->job, &settings, model_dir, preview->region);

  ui->running = preview;

  cocoedit_runner_edit_async (ui->runner, &preview->job, preview->cancellable,
                              preview_ready, preview);
  if (! ui->poll_id)
    ui->poll_id = g_timeout_add (100, preview_poll, ui);

  settings_clear (&settings);
  g_free (model_dir);
}

static void
preview_requested (CocoeditDialog *dialog,
                   Ui             *ui)
{
  Settings settings = { NULL, };

  if (ui->running)
    return;

  /* The user's edit measures better than the test edit and should not
   * wait for it.
   */
  calibrate_stop (ui);
  settings_get (&settings, ui->config);

  if (settings.random_seed)
    {
      settings.seed = g_random_int_range (0, G_MAXINT);
      g_object_set (ui->config, COCOEDIT_PROP_SEED, settings.seed, NULL);
    }

  g_ptr_array_set_size (ui->variations, 0);
  cocoedit_dialog_clear_variations (dialog);
  ui->chosen      = -1;
  ui->run_seed    = settings.seed;
  ui->run_stopped = FALSE;
  ui->run_auto    = settings.variations <= 0;
  ui->run_size    = settings.variations > 0 ?
                    settings.variations :
                    auto_variations (ui->model_dir, ui->device);

  cocoedit_dialog_preview_started (dialog);
  preview_start_next (ui);

  settings_clear (&settings);
}

static void
preview_cancelled (CocoeditDialog *dialog,
                   Ui             *ui)
{
  ui->run_stopped = TRUE;
  if (ui->running)
    g_cancellable_cancel (ui->running->cancellable);
}

static void
variation_chosen (CocoeditDialog *dialog,
                  gint            index,
                  Ui             *ui)
{
  if (index >= 0 && index < (gint) ui->variations->len)
    show_variation (ui, index);
}

static gchar *
format_parameters (gint64 n)
{
  if (n >= 1000000000)
    return g_strdup_printf (_("%.1f billion"), n / 1e9);
  if (n >= 1000000)
    return g_strdup_printf (_("%.1f million"), n / 1e6);

  return g_strdup_printf ("%" G_GINT64_FORMAT, n);
}

/* What the model's working resolution means for this selection, or
 * NULL.
 */
static gchar *
working_size_note (Ui   *ui,
                   gint  working_size)
{
  GeglRectangle crop, bounds;
  gchar        *note;

  if (working_size <= 0 ||
      ! cocoedit_region_get_bounds (ui->drawable, NULL, &crop, &bounds,
                                    NULL))
    return NULL;

  if (MAX (crop.width, crop.height) > working_size * 3 / 2)
    note = g_strdup_printf (_("The selection with its context is %d × %d px "
                              "and the model works at %d px: new content "
                              "there is only as sharp as %d px allow (the "
                              "source's detail is kept where the result "
                              "keeps its structure). Select a smaller area "
                              "for finer detail."),
                            crop.width, crop.height, working_size,
                            working_size);
  else
    note = g_strdup_printf (_("The selection with its context (%d × %d px) "
                              "is edited at the model's working resolution, "
                              "%d px."),
                            crop.width, crop.height, working_size);

  return note;
}

typedef struct
{
  Ui    *ui;
  guint  serial;
} OpenRequest;

typedef struct
{
  Ui              *ui;
  guint            serial;
  gchar           *model_dir;
  cocoedit_device  device;
  GCancellable    *cancellable;
} CalibrateRequest;

static void
calibrated (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  CalibrateRequest *request = user_data;
  Ui               *ui      = request->ui;
  GError           *error   = NULL;
  gdouble           seconds;

  seconds = cocoedit_runner_calibrate_finish (COCOEDIT_RUNNER (source),
                                              result, &error);
  /* A failure here (stopped, out of memory) is not the user's concern
   * yet: the first real edit reports it, and measures instead.
   */
  if (seconds > 0.0)
    record_seconds (request->model_dir, request->device, seconds);
  if (seconds > 0.0 && ui->dialog && request->serial == ui->open_serial)
    show_engine_info (ui);
  if (ui->calibrating == request->cancellable)
    g_clear_object (&ui->calibrating);

  g_clear_error (&error);
  g_object_unref (request->cancellable);
  g_free (request->model_dir);
  g_rc_box_release (ui);
  g_free (request);
}

/* A model not timed here yet is timed as soon as it is loaded, so that
 * the dialog can say how long an edit takes before the first one, and
 * "Auto" variations know what to do.
 */
static void
calibrate_start (Ui   *ui,
                 guint serial)
{
  CalibrateRequest *request;
  Settings          settings = { NULL, };

  if (estimated_seconds (ui->model_dir, ui->device) > 0.0)
    return;

  calibrate_stop (ui);
  settings_get (&settings, ui->config);
  request = g_new0 (CalibrateRequest, 1);
  request->ui          = g_rc_box_acquire (ui);
  request->serial      = serial;
  request->model_dir   = g_strdup (ui->model_dir);
  request->device      = ui->device;
  request->cancellable = g_cancellable_new ();
  ui->calibrating      = g_object_ref (request->cancellable);
  cocoedit_runner_calibrate_async (ui->runner, request->model_dir,
                                   request->device, settings.steps,
                                   request->cancellable, calibrated, request);
  settings_clear (&settings);
}

/* Stops a timing under way, without waiting: it ends at its next step,
 * and a later edit waits for the engine until then.
 */
static void
calibrate_stop (Ui *ui)
{
  if (ui->calibrating)
    {
      g_cancellable_cancel (ui->calibrating);
      g_clear_object (&ui->calibrating);
    }
}

static void
engine_opened (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  OpenRequest         *request = user_data;
  Ui                  *ui      = request->ui;
  cocoedit_model_info  info;
  GError              *error   = NULL;
  gboolean             success;

  success = cocoedit_runner_open_finish (COCOEDIT_RUNNER (source), result,
                                         &info, &error);

  /* Only the answer to the latest question counts. */
  if (ui->dialog && request->serial == ui->open_serial)
    {
      if (success)
        {
          gchar *params  = format_parameters (info.n_parameters);
          gchar *weights = g_format_size (MAX (info.memory_weights, 0));
          gchar *edit    = g_format_size (MAX (info.memory_edit, 0));
          gchar *text;

          /* TRANSLATORS: name, family ("flux-kontext"), device, parameter
           * count; then the memory of the weights and of one edit at a
           * size in pixels.
           */
          text = g_strdup_printf (_("%s (%s) on %s, %s parameters\n"
                                    "Memory: %s for the weights, "
                                    "%s per edit at %d px"),
                                  info.name, info.family, info.device, params,
                                  weights, edit, info.memory_edit_size);

          gchar *note = working_size_note (ui, info.working_size);

          g_free (ui->engine_text);
          ui->engine_text = g_strdup (text);
          show_engine_info (ui);
          cocoedit_dialog_set_selection_note (ui->dialog, note ? note : "");
          g_free (note);
          cocoedit_dialog_set_model_defaults (ui->dialog, info.default_steps,
                                              info.default_guidance);
          calibrate_start (ui, request->serial);
          g_free (params);
          g_free (weights);
          g_free (edit);
          g_free (text);
        }
      else
        {
          cocoedit_dialog_set_engine_info (ui->dialog, error->message, TRUE);
          cocoedit_dialog_set_model_defaults (ui->dialog, 0, 0.0);
        }
    }

  g_clear_error (&error);
  g_rc_box_release (request->ui);
  g_free (request);
}

/* Opens the chosen model on the chosen device in the background, so
 * that the dialog can say what the engine runs on, and the edit does
 * not wait for the model later.
 */
static void
engine_update (GimpProcedureConfig *config,
               GParamSpec          *pspec,
               Ui                  *ui)
{
  OpenRequest *request;
  Settings     settings = { NULL, };
  gchar       *model_dir;
  GError      *error    = NULL;

  if (pspec && strcmp (pspec->name, COCOEDIT_PROP_MODEL_PATH) &&
      strcmp (pspec->name, COCOEDIT_PROP_DEVICE))
    return;

  settings_get (&settings, config);
  ui->open_serial++;
  calibrate_stop (ui);

  model_dir = cocoedit_find_model (settings.model_path, &error);
  if (! model_dir)
    {
      cocoedit_dialog_set_model_text (ui->dialog, "");
      cocoedit_dialog_set_engine_info (ui->dialog, error->message, TRUE);
      g_clear_error (&error);
      settings_clear (&settings);
      return;
    }

  g_free (ui->model_dir);
  ui->model_dir = g_strdup (model_dir);
  g_clear_pointer (&ui->engine_text, g_free);
  ui->device    = settings.device;

  cocoedit_dialog_set_model_text (ui->dialog, model_dir);
  cocoedit_dialog_set_engine_info (ui->dialog, _("Loading the model…"), FALSE);
  cocoedit_dialog_set_model_defaults (ui->dialog, 0, 0.0);

  request = g_new0 (OpenRequest, 1);
  request->ui     = g_rc_box_acquire (ui);
  request->serial = ui->open_serial;

  cocoedit_runner_open_async (ui->runner, model_dir, settings.device, NULL,
                              engine_opened, request);

  g_free (model_dir);
  settings_clear (&settings);
}

/* What the dialog says about a CoCoEdit layer: how it was made. */
static gchar *
record_summary (const CocoeditRecord *record)
{
  gchar *chain = g_strjoinv (" → ", record->chain);
  gchar *model = cocoedit_display_path (record->model);
  gchar  steps[32];
  gchar  guidance[G_ASCII_DTOSTR_BUF_SIZE];
  gchar *text;

  if (record->steps > 0)
    g_snprintf (steps, sizeof (steps), "%d", record->steps);
  else
    g_strlcpy (steps, _("Auto"), sizeof (steps));

  if (record->guidance > 0.0)
    g_snprintf (guidance, sizeof (guidance), "%.1f", record->guidance);
  else
    g_strlcpy (guidance, _("Auto"), sizeof (guidance));

  /* TRANSLATORS: the instructions (first → last), seed, steps, guidance,
   * strength and the model's folder of a layer made by CoCoEdit
   */
  text = g_strdup_printf (_("“%s”\nSeed %d, steps %s, guidance %s, "
                            "strength %.2f\nModel: %s"),
                          chain, record->seed, steps, guidance,
                          record->strength, model);
  g_free (chain);
  g_free (model);

  return text;
}

static DialogResult
cocoedit_dialog_run_ui (GimpProcedure        *procedure,
                        GimpProcedureConfig  *config,
                        GimpDrawable         *drawable,
                        CocoeditRunner       *runner,
                        Preview             **preview,
                        GPtrArray           **others,
                        gboolean             *keep_seed)
{
  Ui             *ui;
  GtkWidget      *dialog;
  GdkPixbuf      *before = NULL;
  CocoeditRecord *record;
  GeglRectangle   crop, bounds;
  gchar          *path;
  gchar         **recent;
  gboolean        run;
  DialogResult    answer;

  /* Model loads may answer after the dialog is gone: they hold a
   * reference on @ui and find its dialog cleared.
   */
  ui = g_rc_box_new0 (Ui);
  ui->config     = config;
  ui->drawable   = drawable;
  ui->runner     = runner;
  ui->variations = g_ptr_array_new_with_free_func ((GDestroyNotify) preview_free);
  ui->chosen     = -1;

  if (cocoedit_region_get_bounds (drawable, NULL, &crop, &bounds, NULL))
    before = cocoedit_region_get_thumbnail (drawable, &crop, PREVIEW_MAX_SIZE);

  dialog     = cocoedit_dialog_new (procedure, config, before);
  ui->dialog = COCOEDIT_DIALOG (dialog);
  g_clear_object (&before);

  path   = cocoedit_history_get_path ();
  recent = cocoedit_history_load (path);
  cocoedit_dialog_set_recent (ui->dialog, (const gchar * const *) recent);
  g_strfreev (recent);
  g_free (path);

  offer_models (ui->dialog);

  path = cocoedit_choices_folder ();
  cocoedit_dialog_set_choices_folder (ui->dialog, path);
  g_free (path);

  record = cocoedit_region_get_record (drawable, NULL);
  if (record)
    {
      gchar *text = record_summary (record);

      cocoedit_dialog_set_made_with (ui->dialog, text);
      g_free (text);
      cocoedit_record_free (record);
    }

  g_signal_connect (dialog, "preview-requested",
                    G_CALLBACK (preview_requested), ui);
  g_signal_connect (dialog, "preview-cancelled",
                    G_CALLBACK (preview_cancelled), ui);
  g_signal_connect (dialog, "variation-chosen",
                    G_CALLBACK (variation_chosen), ui);
  g_signal_connect (config, "notify",
                    G_CALLBACK (engine_update), ui);
  engine_update (config, NULL, ui);

  run = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));

  if (run)
    answer = DIALOG_OK;
  else if (cocoedit_dialog_get_regenerate (ui->dialog, keep_seed))
    answer = DIALOG_REGENERATE;
  else
    answer = DIALOG_CANCEL;

  g_signal_handlers_disconnect_by_func (config, engine_update, ui);
  ui->dialog = NULL;
  gtk_widget_destroy (dialog);

  /* A preview still running points at @ui: stop it and wait for it.  A
   * timing holds its own reference: stopped, not waited for.
   */
  if (ui->running)
    {
      g_cancellable_cancel (ui->running->cancellable);
      while (ui->running)
        g_main_context_iteration (NULL, TRUE);
    }
  calibrate_stop (ui);

  /* OK applies the variation shown (when nothing changed since). */
  *preview = NULL;
  if (run && ui->chosen >= 0)
    {
      *preview = g_ptr_array_steal_index (ui->variations, ui->chosen);
      /* The ones not chosen, for the kept choices. */
      if (ui->variations->len > 0)
        *others = g_steal_pointer (&ui->variations);
    }
  g_clear_pointer (&ui->variations, g_ptr_array_unref);
  g_clear_pointer (&ui->model_dir, g_free);
  g_clear_pointer (&ui->engine_text, g_free);
  g_rc_box_release (ui);

  return answer;
}
