/* CoCoEdit for GIMP
 *
 * cocoedit-dialog.h: the "Edit with Instruction" dialog
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_DIALOG_H__
#define __COCOEDIT_DIALOG_H__

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

G_BEGIN_DECLS

/* The dialog edits these properties of the procedure's config. */
#define COCOEDIT_PROP_PROMPT       "prompt"
#define COCOEDIT_PROP_SEED         "seed"
#define COCOEDIT_PROP_RANDOM_SEED  "random-seed"
#define COCOEDIT_PROP_STEPS        "steps"
#define COCOEDIT_PROP_GUIDANCE     "guidance"
#define COCOEDIT_PROP_STRENGTH     "strength"
#define COCOEDIT_PROP_MODEL_PATH   "model-path"
#define COCOEDIT_PROP_DEVICE       "device"
#define COCOEDIT_PROP_OUTPUT_MODE  "output-mode"
#define COCOEDIT_PROP_VARIATIONS   "variations"
#define COCOEDIT_PROP_KEEP_CHOICES "keep-choices"

#define COCOEDIT_TYPE_DIALOG (cocoedit_dialog_get_type ())
G_DECLARE_FINAL_TYPE (CocoeditDialog, cocoedit_dialog,
                      COCOEDIT, DIALOG, GimpProcedureDialog)

GtkWidget * cocoedit_dialog_new                (GimpProcedure       *procedure,
                                                GimpProcedureConfig *config,
                                                GdkPixbuf           *before);

void        cocoedit_dialog_set_recent         (CocoeditDialog      *dialog,
                                                const gchar * const *instructions);
void        cocoedit_dialog_set_model_text     (CocoeditDialog      *dialog,
                                                const gchar         *text);
void        cocoedit_dialog_set_models         (CocoeditDialog      *dialog,
                                                const gchar * const *paths,
                                                const gchar * const *labels,
                                                const gchar         *folder);
void        cocoedit_dialog_set_model_defaults (CocoeditDialog      *dialog,
                                                gint                 steps,
                                                gdouble              guidance);
void        cocoedit_dialog_set_default_variations
                                               (CocoeditDialog      *dialog,
                                                gint                 n);
void        cocoedit_dialog_set_engine_info    (CocoeditDialog      *dialog,
                                                const gchar         *text,
                                                gboolean             is_error);

void        cocoedit_dialog_set_selection_note (CocoeditDialog      *dialog,
                                                const gchar         *text);
gchar *     cocoedit_display_path              (const gchar         *path);

void        cocoedit_dialog_set_choices_folder (CocoeditDialog      *dialog,
                                                const gchar         *folder);
void        cocoedit_dialog_set_made_with      (CocoeditDialog      *dialog,
                                                const gchar         *text);
gboolean    cocoedit_dialog_get_regenerate     (CocoeditDialog      *dialog,
                                                gboolean            *keep_seed);

gboolean    cocoedit_dialog_is_previewing      (CocoeditDialog      *dialog);
void        cocoedit_dialog_preview_started    (CocoeditDialog      *dialog);
void        cocoedit_dialog_preview_progress   (CocoeditDialog      *dialog,
                                                gdouble              fraction,
                                                const gchar         *text);
void        cocoedit_dialog_preview_finished   (CocoeditDialog      *dialog,
                                                GdkPixbuf           *before,
                                                GdkPixbuf           *after,
                                                GdkPixbuf           *changes,
                                                const gchar         *text);
void        cocoedit_dialog_preview_show       (CocoeditDialog      *dialog,
                                                GdkPixbuf           *before,
                                                GdkPixbuf           *after,
                                                GdkPixbuf           *changes,
                                                const gchar         *text);
void        cocoedit_dialog_preview_failed     (CocoeditDialog      *dialog,
                                                const gchar         *message);

/* The variations of one run, as thumbnails; "variation-chosen" (gint
 * index) says which one the user clicked.
 */
void        cocoedit_dialog_clear_variations   (CocoeditDialog      *dialog);
gint        cocoedit_dialog_add_variation      (CocoeditDialog      *dialog,
                                                GdkPixbuf           *thumbnail,
                                                const gchar         *tip);
void        cocoedit_dialog_choose_variation   (CocoeditDialog      *dialog,
                                                gint                 index);

G_END_DECLS

#endif /* __COCOEDIT_DIALOG_H__ */
