/* libcocodata: dataset loaders (our manifest.jsonl, CoCoEdit-40K's
 * metadata.jsonl, the masked GEdit-Bench / ImgEdit-Bench layout).
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "cocodata-private.h"

typedef struct
{
  guint            line;
  gchar           *id;
  gchar           *prompt;
  gchar           *image;    /* absolute paths */
  gchar           *mask;
  gchar           *target;   /* or NULL */
  gchar          **rejected; /* NULL-terminated, or NULL */
  CocodataEditType edit_type;
  gchar           *lang;
  gchar           *metadata;
} Record;

struct _CocodataDataset
{
  gchar          *dir;       /* canonical, no trailing slash */
  gchar          *index;     /* the index file */
  CocodataFormat  format;
  GPtrArray      *records;   /* Record* */
  GPtrArray      *problems;  /* gchar*, NULL-terminated */
};

static const gchar *const format_names[] = {
  "auto", "cocoedit-manifest", "cocoedit40k", "masked-bench"
};
static const gchar *const index_names[] = {
  NULL, "manifest.jsonl", "metadata.jsonl", "instructions.jsonl"
};

gboolean
cocodata_format_parse (const gchar *name, CocodataFormat *format)
{
  for (guint f = 0; f < G_N_ELEMENTS (format_names); f++)
    if (g_strcmp0 (name, format_names[f]) == 0)
      {
        *format = f;
        return TRUE;
      }
  return FALSE;
}

const gchar *
cocodata_format_name (CocodataFormat format)
{
  return format < G_N_ELEMENTS (format_names) ? format_names[format] : "unknown";
}

static void
record_free (gpointer p)
{
  Record *r = p;

  g_free (r->id);
  g_free (r->prompt);
  g_free (r->image);
  g_free (r->mask);
  g_free (r->target);
  g_strfreev (r->rejected);
  g_free (r->lang);
  g_free (r->metadata);
  g_free (r);
}

void
cocodata_dataset_free (CocodataDataset *ds)
{
  if (!ds)
    return;
  g_free (ds->dir);
  g_free (ds->index);
  g_ptr_array_unref (ds->records);
  g_ptr_array_unref (ds->problems);
  g_free (ds);
}

gsize               cocodata_dataset_size (CocodataDataset *ds)     { return ds->records->len; }
CocodataFormat      cocodata_dataset_format (CocodataDataset *ds)   { return ds->format; }
const gchar *const *cocodata_dataset_problems (CocodataDataset *ds)
{
  return (const gchar *const *) ds->problems->pdata;
}

/* dir/rel, refusing anything that leaves dir (absolute paths, "..",
 * symbolic links pointing outside). */
static gchar *
inside_path (CocodataDataset *ds, const gchar *rel, const gchar *field, GError **error)
{
  g_autofree gchar *joined = NULL, *canon = NULL;
  gchar *real;
  gsize n = strlen (ds->dir);

  if (g_path_is_absolute (rel))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "\"%s\" is an absolute path (%s); paths must be relative to %s",
                   field, rel, ds->dir);
      return NULL;
    }
  joined = g_build_filename (ds->dir, rel, NULL);
  canon = g_canonicalize_filename (joined, NULL);
  if (strncmp (canon, ds->dir, n) != 0 || canon[n] != G_DIR_SEPARATOR)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "\"%s\" path %s is outside the dataset directory %s", field, rel, ds->dir);
      return NULL;
    }
  real = realpath (canon, NULL);
  if (!real)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
                   "\"%s\" file %s does not exist", field, canon);
      return NULL;
    }
  if (strncmp (real, ds->dir, n) != 0 || real[n] != G_DIR_SEPARATOR)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "\"%s\" path %s leads outside the dataset directory (to %s)", field, rel, real);
      free (real);
      return NULL;
    }
  free (real);
  return g_steal_pointer (&canon);
}

