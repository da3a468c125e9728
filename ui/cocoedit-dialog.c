/* CoCoEdit for GIMP
 *
 * cocoedit-dialog.c: the "Edit with Instruction" dialog
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 *
 * A GimpProcedureDialog (so Reset, Load/Save Settings and the remembered
 * values come from GIMP) laid out in two columns: the preview on the
 * left; on the right, pages for the instruction and its options, the
 * model, and (for a CoCoEdit layer) how the layer was made.  Pages keep
 * the dialog short enough for a 1366 × 768 screen.  The dialog knows
 * nothing of the engine: it asks for a preview with the
 * "preview-requested" signal and is told about progress and results by
 * the plug-in.
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "cocoedit-dialog.h"
#include "cocoedit-preview.h"


#define PREVIEW_SIZE 288

enum
{
  PREVIEW_REQUESTED,
  PREVIEW_CANCELLED,
  VARIATION_CHOSEN,
  LAST_SIGNAL
};

struct _CocoeditDialog
{
  GimpProcedureDialog  parent_instance;

  GimpProcedureConfig *config;

  GtkWidget           *preview;
  GtkWidget           *variations_box;  /* a thumbnail per variation */
  GtkWidget           *mode_buttons[3];
  GtkWidget           *preview_button;
  GtkWidget           *progress;
  GtkWidget           *status;

  GtkWidget           *prompt_view;
  GtkWidget           *recent_button;
  GtkWidget           *recent_menu;

  GtkWidget           *model_combo;
  GtkWidget           *model_chooser;
  GtkWidget           *model_label;
  GtkWidget           *engine_label;

  /* Steps and guidance of 0 mean the model's default, shown as "Auto (N)". */
  GtkWidget           *steps_spin;
  GtkWidget           *guidance_spin;
  gint                 default_steps;     /* 0 until the model is known */
  gdouble              default_guidance;
  GtkWidget           *variations_spin;
  gint                 default_variations;

  gboolean             choosing;          /* a variation is being shown */

  gboolean             previewing;

  GtkWidget           *choices_note;
  GtkWidget           *selection_note;  /* the selection's size vs the model's */

  /* The page shown when the layer was made by CoCoEdit. */
  GtkWidget           *made_box;
  GtkWidget           *made_label;
  GtkWidget           *keep_seed;
  gboolean             regenerate;
};


static void   cocoedit_dialog_dispose        (GObject          *object);

static void   cocoedit_dialog_build          (CocoeditDialog   *dialog,
                                              GdkPixbuf        *before);
static GtkWidget * cocoedit_dialog_build_preview  (CocoeditDialog *dialog,
                                                   GdkPixbuf      *before);
static GtkWidget * cocoedit_dialog_build_prompt   (CocoeditDialog *dialog);
static GtkWidget * cocoedit_dialog_build_seed     (CocoeditDialog *dialog);
static GtkWidget * cocoedit_dialog_build_model    (CocoeditDialog *dialog);
static void        cocoedit_dialog_build_made     (CocoeditDialog *dialog,
                                                    GtkWidget      *page);

