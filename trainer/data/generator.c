/* libcocodata: the synthetic editing-data generator.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A sample is made in three steps:
 *   1. a scene description: a background crop and 2–5 placed items (objects
 *      or a text sign), sometimes with a second copy of the edited object so
 *      that the instruction has to say which one it means;
 *   2. an edit of the description (replace, remove, add, recolor, resize,
 *      move, text) giving the target description and the instruction;
 *   3. rendering both descriptions with the same cairo calls: everything the
 *      edit did not touch is drawn identically, so the pixels that differ are
 *      exactly the edit, and the mask is those pixels dilated by a few pixels.
 * Quality filters (visibility of the edited item, mask area bounds, enough
 * changed pixels) reject an attempt; the next attempt of the same index uses
 * the next random stream, so results stay a pure function of the index.
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "cocodata-private.h"

#define MAX_ITEMS     8
#define MAX_ATTEMPTS  24
#define BENCH_MODULUS 8     /* 1 in 8 object names, backgrounds, words is bench */

/* Quality filter bounds. */
#define MIN_MASK_FRACTION   0.004
#define MAX_MASK_FRACTION   0.55
#define MIN_CHANGED_FRACTION 0.002
#define MAX_OCCLUDED        0.30

/* ---- random numbers: SplitMix64 ---- */

static guint64
rng_next (CocodataRng *r)
{
  r->s += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  return cocodata_mix64 (r->s);
}

static double
rng_uniform (CocodataRng *r, double lo, double hi)
{
  return lo + (hi - lo) * ((rng_next (r) >> 11) * (1.0 / 9007199254740992.0));
}

static guint
rng_below (CocodataRng *r, guint n)
{
  return n ? (guint) (rng_next (r) % n) : 0;
}

static gboolean
rng_chance (CocodataRng *r, double p)
{
  return rng_uniform (r, 0, 1) < p;
}

/* ---- scenes ---- */

typedef enum { ITEM_OBJECT, ITEM_SIGN } ItemKind;
typedef enum { ROLE_CONTEXT, ROLE_EDITED, ROLE_DISTRACTOR, ROLE_NEW } ItemRole;

typedef struct
{
  ItemKind    kind;
  ItemRole    role;
  guint       obj;         /* object index (ITEM_OBJECT) */
  double      x, y, w, h;  /* bounding box in pixels */
  gboolean    flip;
  gint        tint;        /* colour index or -1 */
  /* ITEM_SIGN */
  const gchar *text;
  guint        font;
  double       px;
  guint8       card[3], ink[3];
  guint        serial;     /* stable tie-break for the drawing order */
} Item;

typedef struct
{
  guint    bg;
  double   bg_x, bg_y, bg_scale;   /* crop origin in background pixels, zoom */
  gboolean bg_flip;
  Item     items[MAX_ITEMS];
  guint    n;
} Scene;

struct _CocodataGenerator
{
  CocodataAssets   *assets;
  CocodataGenConfig config;
  GArray           *objects;       /* guint indices usable in this split */
  GArray           *backgrounds;
  GPtrArray        *words[COCODATA_N_LANGS];  /* borrowed strings */
  guint             types[COCODATA_N_EDIT_TYPES], n_types;
  guint             type_weights[COCODATA_N_EDIT_TYPES], weight_sum;  /* of types[] */
  guint             langs[COCODATA_N_LANGS], n_langs;
};

void
cocodata_gen_config_init (CocodataGenConfig *config)
{
  memset (config, 0, sizeof *config);
  config->size = 256;
  config->split = COCODATA_SPLIT_TRAIN;
}

/* The type whose share of [0, weight_sum) holds @draw. */
static CocodataEditType
pick_type (const CocodataGenerator *gen,
           guint                    draw)
{
  guint i = 0;

  while (draw >= gen->type_weights[i])
    draw -= gen->type_weights[i++];
  return gen->types[i];
}

static gboolean
in_split (guint64 hash, CocodataSplit split)
{
  return (hash % BENCH_MODULUS == 0) == (split == COCODATA_SPLIT_BENCH);
}

CocodataGenerator *
cocodata_generator_new (CocodataAssets *assets, const CocodataGenConfig *config,
                        GError **error)
{
  CocodataGenerator *gen;
  guint all_types = (1u << COCODATA_N_EDIT_TYPES) - 1, all_langs = (1u << COCODATA_N_LANGS) - 1;

  g_return_val_if_fail (assets && config, NULL);
  if (config->size < 64 || config->size > 2048)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "image size %u is outside 64..2048", config->size);
      return NULL;
    }
  if ((config->edit_types & ~all_types) || (config->langs & ~all_langs) ||
      config->split > COCODATA_SPLIT_BENCH)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                   "unknown edit types, languages or split in the configuration");
      return NULL;
    }
  for (guint t = 0; t < COCODATA_N_EDIT_TYPES; t++)
    if (config->type_weights[t] > 1000)
      {
        g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_INVALID,
                     "the weight %u of edit type %u is over 1000",
                     config->type_weights[t], t);
        return NULL;
      }
  gen = g_new0 (CocodataGenerator, 1);
  gen->assets = assets;
  gen->config = *config;
  if (!gen->config.edit_types)
    gen->config.edit_types = all_types;
  if (!gen->config.langs)
    gen->config.langs = all_langs;
  if (config->split == COCODATA_SPLIT_BENCH && config->seed == 0)
    gen->config.seed = COCODATA_BENCH_SEED;
  for (guint t = 0; t < COCODATA_N_EDIT_TYPES; t++)
    if (gen->config.edit_types & (1u << t))
      {
        gen->type_weights[gen->n_types] = MAX (config->type_weights[t], 1u);
        gen->weight_sum += gen->type_weights[gen->n_types];
        gen->types[gen->n_types++] = t;
      }
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    if (gen->config.langs & (1u << l))
      gen->langs[gen->n_langs++] = l;

  gen->objects = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < assets->objects->len; i++)
    if (in_split (((CocodataObject *) g_ptr_array_index (assets->objects, i))->name_hash,
                  config->split))
      g_array_append_val (gen->objects, i);
  gen->backgrounds = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < assets->backgrounds->len; i++)
    if (in_split (((CocodataBackground *) g_ptr_array_index (assets->backgrounds, i))->hash,
                  config->split))
      g_array_append_val (gen->backgrounds, i);
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    {
      gen->words[l] = g_ptr_array_new ();
      for (guint i = 0; i < assets->words[l]->len; i++)
        {
          gchar *w = g_ptr_array_index (assets->words[l], i);
          if (in_split (cocodata_hash_str (w), config->split))
            g_ptr_array_add (gen->words[l], w);
        }
    }
  if (gen->objects->len < 6 || gen->backgrounds->len < 1)
    {
      g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_ASSETS,
                   "the %s split has too few assets: %u objects, %u backgrounds",
                   config->split == COCODATA_SPLIT_BENCH ? "bench" : "train",
                   gen->objects->len, gen->backgrounds->len);
      cocodata_generator_free (gen);
      return NULL;
    }
  return gen;
}

