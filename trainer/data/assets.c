/* libcocodata: the asset catalogue written by tools/gather-assets.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "cocodata-private.h"

guint64
cocodata_mix64 (guint64 x)
{
  x ^= x >> 30;
  x *= G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= G_GUINT64_CONSTANT (0x94d049bb133111eb);
  x ^= x >> 31;
  return x;
}

/* FNV-1a: stable across platforms and GLib versions (unlike g_str_hash). */
guint64
cocodata_hash_str (const gchar *s)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (; *s; s++)
    h = (h ^ (guint8) *s) * G_GUINT64_CONSTANT (0x100000001b3);
  return cocodata_mix64 (h);
}

gchar *
cocodata_assets_default_dir (void)
{
  const gchar *base = g_getenv ("COCOEDIT_CACHE_DIR");

  if (base && *base)
    return g_build_filename (base, "assets", NULL);
  return g_build_filename (g_get_user_cache_dir (), "cocoedit", "assets", NULL);
}

static void
object_free (gpointer p)
{
  CocodataObject *o = p;

  g_free (o->id);
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    g_free (o->names[l]);
  g_free (o->category);
  g_free (o->style);
  g_free (o->file);
  g_free (o->source_json);
  g_free (o);
}

static void
background_free (gpointer p)
{
  CocodataBackground *b = p;

  g_free (b->id);
  g_free (b->file);
  g_free (b->source_json);
  g_free (b);
}

static void
font_asset_free (gpointer p)
{
  CocodataFontAsset *f = p;

  g_free (f->id);
  g_free (f->file);
  g_free (f->source_json);
  cocodata_font_free (f->font);
  g_free (f);
}

/* Reads a string member; reports "catalogue.json: objects[3]: no "id"". */
static const gchar *
member_string (JsonObject *obj, const gchar *name, const gchar *where, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING ||
      !*json_node_get_string (node))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: missing or empty string \"%s\"", where, name);
      return NULL;
    }
  return json_node_get_string (node);
}

/* The asset file path, which must stay inside the asset directory. */
static gchar *
asset_path (CocodataAssets *assets, JsonObject *obj, const gchar *where, GError **error)
{
  const gchar *rel = member_string (obj, "file", where, error);
  gchar *path;

  if (!rel)
    return NULL;
  if (g_path_is_absolute (rel) || strstr (rel, "..") != NULL)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: file \"%s\" is outside the asset directory", where, rel);
      return NULL;
    }
  path = g_build_filename (assets->dir, rel, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_IO,
                   "%s: file %s is missing", where, path);
      g_free (path);
      return NULL;
    }
  return path;
}

static gchar *
source_json (JsonObject *obj)
{
  JsonNode *node = json_object_get_member (obj, "source");

  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    return g_strdup ("{}");
  return json_to_string (node, FALSE);
}

static JsonArray *
member_array (JsonObject *obj, const gchar *name, const gchar *path, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                   "%s: no \"%s\" array", path, name);
      return NULL;
    }
  return json_node_get_array (node);
}

static gboolean
load_objects (CocodataAssets *assets, JsonArray *arr, const gchar *cat, GError **error)
{
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      g_autofree gchar *where = g_strdup_printf ("%s: objects[%u]", cat, i);
      JsonNode *node = json_array_get_element (arr, i);
      JsonObject *obj, *names;
      CocodataObject *o;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "%s: not an object", where);
          return FALSE;
        }
      obj = json_node_get_object (node);
      names = json_object_get_object_member (obj, "names");
      if (!names)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "%s: no \"names\"", where);
          return FALSE;
        }
      o = g_new0 (CocodataObject, 1);
      g_ptr_array_add (assets->objects, o);
      if (!(o->id = g_strdup (member_string (obj, "id", where, error))) ||
          !(o->file = asset_path (assets, obj, where, error)))
        return FALSE;
      for (guint l = 0; l < COCODATA_N_LANGS; l++)
        {
          g_autofree gchar *w = g_strdup_printf ("%s.names", where);
          if (!(o->names[l] = g_strdup (member_string (names, cocodata_lang_name (l), w, error))))
            return FALSE;
        }
      o->category = g_strdup (json_object_get_string_member_with_default (obj, "category", ""));
      o->style = g_strdup (json_object_get_string_member_with_default (obj, "style", ""));
      o->width = json_object_get_int_member_with_default (obj, "width", 0);
      o->height = json_object_get_int_member_with_default (obj, "height", 0);
      o->source_json = source_json (obj);
      o->name_hash = cocodata_hash_str (o->names[COCODATA_LANG_EN]);
    }
  return TRUE;
}