static void   cocoedit_dialog_config_notify  (GimpProcedureConfig *config,
                                              GParamSpec       *pspec,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_update_sensitivity
                                             (CocoeditDialog   *dialog);
static void   cocoedit_dialog_preview_clicked(GtkWidget        *button,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_mode_toggled   (GtkWidget        *button,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_new_seed       (GtkWidget        *button,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_recent_activate(GtkWidget        *item,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_model_picked   (GtkComboBox      *combo,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_model_set      (GtkFileChooserButton *chooser,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_model_default  (GtkWidget        *button,
                                              CocoeditDialog   *dialog);
static void   cocoedit_dialog_sync_model     (CocoeditDialog   *dialog);
static void   cocoedit_dialog_map            (GtkWidget        *widget,
                                              CocoeditDialog   *dialog);
static GtkWidget * cocoedit_dialog_auto_spin  (CocoeditDialog   *dialog,
                                               GtkWidget        *scale_entry);
static gboolean auto_spin_output             (GtkSpinButton    *spin,
                                              CocoeditDialog   *dialog);
static gint   auto_spin_input                (GtkSpinButton    *spin,
                                              gdouble          *new_value,
                                              CocoeditDialog   *dialog);


G_DEFINE_FINAL_TYPE (CocoeditDialog, cocoedit_dialog,
                     GIMP_TYPE_PROCEDURE_DIALOG)

static guint dialog_signals[LAST_SIGNAL] = { 0 };


static void
cocoedit_dialog_class_init (CocoeditDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cocoedit_dialog_dispose;

  /**
   * CocoeditDialog::preview-requested:
   *
   * The user asked for a preview of the current settings.
   */
  dialog_signals[PREVIEW_REQUESTED] =
    g_signal_new ("preview-requested",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  /**
   * CocoeditDialog::preview-cancelled:
   *
   * The user stopped the preview being computed.
   */
  dialog_signals[PREVIEW_CANCELLED] =
    g_signal_new ("preview-cancelled",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  dialog_signals[VARIATION_CHOSEN] =
    g_signal_new ("variation-chosen",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
cocoedit_dialog_init (CocoeditDialog *dialog)
{
}

static void
cocoedit_dialog_dispose (GObject *object)
{
  CocoeditDialog *dialog = COCOEDIT_DIALOG (object);

  if (dialog->config)
    {
      g_signal_handlers_disconnect_by_data (dialog->config, dialog);
      g_clear_object (&dialog->config);
    }

  G_OBJECT_CLASS (cocoedit_dialog_parent_class)->dispose (object);
}


/*  public functions  */

GtkWidget *
cocoedit_dialog_new (GimpProcedure       *procedure,
                     GimpProcedureConfig *config,
                     GdkPixbuf           *before)
{
  CocoeditDialog *dialog;
  gboolean        use_header_bar;

  g_return_val_if_fail (GIMP_IS_PROCEDURE (procedure), NULL);
  g_return_val_if_fail (GIMP_IS_PROCEDURE_CONFIG (config), NULL);

  g_object_get (gtk_settings_get_default (),
                "gtk-dialogs-use-header", &use_header_bar,
                NULL);

  dialog = g_object_new (COCOEDIT_TYPE_DIALOG,
                         "procedure",      procedure,
                         "config",         config,
                         "title",          _("CoCoEdit: Edit with Instruction"),
                         "help-func",      gimp_standard_help_func,
                         "help-id",        gimp_procedure_get_name (procedure),
                         "use-header-bar", use_header_bar,
                         NULL);

  dialog->config = g_object_ref (config);

  cocoedit_dialog_build (dialog, before);

  return GTK_WIDGET (dialog);
}

void
cocoedit_dialog_set_recent (CocoeditDialog      *dialog,
                            const gchar * const *instructions)
{
  GtkWidget *menu;
  guint      i;

  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  menu = gtk_menu_new ();

  for (i = 0; instructions && instructions[i]; i++)
    {
      GtkWidget *item;
      GtkWidget *label;
      gchar     *text;

      /* One line in the menu, the whole instruction when chosen. */
      text  = g_strdelimit (g_strdup (instructions[i]), "\r\n\t", ' ');
      item  = gtk_menu_item_new ();
      label = gtk_label_new (text);
      gtk_label_set_xalign (GTK_LABEL (label), 0.0);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 48);
      gtk_container_add (GTK_CONTAINER (item), label);
      g_free (text);

      g_object_set_data_full (G_OBJECT (item), "cocoedit-instruction",
                              g_strdup (instructions[i]), g_free);
      g_signal_connect (item, "activate",
                        G_CALLBACK (cocoedit_dialog_recent_activate),
                        dialog);

      gtk_menu_shell_append (GTK_MENU_SHELL (menu), item);
    }

  gtk_widget_show_all (menu);
  gtk_menu_button_set_popup (GTK_MENU_BUTTON (dialog->recent_button), menu);
  gtk_widget_set_sensitive (dialog->recent_button, i > 0);
  dialog->recent_menu = menu;
}

void
cocoedit_dialog_set_model_text (CocoeditDialog *dialog,
                                const gchar    *text)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  gtk_label_set_text (GTK_LABEL (dialog->model_label), text);
  gtk_widget_set_tooltip_text (dialog->model_label, text);

  /* Show the folder in use, the default one too ("file-set" is only
   * emitted for the user's choices, so the config stays as it is).
   */
  if (text && *text)
    gtk_file_chooser_set_filename (GTK_FILE_CHOOSER (dialog->model_chooser),
                                   text);
}

void
cocoedit_dialog_set_models (CocoeditDialog      *dialog,
                            const gchar * const *paths,
                            const gchar * const *labels,
                            const gchar         *folder)
{
  GtkComboBoxText *combo;
  gchar           *tip;

  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  combo = GTK_COMBO_BOX_TEXT (dialog->model_combo);
  g_signal_handlers_block_by_func (combo, cocoedit_dialog_model_picked, dialog);
  gtk_combo_box_text_remove_all (combo);
  for (gint i = 0; paths && paths[i] && labels[i]; i++)
    gtk_combo_box_text_append (combo, paths[i], labels[i]);
  g_signal_handlers_unblock_by_func (combo, cocoedit_dialog_model_picked, dialog);

  tip = g_strdup_printf (_("The installed model and the models in %s "
                           "(a folder for each model)"), folder);
  gimp_help_set_help_data (dialog->model_combo, tip, NULL);
  g_free (tip);

  cocoedit_dialog_sync_model (dialog);
}

void
cocoedit_dialog_set_model_defaults (CocoeditDialog *dialog,
                                    gint            steps,
                                    gdouble         guidance)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  dialog->default_steps    = steps;
  dialog->default_guidance = guidance;

  auto_spin_output (GTK_SPIN_BUTTON (dialog->steps_spin), dialog);
  auto_spin_output (GTK_SPIN_BUTTON (dialog->guidance_spin), dialog);
}

/* What "Auto" variations means now (from the measured time per edit). */
void
cocoedit_dialog_set_default_variations (CocoeditDialog *dialog,
                                        gint            n)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  dialog->default_variations = n;
  auto_spin_output (GTK_SPIN_BUTTON (dialog->variations_spin), dialog);
}

void
cocoedit_dialog_set_engine_info (CocoeditDialog *dialog,
                                 const gchar    *text,
                                 gboolean        is_error)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  gtk_label_set_text (GTK_LABEL (dialog->engine_label), text);

  if (is_error)
    gtk_style_context_add_class (gtk_widget_get_style_context (dialog->engine_label),
                                 GTK_STYLE_CLASS_ERROR);
  else
    gtk_style_context_remove_class (gtk_widget_get_style_context (dialog->engine_label),
                                    GTK_STYLE_CLASS_ERROR);
}

/* What the model's working resolution means for this selection. */
void
cocoedit_dialog_set_selection_note (CocoeditDialog *dialog,
                                    const gchar    *text)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  gtk_label_set_text (GTK_LABEL (dialog->selection_note), text);
}

/* @path for people to read: the home folder written as ~, as GTK's file
 * dialogs show it.
 */
gchar *
cocoedit_display_path (const gchar *path)
{
  const gchar *home = g_get_home_dir ();
  gsize        n    = home ? strlen (home) : 0;

  if (n > 1 && g_str_has_prefix (path, home) && path[n] == G_DIR_SEPARATOR)
    return g_strconcat ("~", path + n, NULL);

  return g_strdup (path);
}

void
cocoedit_dialog_set_choices_folder (CocoeditDialog *dialog,
                                    const gchar    *folder)
{
  gchar *shown;
  gchar *text;

  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  shown = cocoedit_display_path (folder);

  /* TRANSLATORS: %s is a folder */
  text = g_strdup_printf (_("Then applying one of several variations "
                            "stores the selected area, its selection, the "
                            "instruction and every variation, with the "
                            "model and seeds, in %s, as training data for "
                            "cocoedit-train. Nothing leaves this computer."),
                          shown);
  gtk_label_set_text (GTK_LABEL (dialog->choices_note), text);
  g_free (shown);
  g_free (text);
}

/* Says how the layer was made (it is a CoCoEdit result) and offers to
 * make it again; OK then edits the result further.
 */
void
cocoedit_dialog_set_made_with (CocoeditDialog *dialog,
                               const gchar    *text)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  gtk_label_set_text (GTK_LABEL (dialog->made_label), text);
  gtk_widget_show (dialog->made_box);
}

/* Whether the dialog ended with Regenerate, and with which seed. */
gboolean
cocoedit_dialog_get_regenerate (CocoeditDialog *dialog,
                                gboolean       *keep_seed)
{
  g_return_val_if_fail (COCOEDIT_IS_DIALOG (dialog), FALSE);

  if (keep_seed)
    *keep_seed = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (dialog->keep_seed));

  return dialog->regenerate;
}

gboolean
cocoedit_dialog_is_previewing (CocoeditDialog *dialog)
{
  g_return_val_if_fail (COCOEDIT_IS_DIALOG (dialog), FALSE);

  return dialog->previewing;
}

void
cocoedit_dialog_preview_started (CocoeditDialog *dialog)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  dialog->previewing = TRUE;

  gtk_button_set_label (GTK_BUTTON (dialog->preview_button), _("Sto_p"));
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (dialog->progress), 0.0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (dialog->progress),
                             _("Starting…"));
  gtk_label_set_text (GTK_LABEL (dialog->status), "");

  cocoedit_dialog_update_sensitivity (dialog);
}

void
cocoedit_dialog_preview_progress (CocoeditDialog *dialog,
                                  gdouble         fraction,
                                  const gchar    *text)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  if (fraction < 0.0)
    gtk_progress_bar_pulse (GTK_PROGRESS_BAR (dialog->progress));
  else
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (dialog->progress),
                                   CLAMP (fraction, 0.0, 1.0));

  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (dialog->progress), text);
}