void
cocodata_generator_free (CocodataGenerator *gen)
{
  if (!gen)
    return;
  g_array_unref (gen->objects);
  g_array_unref (gen->backgrounds);
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    g_ptr_array_unref (gen->words[l]);
  g_free (gen);
}

static CocodataObject *
object_at (CocodataGenerator *gen, guint obj)
{
  return g_ptr_array_index (gen->assets->objects, obj);
}

/* ---- geometry ---- */

static double
overlap_area (const Item *a, const Item *b)
{
  double w = MIN (a->x + a->w, b->x + b->w) - MAX (a->x, b->x);
  double h = MIN (a->y + a->h, b->y + b->h) - MAX (a->y, b->y);
  return w > 0 && h > 0 ? w * h : 0;
}

/* Items are drawn back to front by the bottom edge: lower means nearer. */
static gboolean
drawn_after (const Item *a, const Item *b)
{
  double ab = a->y + a->h, bb = b->y + b->h;
  return ab > bb || (ab == bb && a->serial > b->serial);
}

/* Fraction of item i's box covered by the boxes of items drawn over it. */
static double
occluded_fraction (const Scene *s, guint i)
{
  double covered = 0;

  for (guint j = 0; j < s->n; j++)
    if (j != i && drawn_after (&s->items[j], &s->items[i]))
      covered += overlap_area (&s->items[i], &s->items[j]);
  return MIN (1.0, covered / MAX (1.0, s->items[i].w * s->items[i].h));
}

/* Largest share of either box covered by the other, against all items. */
static double
max_overlap (const Scene *s, const Item *it, gint skip)
{
  double m = 0;

  for (guint j = 0; j < s->n; j++)
    if ((gint) j != skip)
      {
        double o = overlap_area (it, &s->items[j]);
        m = MAX (m, o / MIN (it->w * it->h, s->items[j].w * s->items[j].h));
      }
  return m;
}

/* Sets the box size from the object's aspect ratio and a height. */
static void
size_item (CocodataGenerator *gen, Item *it, double h)
{
  CocodataObject *o = object_at (gen, it->obj);
  double S = gen->config.size, aspect = (double) MAX (o->width, 1) / MAX (o->height, 1);

  it->h = h;
  it->w = h * aspect;
  if (it->w > 0.5 * S)
    {
      it->w = 0.5 * S;
      it->h = it->w / aspect;
    }
}

static void
clamp_into_image (Item *it, double S)
{
  it->x = CLAMP (it->x, 0, MAX (0, S - it->w));
  it->y = CLAMP (it->y, 0, MAX (0, S - it->h));
}

/* Places it somewhere free; FALSE when every try overlaps too much. */
static gboolean
place_randomly (CocodataGenerator *gen, Scene *s, Item *it, CocodataRng *r)
{
  double S = gen->config.size;

  for (int t = 0; t < 24; t++)
    {
      double bottom = rng_uniform (r, MAX (it->h, 0.35 * S), S);
      it->x = rng_uniform (r, 0, MAX (0, S - it->w));
      it->y = bottom - it->h;
      if (max_overlap (s, it, (gint) (it - s->items)) < 0.25)
        return TRUE;
    }
  return FALSE;
}

/* Centres it in a cell of the 3×3 grid, with jitter. */
static void
place_in_cell (CocodataGenerator *gen, Item *it, CocodataPlace place, CocodataRng *r)
{
  double S = gen->config.size;
  guint col, row;

  cocodata_place_cell (place, &col, &row);
  it->x = (col + 0.5) * S / 3 - it->w / 2 + rng_uniform (r, -0.05, 0.05) * S;
  it->y = (row + 0.5) * S / 3 - it->h / 2 + rng_uniform (r, -0.05, 0.05) * S;
  clamp_into_image (it, S);
}

static CocodataPlace
place_of (CocodataGenerator *gen, const Item *it)
{
  double S = gen->config.size;
  guint col = MIN ((guint) MAX (0.0, (it->x + it->w / 2) * 3 / S), 2u);
  guint row = MIN ((guint) MAX (0.0, (it->y + it->h / 2) * 3 / S), 2u);

  for (guint p = 0; p < COCODATA_N_PLACES; p++)
    {
      guint c, rr;
      cocodata_place_cell (p, &c, &rr);
      if (c == col && rr == row)
        return p;
    }
  return COCODATA_PLACE_CENTER;
}

/* ---- choosing assets ---- */

static gboolean
name_in_scene (CocodataGenerator *gen, const Scene *s, guint obj)
{
  CocodataObject *o = object_at (gen, obj);

  for (guint i = 0; i < s->n; i++)
    if (s->items[i].kind == ITEM_OBJECT)
      {
        CocodataObject *p = object_at (gen, s->items[i].obj);
        for (guint l = 0; l < COCODATA_N_LANGS; l++)
          if (g_strcmp0 (o->names[l], p->names[l]) == 0)
            return TRUE;
      }
  return FALSE;
}