/* A string member; NULL when absent and optional, or with an error. */
static const gchar *
get_string (JsonObject *obj, const gchar *name, gboolean required, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                     "missing field \"%s\"", name);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "field \"%s\" is not a string", name);
      return NULL;
    }
  if (required && !*json_node_get_string (node))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID, "field \"%s\" is empty", name);
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
probe_same_size (const gchar *image, guint w, guint h, const gchar *what, GError **error)
{
  guint w2, h2;

  if (!cocodata_image_probe (image, &w2, &h2, error))
    return FALSE;
  if (w2 != w || h2 != h)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "%s %s is %u×%u but the image is %u×%u", what, image, w2, h2, w, h);
      return FALSE;
    }
  return TRUE;
}

static gboolean
valid_id (const gchar *id)
{
  if (!*id || strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return FALSE;
  for (const gchar *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("_.-", *p))
      return FALSE;
  return TRUE;
}

/* The masked-bench image of an id: <id>.png, else .jpg, .jpeg or .webp. */
static gchar *
bench_image (CocodataDataset *ds, const gchar *id, GError **error)
{
  static const gchar *const exts[] = { ".png", ".jpg", ".jpeg", ".webp" };

  for (guint i = 0; i < G_N_ELEMENTS (exts); i++)
    {
      g_autofree gchar *rel = g_strconcat (id, exts[i], NULL);
      g_autofree gchar *path = g_build_filename (ds->dir, rel, NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return inside_path (ds, rel, "image", error);
    }
  g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
               "no image %s/%s.png (nor .jpg, .jpeg, .webp)", ds->dir, id);
  return NULL;
}

/* "rejected": the candidates not chosen in a preference record, paths
 * like "target" (which holds the chosen one). */
static gboolean
parse_rejected (CocodataDataset *ds, JsonObject *obj, Record *r, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "rejected");
  JsonArray *array;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node) ||
      (n = json_array_get_length (array = json_node_get_array (node))) == 0 || n > 64)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "\"rejected\" must be a list of 1 to 64 image paths");
      return FALSE;
    }
  if (!json_object_has_member (obj, "target"))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "\"rejected\" needs a \"target\" (the chosen candidate)");
      return FALSE;
    }
  r->rejected = g_new0 (gchar *, n + 1);
  for (guint k = 0; k < n; k++)
    {
      JsonNode *item = json_array_get_element (array, k);
      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                       "\"rejected\" item %u is not a string", k);
          return FALSE;
        }
      if (!(r->rejected[k] = inside_path (ds, json_node_get_string (item), "rejected", error)))
        return FALSE;
    }
  return TRUE;
}