static void
cocoedit_dialog_preview_stopped (CocoeditDialog *dialog,
                                 const gchar    *progress_text)
{
  dialog->previewing = FALSE;

  gtk_button_set_label (GTK_BUTTON (dialog->preview_button), _("_Preview"));
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (dialog->progress), 0.0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (dialog->progress),
                             progress_text);

  cocoedit_dialog_update_sensitivity (dialog);
}

/* A result and what to say of it; @before NULL keeps the result shown,
 * @text NULL what the status line says.
 */
static void
cocoedit_dialog_show_result (CocoeditDialog *dialog,
                             GdkPixbuf      *before,
                             GdkPixbuf      *after,
                             GdkPixbuf      *changes,
                             const gchar    *text)
{
  if (before)
    cocoedit_preview_set_result (COCOEDIT_PREVIEW (dialog->preview),
                                 before, after, changes);
  if (text)
    gtk_label_set_text (GTK_LABEL (dialog->status), text);
  gtk_style_context_remove_class (gtk_widget_get_style_context (dialog->status),
                                  GTK_STYLE_CLASS_ERROR);
}

/* Shows a result while more may come. */
void
cocoedit_dialog_preview_show (CocoeditDialog *dialog,
                              GdkPixbuf      *before,
                              GdkPixbuf      *after,
                              GdkPixbuf      *changes,
                              const gchar    *text)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  cocoedit_dialog_show_result (dialog, before, after, changes, text);
  cocoedit_dialog_update_sensitivity (dialog);
}

/* The run is over (arguments as for cocoedit_dialog_show_result()). */
void
cocoedit_dialog_preview_finished (CocoeditDialog *dialog,
                                  GdkPixbuf      *before,
                                  GdkPixbuf      *after,
                                  GdkPixbuf      *changes,
                                  const gchar    *text)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  cocoedit_dialog_show_result (dialog, before, after, changes, text);
  cocoedit_dialog_preview_stopped (dialog, _("Preview ready"));
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (dialog->progress), 1.0);

  if (cocoedit_preview_get_mode (COCOEDIT_PREVIEW (dialog->preview)) ==
      COCOEDIT_PREVIEW_BEFORE)
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (dialog->mode_buttons[COCOEDIT_PREVIEW_AFTER]),
                                  TRUE);
}

void
cocoedit_dialog_preview_failed (CocoeditDialog *dialog,
                                const gchar    *message)
{
  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  cocoedit_dialog_preview_stopped (dialog, "");
  gtk_label_set_text (GTK_LABEL (dialog->status), message);
  gtk_style_context_add_class (gtk_widget_get_style_context (dialog->status),
                               GTK_STYLE_CLASS_ERROR);
}


static void
cocoedit_dialog_variation_toggled (GtkToggleButton *button,
                                   CocoeditDialog  *dialog)
{
  if (! gtk_toggle_button_get_active (button) || dialog->choosing)
    return;

  dialog->choosing = TRUE;
  g_signal_emit (dialog, dialog_signals[VARIATION_CHOSEN], 0,
                 GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button),
                                                     "cocoedit-index")));
  dialog->choosing = FALSE;
}

void
cocoedit_dialog_clear_variations (CocoeditDialog *dialog)
{
  GList *children;

  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  children = gtk_container_get_children (GTK_CONTAINER (dialog->variations_box));
  g_list_free_full (children, (GDestroyNotify) gtk_widget_destroy);
  gtk_widget_hide (dialog->variations_box);
}