/* A random split object whose names differ from everything in s. */
static gboolean
pick_new_object (CocodataGenerator *gen, const Scene *s, CocodataRng *r, guint *obj)
{
  for (int t = 0; t < 32; t++)
    {
      *obj = g_array_index (gen->objects, guint, rng_below (r, gen->objects->len));
      if (!name_in_scene (gen, s, *obj))
        return TRUE;
    }
  return FALSE;
}

static Item *
add_item (Scene *s)
{
  Item *it = &s->items[s->n];

  memset (it, 0, sizeof *it);
  it->tint = -1;
  it->serial = s->n++;
  return it;
}

static gboolean
add_object (CocodataGenerator *gen, Scene *s, guint obj, ItemRole role, CocodataRng *r)
{
  double S = gen->config.size;
  Item *it;

  if (s->n >= MAX_ITEMS)
    return FALSE;
  it = add_item (s);
  it->kind = ITEM_OBJECT;
  it->role = role;
  it->obj = obj;
  it->flip = rng_chance (r, 0.5);
  size_item (gen, it, rng_uniform (r, 0.2, 0.42) * S);
  if (!place_randomly (gen, s, it, r))
    {
      s->n--;
      return FALSE;
    }
  return TRUE;
}

static void
pick_background (CocodataGenerator *gen, Scene *s, CocodataRng *r)
{
  CocodataBackground *b;

  s->bg = g_array_index (gen->backgrounds, guint, rng_below (r, gen->backgrounds->len));
  b = g_ptr_array_index (gen->assets->backgrounds, s->bg);
  s->bg_flip = rng_chance (r, 0.5);
  s->bg_scale = b->texture ? rng_uniform (r, 0.6, 1.5) : rng_uniform (r, 0.8, 1.0);
  s->bg_x = rng_uniform (r, 0, 1);   /* fractions of the free range */
  s->bg_y = rng_uniform (r, 0, 1);
}

/* ---- rendering ---- */

/* GIMP-Colorize-like tint: the colour at mid lightness, toward black/white. */
static cairo_surface_t *
tinted (cairo_surface_t *src, const guint8 rgb[3])
{
  int w = cairo_image_surface_get_width (src), h = cairo_image_surface_get_height (src);
  cairo_surface_t *dst = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, h);
  int ss = cairo_image_surface_get_stride (src), ds = cairo_image_surface_get_stride (dst);
  const guint8 *sp = cairo_image_surface_get_data (src);
  guint8 *dp;

  cairo_surface_flush (dst);
  dp = cairo_image_surface_get_data (dst);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint32 p = ((const guint32 *) (sp + (gsize) y * ss))[x];
        guint a = p >> 24, out[3];
        double l;

        if (a == 0)
          {
            ((guint32 *) (dp + (gsize) y * ds))[x] = 0;
            continue;
          }
        /* premultiplied → straight luma in [0,1] */
        l = (0.299 * ((p >> 16) & 255) + 0.587 * ((p >> 8) & 255) + 0.114 * (p & 255)) / a;
        l = CLAMP (l, 0.0, 1.0);
        for (int c = 0; c < 3; c++)
          {
            double v = rgb[c] / 255.0;
            v = l < 0.5 ? v * 2 * l : v + (1 - v) * (2 * l - 1);
            out[c] = (guint) (v * a + 0.5);
          }
        ((guint32 *) (dp + (gsize) y * ds))[x] = (a << 24) | (out[0] << 16) | (out[1] << 8) | out[2];
      }
  cairo_surface_mark_dirty (dst);
  return dst;
}

/* Maps a surface of sw×sh (with pad pixels around the item's image) onto
 * the item's box, offset by (dx, dy) pixels. */
static void
item_transform (cairo_t *cr, const Item *it, double sw, double sh, double pad,
                double dx, double dy)
{
  double sx = it->w / (sw - 2 * pad), sy = it->h / (sh - 2 * pad);

  if (it->flip)
    {
      cairo_translate (cr, it->x + it->w + dx + pad * sx, it->y + dy - pad * sy);
      cairo_scale (cr, -sx, sy);
    }
  else
    {
      cairo_translate (cr, it->x + dx - pad * sx, it->y + dy - pad * sy);
      cairo_scale (cr, sx, sy);
    }
}

static void
draw_contact_shadow (cairo_t *cr, const Item *it, double strength)
{
  cairo_pattern_t *g = cairo_pattern_create_radial (0, 0, 0, 0, 0, 1);

  cairo_pattern_add_color_stop_rgba (g, 0, 0, 0, 0, strength);
  cairo_pattern_add_color_stop_rgba (g, 1, 0, 0, 0, 0);
  cairo_save (cr);
  cairo_translate (cr, it->x + it->w / 2, it->y + it->h * 0.97);
  cairo_scale (cr, it->w * 0.45, MAX (2.0, it->h * 0.07));
  cairo_set_source (cr, g);
  cairo_arc (cr, 0, 0, 1, 0, 2 * G_PI);
  cairo_fill (cr);
  cairo_restore (cr);
  cairo_pattern_destroy (g);
}

static void
draw_object (CocodataGenerator *gen, cairo_t *cr, const Item *it)
{
  const CocodataObjectPixels *px = cocodata_assets_object_pixels (gen->assets, it->obj, NULL);
  cairo_surface_t *img;
  double sw, sh;

  if (!px)   /* checked before rendering; unreachable in practice */
    return;
  sw = cairo_image_surface_get_width (px->surface);
  sh = cairo_image_surface_get_height (px->surface);

  draw_contact_shadow (cr, it, 0.35);
  cairo_save (cr);
  item_transform (cr, it, sw + 2 * COCODATA_SHADOW_PAD, sh + 2 * COCODATA_SHADOW_PAD,
                  COCODATA_SHADOW_PAD, it->w * 0.04, it->h * 0.03);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.28);
  cairo_mask_surface (cr, px->shadow, 0, 0);
  cairo_restore (cr);

  img = it->tint >= 0 ? tinted (px->surface, cocodata_colors[it->tint].rgb)
                      : cairo_surface_reference (px->surface);
  cairo_save (cr);
  item_transform (cr, it, sw, sh, 0, 0, 0);
  cairo_set_source_surface (cr, img, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_restore (cr);
  cairo_surface_destroy (img);
}