/* Fills r from one parsed line. */
static gboolean
parse_record (CocodataDataset *ds, JsonObject *obj, Record *r, GError **error)
{
  const gchar *s;
  guint w, h;

  if (ds->format == COCODATA_FORMAT_MASKED_BENCH)
    {
      g_autofree gchar *mask_rel = NULL;
      if (!(s = get_string (obj, "id", TRUE, error)))
        return FALSE;
      if (!valid_id (s))
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                       "id \"%s\" may only hold letters, digits, '_', '.' and '-'", s);
          return FALSE;
        }
      r->id = g_strdup (s);
      s = json_object_has_member (obj, "instruction") ? get_string (obj, "instruction", TRUE, error)
                                                      : get_string (obj, "prompt", TRUE, error);
      if (!s)
        return FALSE;
      r->prompt = g_strdup (s);
      mask_rel = g_strconcat (r->id, "_mask.png", NULL);
      if (!(r->image = bench_image (ds, r->id, error)) ||
          !(r->mask = inside_path (ds, mask_rel, "mask", error)))
        return FALSE;
    }
  else
    {
      if (!(s = get_string (obj, "prompt", TRUE, error)))
        return FALSE;
      r->prompt = g_strdup (s);
      if (!(s = get_string (obj, "image", TRUE, error)) ||
          !(r->image = inside_path (ds, s, "image", error)) ||
          !(s = get_string (obj, "mask", TRUE, error)) ||
          !(r->mask = inside_path (ds, s, "mask", error)))
        return FALSE;
      if (ds->format == COCODATA_FORMAT_MANIFEST)
        {
          GError *local = NULL;
          if ((s = get_string (obj, "target", FALSE, &local)) &&
              !(r->target = inside_path (ds, s, "target", error)))
            return FALSE;
          if (local)
            {
              g_propagate_error (error, local);
              return FALSE;
            }
          if (json_object_has_member (obj, "rejected") &&
              !parse_rejected (ds, obj, r, error))
            return FALSE;
        }
      s = get_string (obj, "id", FALSE, NULL);
      r->id = s ? g_strdup (s) : g_path_get_basename (r->image);
    }
  if (!g_utf8_validate (r->prompt, -1, NULL))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID, "prompt is not valid UTF-8");
      return FALSE;
    }

  r->edit_type = COCODATA_EDIT_UNKNOWN;
  {
    GError *local = NULL;
    s = get_string (obj, "edit_type", FALSE, &local);
    if (local)
      {
        g_propagate_error (error, local);
        return FALSE;
      }
    if (s && !cocodata_edit_type_parse (s, &r->edit_type))
      {
        g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                     "unknown edit_type \"%s\" (known: replace, remove, add, recolor, resize, "
                     "move, text, unknown)", s);
        return FALSE;
      }
    s = get_string (obj, "lang", FALSE, &local);
    if (local)
      {
        g_propagate_error (error, local);
        return FALSE;
      }
    r->lang = g_strdup (s ? s : ds->format == COCODATA_FORMAT_COCOEDIT40K ? "en" : "");
  }
  {
    JsonNode *meta = json_object_get_member (obj, "metadata");
    r->metadata = meta && JSON_NODE_HOLDS_OBJECT (meta) ? json_to_string (meta, FALSE)
                                                        : g_strdup ("{}");
  }

  if (!cocodata_image_probe (r->image, &w, &h, error) ||
      !probe_same_size (r->mask, w, h, "mask", error) ||
      (r->target && !probe_same_size (r->target, w, h, "target", error)))
    return FALSE;
  for (guint k = 0; r->rejected && r->rejected[k]; k++)
    if (!probe_same_size (r->rejected[k], w, h, "rejected", error))
      return FALSE;
  return TRUE;
}

/* Finds the index file and the format of path (a directory or a file). */
static gboolean
locate (CocodataDataset *ds, const gchar *path, CocodataFormat format, GError **error)
{
  g_autofree gchar *abs = g_canonicalize_filename (path, NULL);
  gchar *real;

  if (g_file_test (abs, G_FILE_TEST_IS_DIR))
    {
      for (guint f = 1; f < G_N_ELEMENTS (index_names); f++)
        if (format == COCODATA_FORMAT_AUTO || format == f)
          {
            g_autofree gchar *candidate = g_build_filename (abs, index_names[f], NULL);
            if (g_file_test (candidate, G_FILE_TEST_IS_REGULAR))
              {
                ds->index = g_steal_pointer (&candidate);
                ds->format = f;
                break;
              }
          }
      if (!ds->index)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
                       "%s: no %s in this directory", abs,
                       format == COCODATA_FORMAT_AUTO
                       ? "manifest.jsonl, metadata.jsonl or instructions.jsonl"
                       : index_names[format]);
          return FALSE;
        }
    }
  else if (g_file_test (abs, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree gchar *base = g_path_get_basename (abs);
      ds->index = g_strdup (abs);
      ds->format = format;
      for (guint f = 1; f < G_N_ELEMENTS (index_names) && ds->format == COCODATA_FORMAT_AUTO; f++)
        if (strcmp (base, index_names[f]) == 0)
          ds->format = f;
      if (ds->format == COCODATA_FORMAT_AUTO)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                       "%s: cannot tell the dataset format from the file name; give it", abs);
          return FALSE;
        }
    }
  else
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO, "%s: no such file or directory", abs);
      return FALSE;
    }
  {
    g_autofree gchar *dir = g_path_get_dirname (ds->index);
    real = realpath (dir, NULL);
    ds->dir = g_strdup (real ? real : dir);
    free (real);
  }
  return TRUE;
}