/* Adds a thumbnail button, labelled 1, 2, … (Alt+number picks it). */
gint
cocoedit_dialog_add_variation (CocoeditDialog *dialog,
                               GdkPixbuf      *thumbnail,
                               const gchar    *tip)
{
  GList     *children;
  GtkWidget *button;
  GtkWidget *image;
  gchar     *label;
  gint       index;

  g_return_val_if_fail (COCOEDIT_IS_DIALOG (dialog), -1);

  children = gtk_container_get_children (GTK_CONTAINER (dialog->variations_box));
  index    = g_list_length (children);

  dialog->choosing = TRUE;
  button = gtk_radio_button_new_from_widget (children ?
                                             GTK_RADIO_BUTTON (children->data) :
                                             NULL);
  dialog->choosing = FALSE;
  g_list_free (children);

  gtk_toggle_button_set_mode (GTK_TOGGLE_BUTTON (button), FALSE);
  label = index < 9 ? g_strdup_printf ("_%d", index + 1)
                    : g_strdup_printf ("%d", index + 1);
  gtk_button_set_label (GTK_BUTTON (button), label);
  gtk_button_set_use_underline (GTK_BUTTON (button), TRUE);
  g_free (label);

  image = gtk_image_new_from_pixbuf (thumbnail);
  gtk_button_set_image (GTK_BUTTON (button), image);
  gtk_button_set_image_position (GTK_BUTTON (button), GTK_POS_TOP);
  gtk_button_set_always_show_image (GTK_BUTTON (button), TRUE);
  gtk_widget_set_tooltip_text (button, tip);

  g_object_set_data (G_OBJECT (button), "cocoedit-index",
                     GINT_TO_POINTER (index));
  g_signal_connect (button, "toggled",
                    G_CALLBACK (cocoedit_dialog_variation_toggled),
                    dialog);

  gtk_box_pack_start (GTK_BOX (dialog->variations_box), button,
                      FALSE, FALSE, 0);
  gtk_widget_show (button);
  gtk_widget_show (dialog->variations_box);

  return index;
}

void
cocoedit_dialog_choose_variation (CocoeditDialog *dialog,
                                  gint            index)
{
  GList *children;
  GList *child;

  g_return_if_fail (COCOEDIT_IS_DIALOG (dialog));

  children = gtk_container_get_children (GTK_CONTAINER (dialog->variations_box));
  child    = g_list_nth (children, index);

  if (child)
    {
      dialog->choosing = TRUE;
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (child->data), TRUE);
      dialog->choosing = FALSE;
    }
  g_list_free (children);
}


/*  building  */

static GtkWidget *
make_heading (const gchar *text)
{
  GtkWidget *label = gtk_label_new_with_mnemonic (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gimp_label_set_attributes (GTK_LABEL (label),
                             PANGO_ATTR_WEIGHT, PANGO_WEIGHT_BOLD,
                             -1);
  return label;
}

static GtkWidget *
make_note (void)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  gimp_label_set_attributes (GTK_LABEL (label),
                             PANGO_ATTR_SCALE, PANGO_SCALE_SMALL,
                             -1);
  return label;
}

/* A page of @notebook, its tab labelled @title (with its mnemonic): a
 * padded vertical box to fill.
 */
static GtkWidget *
make_page (GtkWidget   *notebook,
           const gchar *title)
{
  GtkWidget *page = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);

  gtk_container_set_border_width (GTK_CONTAINER (page), 12);
  gtk_notebook_append_page (GTK_NOTEBOOK (notebook), page,
                            gtk_label_new_with_mnemonic (title));
  gtk_widget_show (page);

  return page;
}

/* A widget for a config property, owned by the dialog's widget table
 * (GIMP 3.0.4 sinks it there); packing it adds the container's reference.
 */
static GtkWidget *
dialog_widget (CocoeditDialog *dialog,
               const gchar    *property,
               GType           widget_type)
{
  GimpProcedureDialog *pdialog = GIMP_PROCEDURE_DIALOG (dialog);
  GtkWidget           *widget;

  if (widget_type == GIMP_TYPE_SCALE_ENTRY)
    widget = gimp_procedure_dialog_get_scale_entry (pdialog, property, 1.0);
  else
    widget = gimp_procedure_dialog_get_widget (pdialog, property, widget_type);

  return widget;
}

static void
cocoedit_dialog_build (CocoeditDialog *dialog,
                       GdkPixbuf      *before)
{
  GtkWidget           *content;
  GtkWidget           *hbox;
  GtkWidget           *notebook;
  GtkWidget           *vbox;
  GtkWidget           *widget;

  content = gtk_dialog_get_content_area (GTK_DIALOG (dialog));

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 18);
  gtk_box_pack_start (GTK_BOX (content), hbox, TRUE, TRUE, 0);
  gtk_box_reorder_child (GTK_BOX (content), hbox, 0);
  gtk_widget_show (hbox);

  widget = cocoedit_dialog_build_preview (dialog, before);
  gtk_box_pack_start (GTK_BOX (hbox), widget, TRUE, TRUE, 0);

  notebook = gtk_notebook_new ();
  gtk_box_pack_start (GTK_BOX (hbox), notebook, FALSE, FALSE, 0);
  gtk_widget_show (notebook);

  /* Edit: the instruction and how it is sampled. */
  vbox = make_page (notebook, _("Edit"));

  widget = cocoedit_dialog_build_prompt (dialog);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);

  widget = make_heading (_("Sampling"));
  gtk_widget_set_margin_top (widget, 6);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  widget = cocoedit_dialog_build_seed (dialog);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);

  widget = dialog_widget (dialog, COCOEDIT_PROP_VARIATIONS, GIMP_TYPE_SCALE_ENTRY);
  dialog->variations_spin = cocoedit_dialog_auto_spin (dialog, widget);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  widget = dialog_widget (dialog, COCOEDIT_PROP_STEPS, GIMP_TYPE_SCALE_ENTRY);
  dialog->steps_spin = cocoedit_dialog_auto_spin (dialog, widget);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  widget = dialog_widget (dialog, COCOEDIT_PROP_GUIDANCE, GIMP_TYPE_SCALE_ENTRY);
  dialog->guidance_spin = cocoedit_dialog_auto_spin (dialog, widget);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  widget = dialog_widget (dialog, COCOEDIT_PROP_STRENGTH, GIMP_TYPE_SCALE_ENTRY);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  widget = dialog_widget (dialog, COCOEDIT_PROP_OUTPUT_MODE, G_TYPE_NONE);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  /* Model: which one, on which device, and what is kept for training. */
  vbox = make_page (notebook, _("_Model"));

  widget = cocoedit_dialog_build_model (dialog);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);

  /* Off by default; the note says what is kept and where. */
  widget = dialog_widget (dialog, COCOEDIT_PROP_KEEP_CHOICES, GTK_TYPE_CHECK_BUTTON);
  gtk_widget_set_margin_top (widget, 12);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  dialog->choices_note = make_note ();
  gtk_label_set_max_width_chars (GTK_LABEL (dialog->choices_note), 70);
  gtk_box_pack_start (GTK_BOX (vbox), dialog->choices_note, FALSE, FALSE, 0);
  gtk_widget_show (dialog->choices_note);

  /* Made with CoCoEdit: its tab appears for a CoCoEdit layer. */
  vbox = make_page (notebook, _("Made with CoCoEdit"));
  cocoedit_dialog_build_made (dialog, vbox);

  g_signal_connect (dialog->config, "notify",
                    G_CALLBACK (cocoedit_dialog_config_notify),
                    dialog);
  g_signal_connect (dialog, "map",
                    G_CALLBACK (cocoedit_dialog_map),
                    dialog);

  cocoedit_dialog_update_sensitivity (dialog);
}