static void
rounded_rect (cairo_t *cr, double x, double y, double w, double h, double r)
{
  cairo_new_sub_path (cr);
  cairo_arc (cr, x + w - r, y + r, r, -G_PI / 2, 0);
  cairo_arc (cr, x + w - r, y + h - r, r, 0, G_PI / 2);
  cairo_arc (cr, x + r, y + h - r, r, G_PI / 2, G_PI);
  cairo_arc (cr, x + r, y + r, r, G_PI, 1.5 * G_PI);
  cairo_close_path (cr);
}

static void
draw_sign (CocodataGenerator *gen, cairo_t *cr, const Item *it)
{
  CocodataFontAsset *f = g_ptr_array_index (gen->assets->fonts, it->font);
  double tw = cocodata_font_measure (f->font, it->text, it->px);

  draw_contact_shadow (cr, it, 0.25);
  rounded_rect (cr, it->x, it->y, it->w, it->h, it->h * 0.15);
  cairo_set_source_rgb (cr, it->card[0] / 255.0, it->card[1] / 255.0, it->card[2] / 255.0);
  cairo_fill_preserve (cr);
  cairo_set_line_width (cr, MAX (1.0, it->h * 0.04));
  cairo_set_source_rgba (cr, 0, 0, 0, 0.45);
  cairo_stroke (cr);
  cairo_set_source_rgb (cr, it->ink[0] / 255.0, it->ink[1] / 255.0, it->ink[2] / 255.0);
  cocodata_font_draw (f->font, cr, it->text, it->px, it->x + (it->w - tw) / 2,
                      it->y + it->h / 2 + it->px * 0.35);
}

static void
draw_background (CocodataGenerator *gen, cairo_t *cr, const Scene *s, cairo_surface_t *bg)
{
  CocodataBackground *b = g_ptr_array_index (gen->assets->backgrounds, s->bg);
  double S = gen->config.size;
  double bw = cairo_image_surface_get_width (bg), bh = cairo_image_surface_get_height (bg);

  cairo_save (cr);
  if (s->bg_flip)
    {
      cairo_translate (cr, S, 0);
      cairo_scale (cr, -1, 1);
    }
  if (b->texture)
    {
      double k = s->bg_scale * S / 256.0;
      cairo_scale (cr, k, k);
      cairo_translate (cr, -s->bg_x * bw, -s->bg_y * bh);
      cairo_set_source_surface (cr, bg, 0, 0);
      cairo_pattern_set_extend (cairo_get_source (cr), CAIRO_EXTEND_REPEAT);
    }
  else
    {
      /* a square crop of side bg_scale × the short side */
      double side = s->bg_scale * MIN (bw, bh), k = S / side;
      cairo_scale (cr, k, k);
      cairo_translate (cr, -s->bg_x * (bw - side), -s->bg_y * (bh - side));
      cairo_set_source_surface (cr, bg, 0, 0);
      cairo_pattern_set_extend (cairo_get_source (cr), CAIRO_EXTEND_PAD);
    }
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_BILINEAR);
  cairo_paint (cr);
  cairo_restore (cr);
}

static int
compare_draw_order (gconstpointer a, gconstpointer b)
{
  const Item *ia = *(const Item *const *) a, *ib = *(const Item *const *) b;
  return drawn_after (ia, ib) ? 1 : drawn_after (ib, ia) ? -1 : 0;
}

/* Draws the items of s, back to front, over what dst holds. */
static void
render_items (CocodataGenerator *gen, const Scene *s, cairo_surface_t *dst)
{
  cairo_t *cr = cairo_create (dst);
  const Item *order[MAX_ITEMS];

  for (guint i = 0; i < s->n; i++)
    order[i] = &s->items[i];
  qsort (order, s->n, sizeof order[0], compare_draw_order);
  for (guint i = 0; i < s->n; i++)
    {
      if (order[i]->kind == ITEM_OBJECT)
        draw_object (gen, cr, order[i]);
      else
        draw_sign (gen, cr, order[i]);
    }
  cairo_destroy (cr);
  cairo_surface_flush (dst);
}

/* ---- edits ---- */

typedef struct
{
  CocodataEditType     type;
  CocodataLang         lang;
  Scene                src, tgt;
  gint                 edited_src, edited_tgt;   /* item indices or -1 */
  CocodataInstruction  ins;
  guint                variant;
  double               scale;                    /* resize factor */
} Edit;

static gint
nearest_color (const double rgb[3])
{
  gint best = 0;
  double bd = G_MAXDOUBLE;

  for (guint c = 0; c < cocodata_n_colors; c++)
    {
      double d = 0;
      for (int k = 0; k < 3; k++)
        d += (rgb[k] - cocodata_colors[c].rgb[k]) * (rgb[k] - cocodata_colors[c].rgb[k]);
      if (d < bd)
        {
          bd = d;
          best = c;
        }
    }
  return best;
}

