/* libcocodata: synthetic image-editing data and dataset loaders.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One sample is a source image, an instruction, an edit mask (255 = edit
 * region, 0 = keep; GIMP's selection convention) and, where known, the target
 * image, plus metadata (a JSON object: objects, bounding boxes, asset
 * provenance and licences).
 *
 * Generator: objects with names in English, Simplified Chinese and Japanese
 * (Tux Paint stamps, 3D emoji) are placed on photographs and textures; one
 * local edit (replace, remove, add, recolor, resize, move, text) is applied to
 * the scene description and both scenes are rendered, so the target equals
 * the source outside the mask bit for bit.  cocodata_generate() is a pure
 * function of (assets, config, index): call it from any number of threads
 * with distinct CocodataSample structs, in any order, endlessly.
 *
 * Loaders: this project's manifest.jsonl, CoCoEdit-40K's metadata.jsonl
 * (white = keep there; inverted on load) and the masked GEdit-Bench /
 * ImgEdit-Bench layout (<id>.png, <id>_mask.png, instructions.jsonl).
 * See docs/data.md for the on-disk formats.
 *
 * All functions report failures through GError (domain COCODATA_ERROR) and
 * never abort on bad input.
 */
#ifndef COCODATA_H
#define COCODATA_H

#include <glib.h>

G_BEGIN_DECLS

#define COCODATA_ERROR (cocodata_error_quark ())
GQuark cocodata_error_quark (void);

typedef enum
{
  COCODATA_ERROR_IO,          /* a file could not be read or written      */
  COCODATA_ERROR_FORMAT,      /* a file's contents are malformed          */
  COCODATA_ERROR_INVALID,     /* a record or argument is invalid          */
  COCODATA_ERROR_ASSETS,      /* the asset catalogue cannot serve a request */
  COCODATA_ERROR_EXHAUSTED,   /* no sample passed the quality filters     */
} CocodataError;

typedef enum
{
  COCODATA_EDIT_REPLACE,
  COCODATA_EDIT_REMOVE,
  COCODATA_EDIT_ADD,
  COCODATA_EDIT_RECOLOR,
  COCODATA_EDIT_RESIZE,
  COCODATA_EDIT_MOVE,
  COCODATA_EDIT_TEXT,
  COCODATA_N_EDIT_TYPES,
  COCODATA_EDIT_UNKNOWN = COCODATA_N_EDIT_TYPES  /* loaded data without a type */
} CocodataEditType;

typedef enum
{
  COCODATA_LANG_EN,
  COCODATA_LANG_ZH,   /* Simplified Chinese */
  COCODATA_LANG_JA,
  COCODATA_N_LANGS
} CocodataLang;

typedef enum
{
  COCODATA_SPLIT_TRAIN,
  COCODATA_SPLIT_BENCH   /* CoCoBench: assets disjoint from train, balanced */
} CocodataSplit;

/* "replace", ..., "text"; "unknown" for COCODATA_EDIT_UNKNOWN. */
const gchar *cocodata_edit_type_name   (CocodataEditType type);
/* Returns FALSE for names that are not edit types ("unknown" is accepted). */
gboolean     cocodata_edit_type_parse  (const gchar      *name,
                                        CocodataEditType *type);
const gchar *cocodata_lang_name        (CocodataLang      lang);
gboolean     cocodata_lang_parse       (const gchar      *name,
                                        CocodataLang     *lang);

/* ------------------------------------------------------------------ */
/* Samples                                                             */

typedef struct
{
  guint            width;
  guint            height;
  guint8          *source;    /* RGB8, width * height * 3, row-major      */
  guint8          *target;    /* RGB8 like source, or NULL when unknown   */
  guint8          *mask;      /* GRAY8, width * height, 255 = edit region */
  gchar           *prompt;    /* UTF-8 instruction                        */
  CocodataEditType edit_type;
  gchar           *lang;      /* "en", "zh", "ja", other tags, or ""      */
  gchar           *id;        /* record id, unique within a dataset       */
  gchar           *metadata;  /* JSON object text, "{}" when none         */
  /* A preference record (the GIMP plug-in's kept choices): the target is
   * the candidate the user chose, these the ones shown beside it and not
   * chosen (RGB8 like source); NULL and 0 otherwise.
   */
  guint8         **rejected;
  guint            n_rejected;
} CocodataSample;

/* A zeroed CocodataSample is empty; clear frees its contents and zeroes it. */
void cocodata_sample_clear (CocodataSample *sample);

/* ------------------------------------------------------------------ */
/* Assets (made by tools/gather-assets)                                */

typedef struct _CocodataAssets CocodataAssets;

/* asset_dir holds catalogue.json (the cache of tools/gather-assets or an
 * unpacked bundle); NULL means the default cache directory
 * ($COCOEDIT_CACHE_DIR/assets or ~/.cache/cocoedit/assets).  Images are
 * decoded lazily and kept; the object is thread-safe. */