static gboolean
load_backgrounds (CocodataAssets *assets, JsonArray *arr, const gchar *cat, GError **error)
{
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      g_autofree gchar *where = g_strdup_printf ("%s: backgrounds[%u]", cat, i);
      JsonObject *obj = json_array_get_object_element (arr, i);
      CocodataBackground *b;

      if (!obj)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "%s: not an object", where);
          return FALSE;
        }
      b = g_new0 (CocodataBackground, 1);
      g_ptr_array_add (assets->backgrounds, b);
      if (!(b->id = g_strdup (member_string (obj, "id", where, error))) ||
          !(b->file = asset_path (assets, obj, where, error)))
        return FALSE;
      b->texture = g_strcmp0 (json_object_get_string_member_with_default (obj, "kind", "photo"),
                              "texture") == 0;
      b->source_json = source_json (obj);
      b->hash = cocodata_hash_str (b->id);
    }
  return TRUE;
}

static gboolean
load_fonts (CocodataAssets *assets, JsonArray *arr, const gchar *cat, GError **error)
{
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      g_autofree gchar *where = g_strdup_printf ("%s: fonts[%u]", cat, i);
      JsonObject *obj = json_array_get_object_element (arr, i);
      JsonArray *scripts;
      CocodataFontAsset *f;

      if (!obj)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "%s: not an object", where);
          return FALSE;
        }
      f = g_new0 (CocodataFontAsset, 1);
      g_ptr_array_add (assets->fonts, f);
      if (!(f->id = g_strdup (member_string (obj, "id", where, error))) ||
          !(f->file = asset_path (assets, obj, where, error)) ||
          !(f->font = cocodata_font_new (f->file, error)))
        return FALSE;
      f->source_json = source_json (obj);
      scripts = json_object_get_array_member (obj, "scripts");
      for (guint s = 0; scripts && s < json_array_get_length (scripts); s++)
        {
          const gchar *name = json_array_get_string_element (scripts, s);
          CocodataLang lang;

          if (g_strcmp0 (name, "latin") == 0)
            f->scripts |= 1u << COCODATA_LANG_EN;
          else if (name && cocodata_lang_parse (name, &lang))
            f->scripts |= 1u << lang;
        }
    }
  return TRUE;
}

static gboolean
load_words (CocodataAssets *assets, JsonObject *root, const gchar *cat, GError **error)
{
  JsonObject *words = json_object_get_object_member (root, "words");

  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    {
      JsonArray *arr = words ? json_object_get_array_member (words, cocodata_lang_name (l)) : NULL;

      assets->words[l] = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 0; arr && i < json_array_get_length (arr); i++)
        {
          const gchar *w = json_array_get_string_element (arr, i);
          if (w && *w && g_utf8_validate (w, -1, NULL))
            g_ptr_array_add (assets->words[l], g_strdup (w));
        }
      if (assets->words[l]->len < 2)
        {
          g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT,
                       "%s: fewer than two \"words\" for language %s", cat,
                       cocodata_lang_name (l));
          return FALSE;
        }
    }
  return TRUE;
}