/* Chooses how to name item t of s so that nothing else in s fits. */
static gboolean
choose_reference (CocodataGenerator *gen, Edit *e, guint t, CocodataRng *r)
{
  const Scene *s = &e->src;
  const Item *it = &s->items[t];
  const gchar *name = object_at (gen, it->obj)->names[e->lang];
  CocodataRefKind cand[8];
  guint nc = 0, same = 0;
  gboolean left = TRUE, right = TRUE, top = TRUE, bottom = TRUE, big = TRUE, small = TRUE,
           color = it->tint >= 0;
  double S = gen->config.size, margin = 0.12 * S;

  for (guint j = 0; j < s->n; j++)
    {
      const Item *o = &s->items[j];
      if (j == t || o->kind != ITEM_OBJECT ||
          g_strcmp0 (object_at (gen, o->obj)->names[e->lang], name) != 0)
        continue;
      same++;
      left &= it->x + it->w / 2 + margin < o->x + o->w / 2;
      right &= it->x + it->w / 2 > o->x + o->w / 2 + margin;
      top &= it->y + it->h / 2 + margin < o->y + o->h / 2;
      bottom &= it->y + it->h / 2 > o->y + o->h / 2 + margin;
      big &= it->h > 1.3 * o->h;
      small &= it->h * 1.3 < o->h;
      color &= o->tint != it->tint;
    }
  e->ins.object = name;
  e->ins.ref_color = it->tint;
  if (same == 0)
    {
      e->ins.ref = COCODATA_REF_NAME;
      return TRUE;
    }
  if (left) cand[nc++] = COCODATA_REF_LEFT;
  if (right) cand[nc++] = COCODATA_REF_RIGHT;
  if (top) cand[nc++] = COCODATA_REF_TOP;
  if (bottom) cand[nc++] = COCODATA_REF_BOTTOM;
  if (big) cand[nc++] = COCODATA_REF_BIGGER;
  if (small) cand[nc++] = COCODATA_REF_SMALLER;
  if (color) cand[nc++] = COCODATA_REF_COLOR;
  if (nc == 0)
    return FALSE;
  e->ins.ref = cand[rng_below (r, nc)];
  return TRUE;
}

/* Scene with context objects and, when with_target, the item to edit
 * (returned in *target), sometimes with a same-named distractor. */
static gboolean
build_scene (CocodataGenerator *gen, Edit *e, gboolean with_target, guint n_context,
             CocodataRng *r, guint *target)
{
  Scene *s = &e->src;

  memset (s, 0, sizeof *s);
  pick_background (gen, s, r);
  if (with_target)
    {
      guint obj;
      if (!pick_new_object (gen, s, r, &obj) || !add_object (gen, s, obj, ROLE_EDITED, r))
        return FALSE;
      *target = 0;
      if (rng_chance (r, 0.45) && add_object (gen, s, obj, ROLE_DISTRACTOR, r))
        {
          Item *d = &s->items[s->n - 1];
          if (rng_chance (r, 0.35))
            d->tint = rng_below (r, cocodata_n_colors);
          else if (rng_chance (r, 0.2))
            s->items[0].tint = rng_below (r, cocodata_n_colors);
        }
    }
  for (guint i = 0; i < n_context; i++)
    {
      guint obj;
      if (pick_new_object (gen, s, r, &obj))
        add_object (gen, s, obj, ROLE_CONTEXT, r);
    }
  return TRUE;
}

static gboolean
edit_objects (CocodataGenerator *gen, Edit *e, CocodataRng *r)
{
  double S = gen->config.size;
  guint t = 0;
  Item *it;

  if (!build_scene (gen, e, e->type != COCODATA_EDIT_ADD, 1 + rng_below (r, 3), r, &t))
    return FALSE;
  if (e->type != COCODATA_EDIT_ADD && !choose_reference (gen, e, t, r))
    return FALSE;
  e->tgt = e->src;
  e->edited_src = e->type == COCODATA_EDIT_ADD ? -1 : (gint) t;
  e->edited_tgt = e->edited_src;
  it = e->type == COCODATA_EDIT_ADD ? NULL : &e->tgt.items[t];

  switch (e->type)
    {
    case COCODATA_EDIT_REPLACE:
      {
        guint obj;
        double bottom = it->y + it->h, cx = it->x + it->w / 2;
        if (!pick_new_object (gen, &e->src, r, &obj))
          return FALSE;
        it->obj = obj;
        it->tint = -1;
        size_item (gen, it, it->h);
        it->x = cx - it->w / 2;
        it->y = bottom - it->h;
        clamp_into_image (it, S);
        e->ins.new_object = object_at (gen, obj)->names[e->lang];
        break;
      }
    case COCODATA_EDIT_REMOVE:
      memmove (it, it + 1, (e->tgt.n - t - 1) * sizeof *it);
      e->tgt.n--;
      e->edited_tgt = -1;
      break;
    case COCODATA_EDIT_ADD:
      {
        guint obj;
        Item *n;
        if (!pick_new_object (gen, &e->src, r, &obj))
          return FALSE;
        n = add_item (&e->tgt);
        n->kind = ITEM_OBJECT;
        n->role = ROLE_NEW;
        n->obj = obj;
        n->flip = rng_chance (r, 0.5);
        size_item (gen, n, rng_uniform (r, 0.2, 0.3) * S);
        e->ins.place = rng_below (r, COCODATA_N_PLACES);
        place_in_cell (gen, n, e->ins.place, r);
        if (max_overlap (&e->tgt, n, e->tgt.n - 1) > 0.3 || place_of (gen, n) != e->ins.place)
          return FALSE;
        e->ins.new_object = object_at (gen, obj)->names[e->lang];
        e->edited_tgt = e->tgt.n - 1;
        break;
      }
    case COCODATA_EDIT_RECOLOR:
      {
        const CocodataObjectPixels *px = cocodata_assets_object_pixels (gen->assets, it->obj, NULL);
        gint current = it->tint >= 0 ? it->tint : px ? nearest_color (px->mean_rgb) : -1;
        gint c;
        do
          c = rng_below (r, cocodata_n_colors);
        while (c == current);
        it->tint = c;
        e->ins.color = c;
        break;
      }
    case COCODATA_EDIT_RESIZE:
      {
        double bottom = it->y + it->h, cx = it->x + it->w / 2;
        e->ins.bigger = it->h < 0.3 * S ? rng_chance (r, 0.7) : rng_chance (r, 0.3);
        e->scale = e->ins.bigger ? rng_uniform (r, 1.35, 1.7) : rng_uniform (r, 0.5, 0.72);
        it->w *= e->scale;
        it->h *= e->scale;
        if (it->w > 0.75 * S || it->h > 0.75 * S)
          return FALSE;
        it->x = cx - it->w / 2;
        it->y = bottom - it->h;
        clamp_into_image (it, S);
        break;
      }
    case COCODATA_EDIT_MOVE:
      {
        CocodataPlace from = place_of (gen, it);
        double ox = it->x, oy = it->y;
        do
          e->ins.place = rng_below (r, COCODATA_N_PLACES);
        while (e->ins.place == from);
        place_in_cell (gen, it, e->ins.place, r);
        if (hypot (it->x - ox, it->y - oy) < 0.2 * S ||
            place_of (gen, it) != e->ins.place ||
            max_overlap (&e->tgt, it, t) > 0.3)
          return FALSE;
        break;
      }
    default:
      g_return_val_if_reached (FALSE);
    }
  return TRUE;
}