static void
cocoedit_dialog_regenerate_clicked (GtkWidget      *button,
                                    CocoeditDialog *dialog)
{
  dialog->regenerate = TRUE;
  gtk_dialog_response (GTK_DIALOG (dialog), GTK_RESPONSE_APPLY);
}

static void
cocoedit_dialog_build_made (CocoeditDialog *dialog,
                            GtkWidget      *page)
{
  GtkWidget *hbox;
  GtkWidget *widget;

  /* Shown by cocoedit_dialog_set_made_with(). */
  gtk_widget_hide (page);
  gtk_widget_set_no_show_all (page, TRUE);
  dialog->made_box = page;

  dialog->made_label = make_note ();
  gtk_label_set_selectable (GTK_LABEL (dialog->made_label), TRUE);
  gtk_box_pack_start (GTK_BOX (page), dialog->made_label, FALSE, FALSE, 0);
  gtk_widget_show (dialog->made_label);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_top (hbox, 6);
  gtk_box_pack_start (GTK_BOX (page), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  widget = gtk_button_new_with_mnemonic (_("Regenerate La_yer"));
  gtk_widget_set_tooltip_text (widget,
                               _("Make this layer again from its source "
                                 "layer and selection, in its place"));
  gtk_box_pack_start (GTK_BOX (hbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);
  g_signal_connect (widget, "clicked",
                    G_CALLBACK (cocoedit_dialog_regenerate_clicked),
                    dialog);

  dialog->keep_seed = gtk_check_button_new_with_mnemonic (_("_Keep its seed"));
  gtk_box_pack_start (GTK_BOX (hbox), dialog->keep_seed, FALSE, FALSE, 0);
  gtk_widget_show (dialog->keep_seed);

  widget = make_note ();
  gtk_label_set_text (GTK_LABEL (widget),
                      _("Or write a new instruction on the Edit page: OK "
                        "applies it to this result (Edit again)."));
  gtk_widget_set_margin_top (widget, 6);
  gtk_box_pack_start (GTK_BOX (page), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);
}

static GtkWidget *
cocoedit_dialog_build_preview (CocoeditDialog *dialog,
                               GdkPixbuf      *before)
{
  static const gchar *mode_labels[] =
  {
    N_("_Before"), N_("_After"), N_("Cha_nges")
  };
  static const gchar *mode_tips[] =
  {
    N_("Show the layer as it is"),
    N_("Show the result of the edit"),
    N_("Show which pixels the edit changed")
  };
  GtkWidget *vbox;
  GtkWidget *frame;
  GtkWidget *hbox;
  GSList    *group = NULL;
  guint      i;

  vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_show (vbox);

  frame = gtk_frame_new (NULL);
  gtk_frame_set_shadow_type (GTK_FRAME (frame), GTK_SHADOW_IN);
  gtk_box_pack_start (GTK_BOX (vbox), frame, TRUE, TRUE, 0);
  gtk_widget_show (frame);

  dialog->preview = cocoedit_preview_new (PREVIEW_SIZE);
  cocoedit_preview_set_before (COCOEDIT_PREVIEW (dialog->preview), before);
  gtk_container_add (GTK_CONTAINER (frame), dialog->preview);
  gtk_widget_show (dialog->preview);

  /* Shown with the first variation. */
  dialog->variations_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_style_context_add_class (gtk_widget_get_style_context (dialog->variations_box),
                               GTK_STYLE_CLASS_LINKED);
  gtk_widget_set_halign (dialog->variations_box, GTK_ALIGN_CENTER);
  gtk_box_pack_start (GTK_BOX (vbox), dialog->variations_box, FALSE, FALSE, 0);

  /* Before / After / Changes, as linked toggle buttons. */
  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  gtk_style_context_add_class (gtk_widget_get_style_context (hbox),
                               GTK_STYLE_CLASS_LINKED);
  gtk_widget_set_halign (hbox, GTK_ALIGN_CENTER);
  gtk_box_pack_start (GTK_BOX (vbox), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  for (i = 0; i < G_N_ELEMENTS (mode_labels); i++)
    {
      GtkWidget *button;

      button = gtk_radio_button_new_with_mnemonic (group, _(mode_labels[i]));
      group  = gtk_radio_button_get_group (GTK_RADIO_BUTTON (button));
      gtk_toggle_button_set_mode (GTK_TOGGLE_BUTTON (button), FALSE);
      gimp_help_set_help_data (button, _(mode_tips[i]), NULL);
      g_object_set_data (G_OBJECT (button), "cocoedit-mode",
                         GINT_TO_POINTER (i));
      gtk_box_pack_start (GTK_BOX (hbox), button, FALSE, FALSE, 0);
      gtk_widget_show (button);

      dialog->mode_buttons[i] = button;
    }

  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (dialog->mode_buttons[COCOEDIT_PREVIEW_AFTER]),
                                TRUE);
  for (i = 0; i < G_N_ELEMENTS (mode_labels); i++)
    g_signal_connect (dialog->mode_buttons[i], "toggled",
                      G_CALLBACK (cocoedit_dialog_mode_toggled),
                      dialog);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start (GTK_BOX (vbox), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  dialog->preview_button = gtk_button_new_with_mnemonic (_("_Preview"));
  gimp_help_set_help_data (dialog->preview_button,
                           _("Compute the edit without changing the image"),
                           NULL);
  gtk_box_pack_start (GTK_BOX (hbox), dialog->preview_button, FALSE, FALSE, 0);
  gtk_widget_show (dialog->preview_button);

  g_signal_connect (dialog->preview_button, "clicked",
                    G_CALLBACK (cocoedit_dialog_preview_clicked),
                    dialog);

  dialog->progress = gtk_progress_bar_new ();
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (dialog->progress), TRUE);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (dialog->progress), "");
  gtk_progress_bar_set_ellipsize (GTK_PROGRESS_BAR (dialog->progress),
                                  PANGO_ELLIPSIZE_END);
  gtk_widget_set_valign (dialog->progress, GTK_ALIGN_CENTER);
  gtk_box_pack_start (GTK_BOX (hbox), dialog->progress, TRUE, TRUE, 0);
  gtk_widget_show (dialog->progress);

  dialog->status = make_note ();
  gtk_box_pack_start (GTK_BOX (vbox), dialog->status, FALSE, FALSE, 0);
  gtk_widget_show (dialog->status);

  dialog->selection_note = make_note ();
  gtk_box_pack_start (GTK_BOX (vbox), dialog->selection_note, FALSE, FALSE, 0);
  gtk_widget_show (dialog->selection_note);

  return vbox;
}

static GtkWidget *
cocoedit_dialog_build_prompt (CocoeditDialog *dialog)
{
  GtkWidget *vbox;
  GtkWidget *hbox;
  GtkWidget *label;
  GtkWidget *scrolled;

  vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_show (vbox);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start (GTK_BOX (vbox), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  label = make_heading (_("_Instruction"));
  gtk_box_pack_start (GTK_BOX (hbox), label, TRUE, TRUE, 0);
  gtk_widget_show (label);

  dialog->recent_button = gtk_menu_button_new ();
  gtk_button_set_label (GTK_BUTTON (dialog->recent_button), _("Rec_ent"));
  gtk_button_set_use_underline (GTK_BUTTON (dialog->recent_button), TRUE);
  gtk_button_set_image (GTK_BUTTON (dialog->recent_button),
                        gtk_image_new_from_icon_name (GIMP_ICON_DOCUMENT_OPEN_RECENT,
                                                      GTK_ICON_SIZE_BUTTON));
  gtk_button_set_always_show_image (GTK_BUTTON (dialog->recent_button), TRUE);
  gtk_button_set_relief (GTK_BUTTON (dialog->recent_button), GTK_RELIEF_NONE);
  gimp_help_set_help_data (dialog->recent_button,
                           _("Use one of your recent instructions"), NULL);
  gtk_widget_set_sensitive (dialog->recent_button, FALSE);
  gtk_box_pack_end (GTK_BOX (hbox), dialog->recent_button, FALSE, FALSE, 0);
  gtk_widget_show (dialog->recent_button);

  scrolled = gtk_scrolled_window_new (NULL, NULL);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled),
                                  GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_shadow_type (GTK_SCROLLED_WINDOW (scrolled),
                                       GTK_SHADOW_IN);
  gtk_widget_set_size_request (scrolled, 340, 88);
  gtk_box_pack_start (GTK_BOX (vbox), scrolled, FALSE, FALSE, 0);
  gtk_widget_show (scrolled);

  dialog->prompt_view =
    dialog_widget (dialog, COCOEDIT_PROP_PROMPT, GTK_TYPE_TEXT_VIEW);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (dialog->prompt_view),
                               GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_accepts_tab (GTK_TEXT_VIEW (dialog->prompt_view), FALSE);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), dialog->prompt_view);
  gtk_container_add (GTK_CONTAINER (scrolled), dialog->prompt_view);
  gtk_widget_show (dialog->prompt_view);

  label = make_note ();
  gtk_label_set_text (GTK_LABEL (label),
                      _("Say what to change, e.g. \"make the car red\" or "
                        "\"remove the lamp\". Only the selection changes."));
  gtk_style_context_add_class (gtk_widget_get_style_context (label),
                               GTK_STYLE_CLASS_DIM_LABEL);
  gtk_box_pack_start (GTK_BOX (vbox), label, FALSE, FALSE, 0);
  gtk_widget_show (label);

  return vbox;
}