CocodataAssets *
cocodata_assets_open (const gchar *asset_dir, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *cat = NULL;
  CocodataAssets *assets = g_new0 (CocodataAssets, 1);
  JsonNode *root;
  JsonObject *obj;
  JsonArray *arr;
  GError *local = NULL;

  assets->dir = asset_dir ? g_strdup (asset_dir) : cocodata_assets_default_dir ();
  assets->objects = g_ptr_array_new_with_free_func (object_free);
  assets->backgrounds = g_ptr_array_new_with_free_func (background_free);
  assets->fonts = g_ptr_array_new_with_free_func (font_asset_free);
  g_mutex_init (&assets->lock);
  cat = g_build_filename (assets->dir, "catalogue.json", NULL);

  if (!json_parser_load_from_mapped_file (parser, cat, &local))
    {
      g_set_error (error, COCODATA_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
                   local->domain == G_FILE_ERROR ? COCODATA_ERROR_IO : COCODATA_ERROR_FORMAT,
                   "%s: %s (run tools/gather-assets to make the asset cache)",
                   cat, local->message);
      g_error_free (local);
      goto fail;
    }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_FORMAT, "%s: not a JSON object", cat);
      goto fail;
    }
  obj = json_node_get_object (root);
  if (!(arr = member_array (obj, "objects", cat, error)) ||
      !load_objects (assets, arr, cat, error) ||
      !(arr = member_array (obj, "backgrounds", cat, error)) ||
      !load_backgrounds (assets, arr, cat, error) ||
      !(arr = member_array (obj, "fonts", cat, error)) ||
      !load_fonts (assets, arr, cat, error) ||
      !load_words (assets, obj, cat, error))
    goto fail;
  if (assets->objects->len < 4 || assets->backgrounds->len < 1 || assets->fonts->len < 1)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_ASSETS,
                   "%s: too few assets (%u objects, %u backgrounds, %u fonts)", cat,
                   assets->objects->len, assets->backgrounds->len, assets->fonts->len);
      goto fail;
    }
  assets->object_pixels = g_new0 (CocodataObjectPixels *, assets->objects->len);
  assets->background_pixels = g_new0 (cairo_surface_t *, assets->backgrounds->len);
  return assets;

fail:
  cocodata_assets_free (assets);
  return NULL;
}

void
cocodata_assets_free (CocodataAssets *assets)
{
  if (!assets)
    return;
  for (guint i = 0; assets->object_pixels && i < assets->objects->len; i++)
    if (assets->object_pixels[i])
      {
        cairo_surface_destroy (assets->object_pixels[i]->surface);
        cairo_surface_destroy (assets->object_pixels[i]->shadow);
        g_free (assets->object_pixels[i]);
      }
  for (guint i = 0; assets->background_pixels && i < assets->backgrounds->len; i++)
    if (assets->background_pixels[i])
      cairo_surface_destroy (assets->background_pixels[i]);
  g_free (assets->object_pixels);
  g_free (assets->background_pixels);
  g_ptr_array_unref (assets->objects);
  g_ptr_array_unref (assets->backgrounds);
  g_ptr_array_unref (assets->fonts);
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    if (assets->words[l])
      g_ptr_array_unref (assets->words[l]);
  g_mutex_clear (&assets->lock);
  g_free (assets->dir);
  g_free (assets);
}

guint cocodata_assets_n_objects (CocodataAssets *a)     { return a->objects->len; }
guint cocodata_assets_n_backgrounds (CocodataAssets *a) { return a->backgrounds->len; }
guint cocodata_assets_n_fonts (CocodataAssets *a)       { return a->fonts->len; }