static gboolean
edit_text (CocodataGenerator *gen, Edit *e, CocodataRng *r)
{
  GPtrArray *words = gen->words[e->lang];
  double S = gen->config.size, tw;
  guint fonts[16], nf = 0, dummy;
  CocodataFontAsset *f;
  Item *it;

  if (words->len < 2 || !build_scene (gen, e, FALSE, rng_below (r, 3), r, &dummy))
    return FALSE;
  e->ins.old_text = g_ptr_array_index (words, rng_below (r, words->len));
  do
    e->ins.new_text = g_ptr_array_index (words, rng_below (r, words->len));
  while (e->ins.new_text == e->ins.old_text);
  for (guint i = 0; i < gen->assets->fonts->len && nf < G_N_ELEMENTS (fonts); i++)
    {
      f = g_ptr_array_index (gen->assets->fonts, i);
      if ((f->scripts & (1u << e->lang)) && cocodata_font_covers (f->font, e->ins.old_text) &&
          cocodata_font_covers (f->font, e->ins.new_text))
        fonts[nf++] = i;
    }
  if (nf == 0 || e->src.n >= MAX_ITEMS)
    return FALSE;

  it = add_item (&e->src);
  it->kind = ITEM_SIGN;
  it->role = ROLE_EDITED;
  it->font = fonts[rng_below (r, nf)];
  f = g_ptr_array_index (gen->assets->fonts, it->font);
  it->px = rng_uniform (r, 0.08, 0.13) * S;
  tw = MAX (cocodata_font_measure (f->font, e->ins.old_text, it->px),
            cocodata_font_measure (f->font, e->ins.new_text, it->px));
  if (tw > 0.8 * S)
    {
      it->px *= 0.8 * S / tw;
      tw = 0.8 * S;
    }
  it->w = tw + it->px * 1.2;
  it->h = it->px * 1.6;
  {
    guint8 light = 200 + rng_below (r, 56), hue = rng_below (r, 3);
    for (int c = 0; c < 3; c++)
      {
        it->card[c] = c == (int) hue ? light : light - rng_below (r, 40);
        it->ink[c] = rng_below (r, 90);
      }
  }
  it->text = e->ins.old_text;
  if (!place_randomly (gen, &e->src, it, r))
    return FALSE;
  e->tgt = e->src;
  e->tgt.items[e->src.n - 1].text = e->ins.new_text;
  e->edited_src = e->edited_tgt = e->src.n - 1;
  return TRUE;
}

/* ---- masks and output ---- */

/* Max filter of radius rad along rows then columns (a square dilation). */
static void
dilate (guint8 *m, guint w, guint h, guint rad)
{
  g_autofree guint8 *t = g_malloc ((gsize) w * h);

  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      {
        guint8 v = 0;
        for (guint k = (x > rad ? x - rad : 0); k <= MIN (w - 1, x + rad) && !v; k++)
          v = m[(gsize) y * w + k];
        t[(gsize) y * w + x] = v;
      }
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      {
        guint8 v = 0;
        for (guint k = (y > rad ? y - rad : 0); k <= MIN (h - 1, y + rad) && !v; k++)
          v = t[(gsize) k * w + x];
        m[(gsize) y * w + x] = v;
      }
}

static guint8 *
surface_rgb (cairo_surface_t *s)
{
  int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);
  int stride = cairo_image_surface_get_stride (s);
  const guint8 *data = cairo_image_surface_get_data (s);
  guint8 *out = g_malloc ((gsize) w * h * 3), *o = out;

  for (int y = 0; y < h; y++)
    {
      const guint32 *row = (const guint32 *) (data + (gsize) y * stride);
      for (int x = 0; x < w; x++)
        {
          *o++ = row[x] >> 16;
          *o++ = row[x] >> 8;
          *o++ = row[x];
        }
    }
  return out;
}