static GtkWidget *
cocoedit_dialog_build_seed (CocoeditDialog *dialog)
{
  GtkWidget           *hbox;
  GtkWidget           *widget;

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_show (hbox);

  widget = dialog_widget (dialog, COCOEDIT_PROP_SEED, G_TYPE_NONE);
  gtk_box_pack_start (GTK_BOX (hbox), widget, TRUE, TRUE, 0);
  gtk_widget_show (widget);

  widget = gtk_button_new_with_mnemonic (_("Ne_w Seed"));
  gimp_help_set_help_data (widget, _("Pick a random seed for a different "
                                     "variation"), NULL);
  gtk_box_pack_start (GTK_BOX (hbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  g_signal_connect (widget, "clicked",
                    G_CALLBACK (cocoedit_dialog_new_seed),
                    dialog);

  widget = dialog_widget (dialog, COCOEDIT_PROP_RANDOM_SEED, G_TYPE_NONE);
  gtk_box_pack_start (GTK_BOX (hbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  return hbox;
}

static GtkWidget *
cocoedit_dialog_build_model (CocoeditDialog *dialog)
{
  GtkWidget *vbox;
  GtkWidget *hbox;
  GtkWidget *button;
  GtkWidget *widget;

  vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_show (vbox);

  /* The models found (cocoedit_dialog_set_models), then any other folder. */
  dialog->model_combo = gtk_combo_box_text_new ();
  gtk_box_pack_start (GTK_BOX (vbox), dialog->model_combo, FALSE, FALSE, 0);
  gtk_widget_show (dialog->model_combo);

  g_signal_connect (dialog->model_combo, "changed",
                    G_CALLBACK (cocoedit_dialog_model_picked),
                    dialog);

  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start (GTK_BOX (vbox), hbox, FALSE, FALSE, 0);
  gtk_widget_show (hbox);

  dialog->model_chooser =
    gtk_file_chooser_button_new (_("Select the Model Folder"),
                                 GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER);
  gimp_help_set_help_data (dialog->model_chooser,
                           _("Another model folder: a CoCoEdit model "
                             "(config.json) or a FLUX.1 Kontext folder "
                             "(model_index.json)"), NULL);
  gtk_box_pack_start (GTK_BOX (hbox), dialog->model_chooser, TRUE, TRUE, 0);
  gtk_widget_show (dialog->model_chooser);

  g_signal_connect (dialog->model_chooser, "file-set",
                    G_CALLBACK (cocoedit_dialog_model_set),
                    dialog);

  button = gtk_button_new_with_mnemonic (_("De_fault"));
  gimp_help_set_help_data (button, _("Use the model installed with the "
                                     "plug-in"), NULL);
  gtk_box_pack_start (GTK_BOX (hbox), button, FALSE, FALSE, 0);
  gtk_widget_show (button);

  g_signal_connect (button, "clicked",
                    G_CALLBACK (cocoedit_dialog_model_default),
                    dialog);

  dialog->model_label = make_note ();
  gtk_label_set_line_wrap (GTK_LABEL (dialog->model_label), FALSE);
  gtk_label_set_ellipsize (GTK_LABEL (dialog->model_label),
                           PANGO_ELLIPSIZE_MIDDLE);
  gtk_style_context_add_class (gtk_widget_get_style_context (dialog->model_label),
                               GTK_STYLE_CLASS_DIM_LABEL);
  gtk_box_pack_start (GTK_BOX (vbox), dialog->model_label, FALSE, FALSE, 0);
  gtk_widget_show (dialog->model_label);

  widget = dialog_widget (dialog, COCOEDIT_PROP_DEVICE, G_TYPE_NONE);
  gtk_box_pack_start (GTK_BOX (vbox), widget, FALSE, FALSE, 0);
  gtk_widget_show (widget);

  dialog->engine_label = make_note ();
  gtk_label_set_max_width_chars (GTK_LABEL (dialog->engine_label), 70);
  gtk_box_pack_start (GTK_BOX (vbox), dialog->engine_label, FALSE, FALSE, 0);
  gtk_widget_show (dialog->engine_label);

  cocoedit_dialog_sync_model (dialog);

  return vbox;
}


/*  callbacks  */

static gboolean
prompt_is_empty (CocoeditDialog *dialog)
{
  gchar    *prompt = NULL;
  gboolean  empty;

  g_object_get (dialog->config, COCOEDIT_PROP_PROMPT, &prompt, NULL);
  empty = ! prompt || ! *g_strstrip (prompt);
  g_free (prompt);

  return empty;
}

static void
cocoedit_dialog_update_sensitivity (CocoeditDialog *dialog)
{
  gboolean has_prompt = ! prompt_is_empty (dialog);
  gboolean has_result = cocoedit_preview_has_result (COCOEDIT_PREVIEW (dialog->preview));
  guint    i;

  gtk_dialog_set_response_sensitive (GTK_DIALOG (dialog), GTK_RESPONSE_OK,
                                     has_prompt);
  gtk_widget_set_sensitive (dialog->preview_button,
                            has_prompt || dialog->previewing);

  for (i = 0; i < G_N_ELEMENTS (dialog->mode_buttons); i++)
    gtk_widget_set_sensitive (dialog->mode_buttons[i], has_result);
}

static void
cocoedit_dialog_config_notify (GimpProcedureConfig *config,
                               GParamSpec          *pspec,
                               CocoeditDialog      *dialog)
{
  if (! strcmp (pspec->name, COCOEDIT_PROP_MODEL_PATH))
    cocoedit_dialog_sync_model (dialog);

  /* Picking a variation sets its seed; the number of variations and
   * Randomize change no result.
   */
  if (! dialog->previewing && ! dialog->choosing &&
      cocoedit_preview_has_result (COCOEDIT_PREVIEW (dialog->preview)) &&
      strcmp (pspec->name, COCOEDIT_PROP_RANDOM_SEED) &&
      strcmp (pspec->name, COCOEDIT_PROP_VARIATIONS) &&
      strcmp (pspec->name, COCOEDIT_PROP_KEEP_CHOICES))
    {
      gtk_label_set_text (GTK_LABEL (dialog->status),
                          _("The settings changed since the preview was "
                            "computed."));
    }

  cocoedit_dialog_update_sensitivity (dialog);
}

static void
cocoedit_dialog_preview_clicked (GtkWidget      *button,
                                 CocoeditDialog *dialog)
{
  if (dialog->previewing)
    g_signal_emit (dialog, dialog_signals[PREVIEW_CANCELLED], 0);
  else
    g_signal_emit (dialog, dialog_signals[PREVIEW_REQUESTED], 0);
}

static void
cocoedit_dialog_mode_toggled (GtkWidget      *button,
                              CocoeditDialog *dialog)
{
  if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (button)))
    cocoedit_preview_set_mode (COCOEDIT_PREVIEW (dialog->preview),
                               GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button),
                                                                   "cocoedit-mode")));
}