CocodataDataset *
cocodata_dataset_open (const gchar *path, CocodataFormat format, gboolean skip_bad,
                       GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  CocodataDataset *ds = g_new0 (CocodataDataset, 1);
  GError *local = NULL;

  ds->records = g_ptr_array_new_with_free_func (record_free);
  ds->problems = g_ptr_array_new_with_free_func (g_free);
  if (!locate (ds, path, format, error))
    goto fail;
  if (!g_file_get_contents (ds->index, &contents, NULL, &local))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO, "%s", local->message);
      g_error_free (local);
      goto fail;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      gchar *line = g_strstrip (lines[i]);
      Record *r;
      JsonNode *root;

      if (!*line)
        continue;
      r = g_new0 (Record, 1);
      r->line = i + 1;
      if (!json_parser_load_from_data (parser, line, -1, &local))
        {
          gchar *m = g_strdup_printf ("not valid JSON: %s", local->message);
          g_clear_error (&local);
          g_set_error_literal (&local, COCODATA_ERROR, COCODATA_ERROR_FORMAT, m);
          g_free (m);
        }
      else if (!(root = json_parser_get_root (parser)) || !JSON_NODE_HOLDS_OBJECT (root))
        g_set_error (&local, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "not a JSON object");
      else if (parse_record (ds, json_node_get_object (root), r, &local) &&
               g_hash_table_contains (ids, r->id))
        g_set_error (&local, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                     "duplicate id \"%s\"", r->id);

      if (local)
        {
          gchar *msg = g_strdup_printf ("%s:%u: %s", ds->index, i + 1, local->message);
          gint code = local->domain == COCODATA_ERROR ? local->code : COCODATA_ERROR_FORMAT;
          g_clear_error (&local);
          record_free (r);
          if (!skip_bad)
            {
              g_set_error_literal (error, COCODATA_ERROR, code, msg);
              g_free (msg);
              goto fail;
            }
          g_ptr_array_add (ds->problems, msg);
          continue;
        }
      g_hash_table_add (ids, r->id);
      g_ptr_array_add (ds->records, r);
    }
  g_ptr_array_add (ds->problems, NULL);
  return ds;

fail:
  cocodata_dataset_free (ds);
  return NULL;
}