CocodataAssets *cocodata_assets_open       (const gchar    *asset_dir,
                                            GError        **error);
void            cocodata_assets_free       (CocodataAssets *assets);
guint           cocodata_assets_n_objects  (CocodataAssets *assets);
guint           cocodata_assets_n_backgrounds (CocodataAssets *assets);
guint           cocodata_assets_n_fonts    (CocodataAssets *assets);
/* The default asset directory; free with g_free(). */
gchar          *cocodata_assets_default_dir (void);

/* ------------------------------------------------------------------ */
/* Generator                                                           */

typedef struct
{
  guint         size;        /* square side in pixels, 64..2048; default 256 */
  CocodataSplit split;       /* default COCODATA_SPLIT_TRAIN                   */
  guint         edit_types;  /* bit set of 1 << CocodataEditType; 0 = all      */
  guint         type_weights[COCODATA_N_EDIT_TYPES];
                             /* train split: how often each chosen type is
                              * drawn, relative to the others (0 counts as
                              * 1; all 1: equally often, the same draws as
                              * without weights); the bench stays balanced */
  guint         langs;       /* bit set of 1 << CocodataLang; 0 = all          */
  guint64       seed;        /* default 0; the bench split uses its own fixed
                              * seed (COCODATA_BENCH_SEED) unless nonzero     */
} CocodataGenConfig;

#define COCODATA_BENCH_SEED G_GUINT64_CONSTANT (20260214)

void cocodata_gen_config_init (CocodataGenConfig *config);

typedef struct _CocodataGenerator CocodataGenerator;

/* The generator keeps a reference to assets, which must outlive it. */
CocodataGenerator *cocodata_generator_new  (CocodataAssets          *assets,
                                            const CocodataGenConfig *config,
                                            GError                 **error);
void               cocodata_generator_free (CocodataGenerator       *gen);

/* Fills out (which must be empty or cleared) with sample `index`.  Same
 * (assets, config, index) → same sample, bit for bit.  In the bench split,
 * index i has edit type (i mod T) and language ((i / T) mod L) over the
 * enabled types and languages, so any multiple of T·L is balanced. */
gboolean cocodata_generate (CocodataGenerator *gen,
                            guint64            index,
                            CocodataSample    *out,
                            GError           **error);

/* ------------------------------------------------------------------ */
/* Datasets on disk                                                    */

typedef enum
{
  COCODATA_FORMAT_AUTO,
  COCODATA_FORMAT_MANIFEST,     /* manifest.jsonl (this project)            */
  COCODATA_FORMAT_COCOEDIT40K,  /* metadata.jsonl; masks white = keep       */
  COCODATA_FORMAT_MASKED_BENCH, /* instructions.jsonl + <id>.png + <id>_mask.png */
} CocodataFormat;

gboolean     cocodata_format_parse (const gchar *name, CocodataFormat *format);
const gchar *cocodata_format_name  (CocodataFormat format);

typedef struct _CocodataDataset CocodataDataset;

/* path: a dataset directory or its index file.  Every record is checked
 * when opening (fields, edit type, paths inside the directory, files
 * present, image/mask/target sizes agree, from the image headers).  A bad
 * record fails the open with an error naming file and line, unless
 * skip_bad, in which case it is left out and listed by
 * cocodata_dataset_problems(). */
CocodataDataset *cocodata_dataset_open     (const gchar     *path,
                                            CocodataFormat   format,
                                            gboolean         skip_bad,
                                            GError         **error);
void             cocodata_dataset_free     (CocodataDataset *ds);
gsize            cocodata_dataset_size     (CocodataDataset *ds);
CocodataFormat   cocodata_dataset_format   (CocodataDataset *ds);
/* NULL-terminated; one message per skipped record. */
const gchar *const *cocodata_dataset_problems (CocodataDataset *ds);
/* Decodes record i into out (empty or cleared).  Thread-safe. */
gboolean         cocodata_dataset_get      (CocodataDataset *ds,
                                            gsize            i,
                                            CocodataSample  *out,
                                            GError         **error);

/* ------------------------------------------------------------------ */
/* Writing                                                             */

/* Writes an RGB8 (channels 3), RGBA8 (4) or GRAY8 (1) PNG with fast
 * compression, atomically (temporary file + rename). */
gboolean cocodata_write_png (const gchar  *path,
                             const guint8 *pixels,
                             guint         width,
                             guint         height,
                             guint         channels,
                             GError      **error);

/* Writes <dir>/<stem>.png, <stem>_mask.png and, when present,
 * <stem>_target.png, and returns the manifest.jsonl record (one line, no
 * newline) whose paths are relative to dataset_dir; subdir and stem must be
 * plain names (they are not checked). */
gchar   *cocodata_sample_save (const CocodataSample *sample,
                               const gchar          *dataset_dir,
                               const gchar          *subdir,
                               const gchar          *stem,
                               GError              **error);

G_END_DECLS

#endif /* COCODATA_H */