static void
cocoedit_dialog_new_seed (GtkWidget      *button,
                          CocoeditDialog *dialog)
{
  g_object_set (dialog->config,
                COCOEDIT_PROP_SEED, (gint) g_random_int_range (0, G_MAXINT),
                NULL);
}

static void
cocoedit_dialog_recent_activate (GtkWidget      *item,
                                 CocoeditDialog *dialog)
{
  g_object_set (dialog->config,
                COCOEDIT_PROP_PROMPT,
                g_object_get_data (G_OBJECT (item), "cocoedit-instruction"),
                NULL);
  gtk_widget_grab_focus (dialog->prompt_view);
}

static void
cocoedit_dialog_model_picked (GtkComboBox    *combo,
                              CocoeditDialog *dialog)
{
  const gchar *id = gtk_combo_box_get_active_id (combo);
  gchar       *path = NULL;

  if (! id)
    return;

  g_object_get (dialog->config, COCOEDIT_PROP_MODEL_PATH, &path, NULL);
  if (g_strcmp0 (id, path ? path : ""))
    g_object_set (dialog->config, COCOEDIT_PROP_MODEL_PATH, id, NULL);
  g_free (path);
}

static void
cocoedit_dialog_model_set (GtkFileChooserButton *chooser,
                           CocoeditDialog       *dialog)
{
  gchar *path = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (chooser));

  g_object_set (dialog->config, COCOEDIT_PROP_MODEL_PATH, path ? path : "", NULL);
  g_free (path);
}