gboolean
cocodata_dataset_get (CocodataDataset *ds, gsize i, CocodataSample *out, GError **error)
{
  CocodataImage image = { 0 }, mask = { 0 }, target = { 0 };
  Record *r;
  gboolean ok;

  g_return_val_if_fail (out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  if (i >= ds->records->len)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "%s: record %" G_GSIZE_FORMAT " out of range (size %u)",
                   ds->index, i, ds->records->len);
      return FALSE;
    }
  r = g_ptr_array_index (ds->records, i);
  ok = cocodata_image_load (r->image, 3, &image, error) &&
       cocodata_image_load (r->mask, 1, &mask, error) &&
       (!r->target || cocodata_image_load (r->target, 3, &target, error));
  if (ok && (mask.width != image.width || mask.height != image.height ||
             (r->target && (target.width != image.width || target.height != image.height))))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "%s:%u: image, mask and target sizes differ", ds->index, r->line);
      ok = FALSE;
    }
  if (!ok)
    {
      if (error && *error && !strstr ((*error)->message, ds->index))
        g_prefix_error (error, "%s:%u: ", ds->index, r->line);
      cocodata_image_clear (&image);
      cocodata_image_clear (&mask);
      cocodata_image_clear (&target);
      return FALSE;
    }
  if (ds->format == COCODATA_FORMAT_COCOEDIT40K)   /* white = keep there */
    for (gsize p = 0; p < (gsize) mask.width * mask.height; p++)
      mask.pixels[p] = 255 - mask.pixels[p];

  out->width = image.width;
  out->height = image.height;
  out->source = g_steal_pointer (&image.pixels);
  out->mask = g_steal_pointer (&mask.pixels);
  out->target = g_steal_pointer (&target.pixels);
  out->prompt = g_strdup (r->prompt);
  out->edit_type = r->edit_type;
  out->lang = g_strdup (r->lang);
  out->id = g_strdup (r->id);
  out->metadata = g_strdup (r->metadata);

  if (r->rejected)
    {
      guint n = g_strv_length (r->rejected);

      out->rejected = g_new0 (guint8 *, n);
      for (guint k = 0; k < n; k++)
        {
          CocodataImage other = { 0 };

          if (!cocodata_image_load (r->rejected[k], 3, &other, error) ||
              other.width != out->width || other.height != out->height)
            {
              if (error && !*error)
                g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                             "%s:%u: rejected image %u has another size",
                             ds->index, r->line, k);
              else if (error && !strstr ((*error)->message, ds->index))
                g_prefix_error (error, "%s:%u: ", ds->index, r->line);
              cocodata_image_clear (&other);
              cocodata_sample_clear (out);
              return FALSE;
            }
          out->rejected[out->n_rejected++] = g_steal_pointer (&other.pixels);
        }
    }
  return TRUE;
}

/* ---- writing samples ---- */

static gchar *
json_escape (const gchar *s)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, s);
  return json_to_string (node, FALSE);
}

gchar *
cocodata_sample_save (const CocodataSample *sample, const gchar *dataset_dir,
                      const gchar *subdir, const gchar *stem, GError **error)
{
  g_autofree gchar *rel_img = g_strdup_printf ("%s/%s.png", subdir, stem);
  g_autofree gchar *rel_mask = g_strdup_printf ("%s/%s_mask.png", subdir, stem);
  g_autofree gchar *rel_tgt = g_strdup_printf ("%s/%s_target.png", subdir, stem);
  g_autofree gchar *p_img = g_build_filename (dataset_dir, rel_img, NULL);
  g_autofree gchar *p_mask = g_build_filename (dataset_dir, rel_mask, NULL);
  g_autofree gchar *p_tgt = g_build_filename (dataset_dir, rel_tgt, NULL);
  g_autofree gchar *e_prompt = NULL, *e_id = NULL, *e_lang = NULL;
  GString *line;

  if (!cocodata_write_png (p_img, sample->source, sample->width, sample->height, 3, error) ||
      !cocodata_write_png (p_mask, sample->mask, sample->width, sample->height, 1, error) ||
      (sample->target &&
       !cocodata_write_png (p_tgt, sample->target, sample->width, sample->height, 3, error)))
    return NULL;
  e_prompt = json_escape (sample->prompt ? sample->prompt : "");
  e_id = json_escape (sample->id ? sample->id : stem);
  e_lang = json_escape (sample->lang ? sample->lang : "");
  line = g_string_new (NULL);
  g_string_append_printf (line, "{\"id\":%s,\"prompt\":%s,\"image\":\"%s\",\"mask\":\"%s\",",
                          e_id, e_prompt, rel_img, rel_mask);
  if (sample->target)
    g_string_append_printf (line, "\"target\":\"%s\",", rel_tgt);
  g_string_append_printf (line, "\"edit_type\":\"%s\",\"lang\":%s,\"width\":%u,\"height\":%u,"
                          "\"metadata\":%s}",
                          cocodata_edit_type_name (sample->edit_type), e_lang,
                          sample->width, sample->height,
                          sample->metadata && *sample->metadata ? sample->metadata : "{}");
  return g_string_free (line, FALSE);
}
