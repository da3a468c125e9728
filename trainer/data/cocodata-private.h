/* libcocodata internals shared between its source files.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef COCODATA_PRIVATE_H
#define COCODATA_PRIVATE_H

#include <cairo.h>
#include <hb.h>

#include "cocodata.h"
#include "image-io.h"

G_BEGIN_DECLS

/* ---- decoded images (image.c) ---- */

/* Decoding is image-io.h's (shared with the `cocoedit` command); these
 * wrappers report its errors in the COCODATA_ERROR domain. */
typedef CocoeditPixels CocodataImage;

void     cocodata_image_clear       (CocodataImage *image);
/* PNG, JPEG or WebP as `want_channels` (0: the file's own). */
gboolean cocodata_image_load        (const gchar   *path,
                                     guint          want_channels,
                                     CocodataImage *image,
                                     GError       **error);
/* Reads only the size from the header. */
gboolean cocodata_image_probe       (const gchar   *path,
                                     guint         *width,
                                     guint         *height,
                                     GError       **error);
/* cocodata_write_png, or with small: slow, best compression. */
gboolean cocodata_write_png_full (const gchar *path, const guint8 *pixels, guint width,
                                  guint height, guint channels, gboolean small,
                                  GError **error);
/* RGBA8 straight → cairo ARGB32 premultiplied. */
cairo_surface_t *cocodata_image_to_surface (const CocodataImage *image);

/* ---- text shaping and drawing (text.c) ---- */

typedef struct _CocodataFont CocodataFont;

CocodataFont *cocodata_font_new     (const gchar  *path,
                                     GError      **error);
void          cocodata_font_free    (CocodataFont *font);
/* TRUE when the font has a glyph for every character of text. */
gboolean      cocodata_font_covers  (CocodataFont *font,
                                     const gchar  *text);
/* Advance width of text at px size. */
double        cocodata_font_measure (CocodataFont *font,
                                     const gchar  *text,
                                     double        px);
/* Draws text with its baseline's left end at (x, y) in the current source. */
void          cocodata_font_draw    (CocodataFont *font,
                                     cairo_t      *cr,
                                     const gchar  *text,
                                     double        px,
                                     double        x,
                                     double        y);

/* ---- assets (assets.c) ---- */

typedef struct
{
  gchar   *id;
  gchar   *names[COCODATA_N_LANGS];
  gchar   *category;
  gchar   *style;
  gchar   *file;          /* absolute path */
  gchar   *source_json;   /* provenance + licence as JSON object text */
  guint    width, height;
  guint64  name_hash;     /* of the English name; picks the split */
} CocodataObject;

typedef struct
{
  gchar   *id;
  gchar   *file;
  gchar   *source_json;
  gboolean texture;       /* tile instead of crop */
  guint64  hash;
} CocodataBackground;

typedef struct
{
  gchar        *id;
  gchar        *file;
  gchar        *source_json;
  guint         scripts;  /* bit set of 1 << CocodataLang it can write */
  CocodataFont *font;
} CocodataFontAsset;

/* Loaded pixels of an object: the image and a blurred alpha for shadows
 * (padded by COCODATA_SHADOW_PAD pixels on each side). */
#define COCODATA_SHADOW_PAD 8
typedef struct
{
  cairo_surface_t *surface;
  cairo_surface_t *shadow;
  double           mean_rgb[3];
} CocodataObjectPixels;

struct _CocodataAssets
{
  gchar              *dir;
  GPtrArray          *objects;       /* CocodataObject* */
  GPtrArray          *backgrounds;   /* CocodataBackground* */
  GPtrArray          *fonts;         /* CocodataFontAsset* */
  GPtrArray          *words[COCODATA_N_LANGS];  /* gchar* */
  GMutex              lock;          /* guards the lazily filled caches below */
  CocodataObjectPixels **object_pixels;
  cairo_surface_t   **background_pixels;
};

guint64 cocodata_hash_str (const gchar *s);
guint64 cocodata_mix64    (guint64 x);

/* Thread-safe, loads on first use; NULL + error for unreadable files. */
const CocodataObjectPixels *cocodata_assets_object_pixels (CocodataAssets *assets,
                                                           guint           i,
                                                           GError        **error);
cairo_surface_t *cocodata_assets_background_pixels (CocodataAssets *assets,
                                                    guint           i,
                                                    GError        **error);

/* ---- instructions (prompts.c) ---- */

typedef enum
{
  COCODATA_PLACE_LEFT, COCODATA_PLACE_RIGHT, COCODATA_PLACE_TOP,
  COCODATA_PLACE_BOTTOM, COCODATA_PLACE_CENTER,
  COCODATA_PLACE_TOP_LEFT, COCODATA_PLACE_TOP_RIGHT,
  COCODATA_PLACE_BOTTOM_LEFT, COCODATA_PLACE_BOTTOM_RIGHT,
  COCODATA_N_PLACES
} CocodataPlace;

typedef enum
{
  COCODATA_REF_NAME,      /* "the cup"                 */
  COCODATA_REF_LEFT,      /* "the cup on the left"     */
  COCODATA_REF_RIGHT,
  COCODATA_REF_TOP,
  COCODATA_REF_BOTTOM,
  COCODATA_REF_BIGGER,    /* "the bigger cup"          */
  COCODATA_REF_SMALLER,
  COCODATA_REF_COLOR,     /* "the red cup" (tinted)    */
} CocodataRefKind;

typedef struct
{
  const gchar *name[COCODATA_N_LANGS];     /* "red", "红色", "赤" */
  const gchar *modifier[COCODATA_N_LANGS]; /* "red", "红色的", "赤い" */
  guint8       rgb[3];
} CocodataColor;

extern const CocodataColor cocodata_colors[];
extern const guint cocodata_n_colors;

/* Column and row (0..2) of a place's cell in a 3×3 grid. */
void   cocodata_place_cell (CocodataPlace place, guint *col, guint *row);

typedef struct
{
  CocodataEditType type;
  CocodataLang     lang;
  const gchar     *object;    /* name of the edited object (lang) */
  CocodataRefKind  ref;
  gint             ref_color; /* colour index for COCODATA_REF_COLOR */
  const gchar     *new_object;
  CocodataPlace    place;
  gint             color;     /* recolour target */
  gboolean         bigger;
  const gchar     *old_text;
  const gchar     *new_text;
} CocodataInstruction;

/* variant picks a paraphrase (taken modulo their number). */
gchar *cocodata_instruction_format (const CocodataInstruction *ins,
                                    guint                      variant);

/* ---- RNG (generator.c) ---- */

typedef struct { guint64 s; } CocodataRng;

G_END_DECLS

#endif /* COCODATA_PRIVATE_H */