/* Three box blurs of the alpha channel ≈ a Gaussian, padded. */
static cairo_surface_t *
blurred_alpha (const CocodataImage *img)
{
  const int pad = COCODATA_SHADOW_PAD, r = 2;
  int w = img->width + 2 * pad, h = img->height + 2 * pad;
  g_autofree float *a = g_new0 (float, (gsize) w * h);
  g_autofree float *t = g_new0 (float, (gsize) w * h);
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_A8, w, h);
  guint8 *dst;
  int stride;

  for (guint y = 0; y < img->height; y++)
    for (guint x = 0; x < img->width; x++)
      a[(gsize) (y + pad) * w + x + pad] = img->pixels[((gsize) y * img->width + x) * 4 + 3];
  for (int pass = 0; pass < 3; pass++)
    {
      for (int y = 0; y < h; y++)      /* horizontal: a → t */
        for (int x = 0; x < w; x++)
          {
            float sum = 0;
            for (int k = -r; k <= r; k++)
              sum += a[(gsize) y * w + CLAMP (x + k, 0, w - 1)];
            t[(gsize) y * w + x] = sum / (2 * r + 1);
          }
      for (int y = 0; y < h; y++)      /* vertical: t → a */
        for (int x = 0; x < w; x++)
          {
            float sum = 0;
            for (int k = -r; k <= r; k++)
              sum += t[(gsize) CLAMP (y + k, 0, h - 1) * w + x];
            a[(gsize) y * w + x] = sum / (2 * r + 1);
          }
    }
  cairo_surface_flush (s);
  dst = cairo_image_surface_get_data (s);
  stride = cairo_image_surface_get_stride (s);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      dst[(gsize) y * stride + x] = (guint8) CLAMP (a[(gsize) y * w + x] + 0.5f, 0, 255);
  cairo_surface_mark_dirty (s);
  return s;
}

const CocodataObjectPixels *
cocodata_assets_object_pixels (CocodataAssets *assets, guint i, GError **error)
{
  CocodataObjectPixels *px;
  CocodataImage img;
  CocodataObject *o;
  double sum[3] = { 0, 0, 0 }, wsum = 0;

  g_return_val_if_fail (i < assets->objects->len, NULL);
  g_mutex_lock (&assets->lock);
  px = assets->object_pixels[i];
  g_mutex_unlock (&assets->lock);
  if (px)
    return px;

  o = g_ptr_array_index (assets->objects, i);
  if (!cocodata_image_load (o->file, 4, &img, error))
    return NULL;
  px = g_new0 (CocodataObjectPixels, 1);
  px->surface = cocodata_image_to_surface (&img);
  px->shadow = blurred_alpha (&img);
  for (gsize p = 0; p < (gsize) img.width * img.height; p++)
    {
      double a = img.pixels[p * 4 + 3] / 255.0;
      for (int c = 0; c < 3; c++)
        sum[c] += a * img.pixels[p * 4 + c];
      wsum += a;
    }
  for (int c = 0; c < 3; c++)
    px->mean_rgb[c] = wsum > 0 ? sum[c] / wsum : 128;
  cocodata_image_clear (&img);

  g_mutex_lock (&assets->lock);
  if (assets->object_pixels[i])   /* another thread won the race */
    {
      cairo_surface_destroy (px->surface);
      cairo_surface_destroy (px->shadow);
      g_free (px);
    }
  else
    assets->object_pixels[i] = px;
  px = assets->object_pixels[i];
  g_mutex_unlock (&assets->lock);
  return px;
}

cairo_surface_t *
cocodata_assets_background_pixels (CocodataAssets *assets, guint i, GError **error)
{
  CocodataBackground *b;
  cairo_surface_t *s;
  CocodataImage img;

  g_return_val_if_fail (i < assets->backgrounds->len, NULL);
  g_mutex_lock (&assets->lock);
  s = assets->background_pixels[i];
  g_mutex_unlock (&assets->lock);
  if (s)
    return s;

  b = g_ptr_array_index (assets->backgrounds, i);
  if (!cocodata_image_load (b->file, 4, &img, error))
    return NULL;
  s = cocodata_image_to_surface (&img);
  cocodata_image_clear (&img);

  g_mutex_lock (&assets->lock);
  if (assets->background_pixels[i])
    cairo_surface_destroy (s);
  else
    assets->background_pixels[i] = s;
  s = assets->background_pixels[i];
  g_mutex_unlock (&assets->lock);
  return s;
}