static void
add_bbox (JsonBuilder *b, const gchar *name, const Scene *s, gint i)
{
  json_builder_set_member_name (b, name);
  if (i < 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_array (b);
  json_builder_add_int_value (b, (gint64) floor (s->items[i].x));
  json_builder_add_int_value (b, (gint64) floor (s->items[i].y));
  json_builder_add_int_value (b, (gint64) ceil (s->items[i].w));
  json_builder_add_int_value (b, (gint64) ceil (s->items[i].h));
  json_builder_end_array (b);
}

static void
add_raw_json (JsonBuilder *b, const gchar *name, const gchar *text)
{
  JsonNode *node = json_from_string (text, NULL);

  json_builder_set_member_name (b, name);
  if (node)
    json_builder_add_value (b, node);
  else
    json_builder_add_null_value (b);
}

static const gchar *
role_name (ItemRole role)
{
  static const gchar *names[] = { "context", "edited", "distractor", "added" };
  return names[role];
}

/* Index in scene b of the item with serial number it->serial, or -1. */
static gint
find_serial (const Scene *b, guint serial)
{
  for (guint j = 0; j < b->n; j++)
    if (b->items[j].serial == serial)
      return j;
  return -1;
}

static gchar *
metadata_json (CocodataGenerator *gen, const Edit *e, guint64 index, guint attempt,
               double mask_fraction, guint64 changed)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) jg = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  CocodataBackground *bg = g_ptr_array_index (gen->assets->backgrounds, e->src.bg);
  static const gchar *refs[] = { "name", "left", "right", "top", "bottom", "bigger",
                                 "smaller", "color" };
  static const gchar *place_names[] = { "left", "right", "top", "bottom", "center",
                                        "top_left", "top_right", "bottom_left", "bottom_right" };
  const Scene *both[2] = { &e->src, &e->tgt };

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "generator");
  json_builder_add_string_value (b, "cocodata-1");
  json_builder_set_member_name (b, "split");
  json_builder_add_string_value (b, gen->config.split == COCODATA_SPLIT_BENCH ? "bench" : "train");
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, (gint64) gen->config.seed);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, (gint64) index);
  json_builder_set_member_name (b, "attempt");
  json_builder_add_int_value (b, attempt);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, gen->config.size);
  json_builder_set_member_name (b, "background");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "asset");
  json_builder_add_string_value (b, bg->id);
  add_raw_json (b, "source", bg->source_json);
  json_builder_end_object (b);

  /* Every item of either scene once, matched by serial number. */
  json_builder_set_member_name (b, "objects");
  json_builder_begin_array (b);
  for (int which = 0; which < 2; which++)
    for (guint i = 0; i < both[which]->n; i++)
      {
        const Item *it = &both[which]->items[i];
        gint in_src = find_serial (&e->src, it->serial), in_tgt = find_serial (&e->tgt, it->serial);

        if (which == 1 && in_src >= 0)
          continue;
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "role");
        json_builder_add_string_value (b, it->role == ROLE_EDITED && e->type == COCODATA_EDIT_REPLACE
                                          && which == 1 ? "replacement" : role_name (it->role));
        if (it->kind == ITEM_OBJECT)
          {
            const CocodataObject *o = object_at (gen, it->obj);
            const CocodataObject *src_o = in_src >= 0 ? object_at (gen, e->src.items[in_src].obj) : o;
            json_builder_set_member_name (b, "asset");
            json_builder_add_string_value (b, src_o->id);
            json_builder_set_member_name (b, "names");
            json_builder_begin_object (b);
            for (guint l = 0; l < COCODATA_N_LANGS; l++)
              {
                json_builder_set_member_name (b, cocodata_lang_name (l));
                json_builder_add_string_value (b, src_o->names[l]);
              }
            json_builder_end_object (b);
            add_raw_json (b, "source", src_o->source_json);
            if (in_src >= 0 && in_tgt >= 0 && e->tgt.items[in_tgt].obj != e->src.items[in_src].obj)
              {
                const CocodataObject *n = object_at (gen, e->tgt.items[in_tgt].obj);
                json_builder_set_member_name (b, "replaced_by");
                json_builder_begin_object (b);
                json_builder_set_member_name (b, "asset");
                json_builder_add_string_value (b, n->id);
                json_builder_set_member_name (b, "name");
                json_builder_add_string_value (b, n->names[e->lang]);
                add_raw_json (b, "source", n->source_json);
                json_builder_end_object (b);
              }
            json_builder_set_member_name (b, "tint_source");
            if (in_src >= 0 && e->src.items[in_src].tint >= 0)
              json_builder_add_string_value (b, cocodata_colors[e->src.items[in_src].tint].name[0]);
            else
              json_builder_add_null_value (b);
          }
        else
          {
            const CocodataFontAsset *f = g_ptr_array_index (gen->assets->fonts, it->font);
            json_builder_set_member_name (b, "text_source");
            json_builder_add_string_value (b, e->ins.old_text);
            json_builder_set_member_name (b, "text_target");
            json_builder_add_string_value (b, e->ins.new_text);
            json_builder_set_member_name (b, "font");
            json_builder_add_string_value (b, f->id);
            add_raw_json (b, "source", f->source_json);
          }
        add_bbox (b, "bbox_source", &e->src, in_src);
        add_bbox (b, "bbox_target", &e->tgt, in_tgt);
        json_builder_end_object (b);
      }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "edit");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "reference");
  json_builder_add_string_value (b, e->type == COCODATA_EDIT_ADD || e->type == COCODATA_EDIT_TEXT
                                    ? "none" : refs[e->ins.ref]);
  if (e->type == COCODATA_EDIT_ADD || e->type == COCODATA_EDIT_MOVE)
    {
      json_builder_set_member_name (b, "place");
      json_builder_add_string_value (b, place_names[e->ins.place]);
    }
  if (e->type == COCODATA_EDIT_RECOLOR)
    {
      json_builder_set_member_name (b, "color");
      json_builder_add_string_value (b, cocodata_colors[e->ins.color].name[0]);
    }
  if (e->type == COCODATA_EDIT_RESIZE)
    {
      json_builder_set_member_name (b, "scale");
      json_builder_add_double_value (b, round (e->scale * 1000) / 1000);
    }
  json_builder_set_member_name (b, "template");
  json_builder_add_int_value (b, e->variant);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "mask_fraction");
  json_builder_add_double_value (b, round (mask_fraction * 1e5) / 1e5);
  json_builder_set_member_name (b, "changed_pixels");
  json_builder_add_int_value (b, (gint64) changed);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (jg, root);
  return json_generator_to_data (jg, NULL);
}

/* Loads every image the two scenes use; FALSE + error for broken assets. */
static gboolean
load_scene_assets (CocodataGenerator *gen, const Edit *e, cairo_surface_t **bg, GError **error)
{
  const Scene *both[2] = { &e->src, &e->tgt };

  if (!(*bg = cocodata_assets_background_pixels (gen->assets, e->src.bg, error)))
    return FALSE;
  for (int k = 0; k < 2; k++)
    for (guint i = 0; i < both[k]->n; i++)
      if (both[k]->items[i].kind == ITEM_OBJECT &&
          !cocodata_assets_object_pixels (gen->assets, both[k]->items[i].obj, error))
        return FALSE;
  return TRUE;
}