static void
cocoedit_dialog_model_default (GtkWidget      *button,
                               CocoeditDialog *dialog)
{
  g_object_set (dialog->config, COCOEDIT_PROP_MODEL_PATH, "", NULL);
}

/* Shows the config's model folder in the chooser. */
static void
cocoedit_dialog_sync_model (CocoeditDialog *dialog)
{
  gchar *path    = NULL;
  gchar *current = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (dialog->model_chooser));

  g_object_get (dialog->config, COCOEDIT_PROP_MODEL_PATH, &path, NULL);

  /* The list shows the model when it is one of those found. */
  g_signal_handlers_block_by_func (dialog->model_combo, cocoedit_dialog_model_picked, dialog);
  if (! gtk_combo_box_set_active_id (GTK_COMBO_BOX (dialog->model_combo), path ? path : ""))
    gtk_combo_box_set_active (GTK_COMBO_BOX (dialog->model_combo), -1);
  g_signal_handlers_unblock_by_func (dialog->model_combo, cocoedit_dialog_model_picked, dialog);

  if (! path || ! *path)
    gtk_file_chooser_unselect_all (GTK_FILE_CHOOSER (dialog->model_chooser));
  else if (g_strcmp0 (path, current))
    gtk_file_chooser_set_filename (GTK_FILE_CHOOSER (dialog->model_chooser), path);

  g_free (current);
  g_free (path);
}

/* The spin button of a steps or guidance scale entry, showing 0 as
 * "Auto" with the model's default and reading "Auto…" back as 0.
 */
static GtkWidget *
cocoedit_dialog_auto_spin (CocoeditDialog *dialog,
                           GtkWidget      *scale_entry)
{
  GtkWidget *spin = gimp_label_spin_get_spin_button (GIMP_LABEL_SPIN (scale_entry));

  /* A numeric spin button filters the letters out of "Auto". */
  gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (spin), FALSE);
  gtk_entry_set_width_chars (GTK_ENTRY (spin), 11);
  g_signal_connect (spin, "output",
                    G_CALLBACK (auto_spin_output),
                    dialog);
  g_signal_connect (spin, "input",
                    G_CALLBACK (auto_spin_input),
                    dialog);

  return spin;
}

static gboolean
auto_spin_output (GtkSpinButton  *spin,
                  CocoeditDialog *dialog)
{
  gchar *text;

  if (gtk_spin_button_get_value (spin) != 0.0)
    return FALSE;

  if (GTK_WIDGET (spin) == dialog->steps_spin && dialog->default_steps > 0)
    /* TRANSLATORS: the model's default number of steps */
    text = g_strdup_printf (_("Auto (%d)"), dialog->default_steps);
  else if (GTK_WIDGET (spin) == dialog->guidance_spin && dialog->default_steps > 0)
    /* TRANSLATORS: the model's default guidance scale */
    text = g_strdup_printf (_("Auto (%.1f)"), dialog->default_guidance);
  else if (GTK_WIDGET (spin) == dialog->variations_spin &&
           dialog->default_variations > 0)
    text = g_strdup_printf (_("Auto (%d)"), dialog->default_variations);
  else
    text = g_strdup (_("Auto"));

  if (g_strcmp0 (text, gtk_entry_get_text (GTK_ENTRY (spin))))
    gtk_entry_set_text (GTK_ENTRY (spin), text);
  g_free (text);

  return TRUE;
}

static gint
auto_spin_input (GtkSpinButton  *spin,
                 gdouble        *new_value,
                 CocoeditDialog *dialog)
{
  gchar    *text = g_utf8_casefold (gtk_entry_get_text (GTK_ENTRY (spin)), -1);
  gchar    *word = g_utf8_casefold (_("Auto"), -1);
  gboolean  is_auto;

  is_auto = g_str_has_prefix (g_strstrip (text), word);
  g_free (text);
  g_free (word);

  if (! is_auto)
    return FALSE;

  *new_value = 0.0;

  return TRUE;
}

static void
cocoedit_dialog_map (GtkWidget      *widget,
                     CocoeditDialog *dialog)
{
  /* Type the instruction right away. */
  gtk_widget_grab_focus (dialog->prompt_view);
}