gboolean
cocodata_generate (CocodataGenerator *gen, guint64 index, CocodataSample *out, GError **error)
{
  guint S = gen->config.size, rad = MAX (2, S / 96);
  CocodataRng pick = { cocodata_mix64 (gen->config.seed ^ cocodata_mix64 (index + 1)) };
  CocodataEditType type;
  CocodataLang lang;
  Edit e;

  g_return_val_if_fail (out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  /* Type and language do not depend on the attempt, so retries keep the
   * distribution (and the bench split's balance) intact. */
  if (gen->config.split == COCODATA_SPLIT_BENCH)
    {
      type = gen->types[index % gen->n_types];
      lang = gen->langs[(index / gen->n_types) % gen->n_langs];
    }
  else
    {
      type = pick_type (gen, rng_below (&pick, gen->weight_sum));
      lang = gen->langs[rng_below (&pick, gen->n_langs)];
    }

  for (guint attempt = 0; attempt < MAX_ATTEMPTS; attempt++)
    {
      CocodataRng r = { cocodata_mix64 (pick.s ^ cocodata_mix64 (attempt + 0x5eed)) };
      cairo_surface_t *bg, *src_s, *tgt_s;
      double max_occluded;
      guint8 *mask;
      guint64 changed = 0, masked = 0;
      gboolean ok;

      memset (&e, 0, sizeof e);
      e.type = type;
      e.lang = lang;
      e.ins.type = type;
      e.ins.lang = lang;
      e.variant = rng_below (&r, 4);
      ok = type == COCODATA_EDIT_TEXT ? edit_text (gen, &e, &r) : edit_objects (gen, &e, &r);
      if (!ok)
        {
          g_debug ("sample %" G_GINT64_MODIFIER "u attempt %u: no valid edit", index, attempt);
          continue;
        }
      /* a written word must be readable whole; objects may hide behind others a bit */
      max_occluded = type == COCODATA_EDIT_TEXT ? 0.0 : MAX_OCCLUDED;
      if ((e.edited_src >= 0 && occluded_fraction (&e.src, e.edited_src) > max_occluded) ||
          (e.edited_tgt >= 0 && occluded_fraction (&e.tgt, e.edited_tgt) > max_occluded))
        {
          g_debug ("sample %" G_GINT64_MODIFIER "u attempt %u: edited item occluded", index, attempt);
          continue;
        }
      if (!load_scene_assets (gen, &e, &bg, error))
        return FALSE;

      /* Both scenes are drawn whole, over one drawing of the background
       * they share.  (Redrawing only the changed part of the target under a
       * clip would be cheaper, but cairo rounds clipped compositing
       * differently and the differences would leak into the mask.) */
      src_s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, S, S);
      tgt_s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, S, S);
      {
        cairo_t *cr = cairo_create (src_s);
        draw_background (gen, cr, &e.src, bg);
        cairo_destroy (cr);
        cairo_surface_flush (src_s);
        cairo_surface_flush (tgt_s);
        memcpy (cairo_image_surface_get_data (tgt_s), cairo_image_surface_get_data (src_s),
                (gsize) cairo_image_surface_get_stride (src_s) * S);
        cairo_surface_mark_dirty (tgt_s);
      }
      render_items (gen, &e.src, src_s);
      render_items (gen, &e.tgt, tgt_s);

      mask = g_malloc0 ((gsize) S * S);
      {
        const guint8 *a = cairo_image_surface_get_data (src_s), *b = cairo_image_surface_get_data (tgt_s);
        int stride = cairo_image_surface_get_stride (src_s);
        for (guint y = 0; y < S; y++)
          for (guint x = 0; x < S; x++)
            if ((((const guint32 *) (a + (gsize) y * stride))[x] ^
                 ((const guint32 *) (b + (gsize) y * stride))[x]) & 0xffffff)
              {
                mask[(gsize) y * S + x] = 255;
                changed++;
              }
      }
      dilate (mask, S, S, rad);
      for (gsize p = 0; p < (gsize) S * S; p++)
        masked += mask[p] != 0;

      if (changed < MIN_CHANGED_FRACTION * S * S ||
          masked < MIN_MASK_FRACTION * S * S || masked > MAX_MASK_FRACTION * S * S)
        {
          g_debug ("sample %" G_GINT64_MODIFIER "u attempt %u: %" G_GINT64_MODIFIER "u changed, "
                   "%" G_GINT64_MODIFIER "u masked pixels", index, attempt, changed, masked);
          g_free (mask);
          cairo_surface_destroy (src_s);
          cairo_surface_destroy (tgt_s);
          continue;
        }

      out->width = out->height = S;
      out->source = surface_rgb (src_s);
      out->target = surface_rgb (tgt_s);
      out->mask = mask;
      out->prompt = cocodata_instruction_format (&e.ins, e.variant);
      out->edit_type = type;
      out->lang = g_strdup (cocodata_lang_name (lang));
      out->id = g_strdup_printf ("%s-%08" G_GINT64_MODIFIER "u",
                                 gen->config.split == COCODATA_SPLIT_BENCH ? "bench" : "train",
                                 index);
      out->metadata = metadata_json (gen, &e, index, attempt, (double) masked / ((double) S * S),
                                     changed);
      cairo_surface_destroy (src_s);
      cairo_surface_destroy (tgt_s);
      return TRUE;
    }
  g_set_error (error, COCODATA_ERROR, COCODATA_ERROR_EXHAUSTED,
               "sample %" G_GINT64_MODIFIER "u (%s, %s): no attempt of %d passed the quality "
               "filters; the asset set may be too small", index,
               cocodata_edit_type_name (type), cocodata_lang_name (lang), MAX_ATTEMPTS);
  return FALSE;
}

void
cocodata_sample_clear (CocodataSample *sample)
{
  if (!sample)
    return;
  g_free (sample->source);
  g_free (sample->target);
  g_free (sample->mask);
  g_free (sample->prompt);
  g_free (sample->lang);
  g_free (sample->id);
  g_free (sample->metadata);
  for (guint k = 0; k < sample->n_rejected; k++)
    g_free (sample->rejected[k]);
  g_free (sample->rejected);
  memset (sample, 0, sizeof *sample);
}
