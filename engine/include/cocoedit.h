/* cocoedit.h — the public C API of libcocoedit, the CoCoEdit editing engine.
 *
 * libcocoedit runs an instruction-based, content-consistent image editing
 * model (a rectified-flow, in-context editing transformer of the FLUX.1
 * Kontext family) in-process, on the CPU or a CUDA GPU.  It is what the GIMP
 * plug-in and the `cocoedit` command call; nothing of its C++ core leaks
 * through this header.
 *
 * Conventions
 * - Opaque handles, explicit ownership: what a `*_open`/`*_create` function
 *   returns is released with the matching `*_free`.
 * - Every function that can fail returns a cocoedit_status and, when `err` is
 *   not NULL, fills it with the same code and a message for a person.  No
 *   input makes the library abort, exit, or print to stdout.
 * - A model handle may be used by one thread at a time; distinct handles are
 *   independent.  The library keeps no global state of its own (libtorch's
 *   intra-op thread pool is process-wide: see cocoedit_open_params.n_threads).
 * - Strings are UTF-8.  Masks use 1 = may change (edit region), 0 = keep.
 *
 * Versioning: COCOEDIT_API_VERSION grows when this header changes in a way
 * that is not backwards compatible; parameter structs carry `struct_size` so
 * that fields can be appended without breaking old callers.
 */
#ifndef COCOEDIT_H
#define COCOEDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define COCOEDIT_API __declspec(dllexport)
#elif defined(__GNUC__)
#  define COCOEDIT_API __attribute__((visibility("default")))
#else
#  define COCOEDIT_API
#endif

#define COCOEDIT_API_VERSION 2

/* ---- errors ------------------------------------------------------------ */

typedef enum cocoedit_status {
  COCOEDIT_OK = 0,
  COCOEDIT_ERR_INVALID_ARGUMENT = 1, /* a parameter or input is unusable   */
  COCOEDIT_ERR_IO = 2,               /* a file could not be read or written */
  COCOEDIT_ERR_FORMAT = 3,           /* a config or weights file is malformed
                                        or does not match the config        */
  COCOEDIT_ERR_DEVICE = 4,           /* the requested device is unavailable */
  COCOEDIT_ERR_OUT_OF_MEMORY = 5,
  COCOEDIT_ERR_CANCELLED = 6,        /* the progress callback asked to stop */
  COCOEDIT_ERR_INTERNAL = 7,         /* a bug: please report it             */
} cocoedit_status;

#define COCOEDIT_ERROR_MESSAGE_MAX 512

typedef struct cocoedit_error {
  cocoedit_status code;
  char message[COCOEDIT_ERROR_MESSAGE_MAX];
} cocoedit_error;

/* A short English name of a status ("invalid argument", ...). Never NULL. */
COCOEDIT_API const char *cocoedit_status_name (cocoedit_status status);

/* The library's version, e.g. "0.1.0". */
COCOEDIT_API const char *cocoedit_version (void);

/* ---- images ------------------------------------------------------------ */

typedef enum cocoedit_pixel_format {
  COCOEDIT_RGBA8 = 0,    /* 4 × uint8, straight (not premultiplied) alpha   */
  COCOEDIT_RGBA_F32 = 1, /* 4 × float, nominal range [0, 1], straight alpha */
  COCOEDIT_GRAY8 = 2,    /* 1 × uint8: masks only                           */
  COCOEDIT_GRAY_F32 = 3, /* 1 × float in [0, 1]: masks only                 */
} cocoedit_pixel_format;

/* A view of pixels owned by the caller.  `stride` is the distance in bytes
 * between the starts of two rows (at least width × pixel size). */
typedef struct cocoedit_image {
  int width;
  int height;
  cocoedit_pixel_format format;
  size_t stride;
  void *data;
} cocoedit_image;

/* ---- models -------------------------------------------------------------- */

typedef struct cocoedit_model cocoedit_model;

/* The stages of opening a model and of an edit, in the order they run.  A
 * family reports the ones it has (the project's own models keep every
 * component in one checkpoint: they report LOAD_TRANSFORMER alone). */
typedef enum cocoedit_stage {
  COCOEDIT_STAGE_LOAD_TEXT_ENCODERS = 0, /* tokenizers and text encoders      */
  COCOEDIT_STAGE_LOAD_IMAGE_CODEC = 1,   /* the autoencoder                   */
  COCOEDIT_STAGE_LOAD_TRANSFORMER = 2,   /* the diffusion transformer (+LoRAs) */
  COCOEDIT_STAGE_ENCODE = 3,             /* the instruction and the source    */
  COCOEDIT_STAGE_SAMPLE = 4,             /* the sampler's steps (see progress) */
  COCOEDIT_STAGE_DECODE = 5,             /* latents back to pixels            */
  COCOEDIT_STAGE_COMPOSITE = 6,          /* the result into the output image  */
} cocoedit_stage;

/* Called as each stage begins, on the thread doing the work.  Return false
 * to cancel: the call then returns COCOEDIT_ERR_CANCELLED having freed what
 * it made, and an edit leaves the output untouched. */
typedef bool (*cocoedit_stage_fn) (cocoedit_stage stage, void *user_data);

/* A short English name of a stage ("encode", ...). Never NULL. */
COCOEDIT_API const char *cocoedit_stage_name (cocoedit_stage stage);

typedef enum cocoedit_device {
  COCOEDIT_DEVICE_AUTO = 0, /* CUDA when libtorch sees a GPU, else CPU */
  COCOEDIT_DEVICE_CPU = 1,
  COCOEDIT_DEVICE_CUDA = 2,
} cocoedit_device;

typedef struct cocoedit_open_params {
  size_t struct_size;     /* sizeof (cocoedit_open_params)                  */
  cocoedit_device device;
  int n_threads;          /* CPU threads for libtorch; 0 = all cores       */
  const char *lora_path;  /* optional LoRA safetensors to merge at load    */
  float lora_scale;       /* multiplier of the LoRA delta (default 1)      */
  const char *family;     /* NULL: detected from the files; "cocoedit" or
                             "flux-kontext" to override                    */
  const char *dtype;      /* NULL: as stored (bf16 for FLUX.1 Kontext);
                             "float32" or "bfloat16"                        */
  /* BFL's single files: when the model path is the transformer's
   * .safetensors file (flux1-kontext-dev.safetensors), the other
   * components' files (ae.safetensors, clip_l.safetensors,
   * t5xxl_fp16.safetensors).  A model description file names them instead. */
  const char *vae_path;
  const char *clip_l_path;
  const char *t5xxl_path;
  /* More LoRAs, merged in order after lora_path: n_loras paths and their
   * multipliers (lora_scales NULL: all 1).  FLUX LoRAs may be diffusers/PEFT,
   * kohya or ComfyUI/BFL-named files.                                      */
  const char *const *lora_paths;
  const float       *lora_scales;
  int                n_loras;
  /* Told as each component starts loading; false cancels the open.       */
  cocoedit_stage_fn  stage;
  void              *stage_user_data;
} cocoedit_open_params;

COCOEDIT_API cocoedit_open_params cocoedit_open_default_params (void);

/* Opens the model at `model_dir`, of one of these families (detected from
 * the files, or named by params->family):
 * - "cocoedit": the project's own models, a folder holding `config.json`
 *   and the weights, either `model.safetensors` or shards listed in
 *   `model.safetensors.index.json`;
 * - "flux-kontext": FLUX.1 Kontext [dev] as users download it: the diffusers
 *   folder (`model_index.json`, `transformer/`, `vae/`, `text_encoder/`,
 *   `text_encoder_2/`, `tokenizer/`, `tokenizer_2/`); a model description
 *   file (.json) naming BFL's single files; or the transformer's single
 *   file with params->vae_path, clip_l_path and t5xxl_path.
 * Every header field, offset and shape is checked before any weight is
 * used; a folder that is not complete gets an error naming what is missing. */
COCOEDIT_API cocoedit_status cocoedit_model_open (const char                 *model_dir,
                                                  const cocoedit_open_params *params,
                                                  cocoedit_model            **out_model,
                                                  cocoedit_error             *err);

/* Creates a model from a config file with randomly initialised weights (seeded,
 * reproducible).  Tests and the trainer use it until trained weights exist. */
COCOEDIT_API cocoedit_status cocoedit_model_create_random (const char                 *config_path,
                                                           uint64_t                    seed,
                                                           const cocoedit_open_params *params,
                                                           cocoedit_model            **out_model,
                                                           cocoedit_error             *err);

/* Saves config.json and the weights into `model_dir` (created if needed), in
 * shards of at most `max_shard_bytes` (0 = one file).  Every file is written
 * to a temporary name and renamed, so a failed save leaves the old files. */
COCOEDIT_API cocoedit_status cocoedit_model_save (cocoedit_model *model,
                                                  const char     *model_dir,
                                                  size_t          max_shard_bytes,
                                                  cocoedit_error *err);

COCOEDIT_API void cocoedit_model_free (cocoedit_model *model);

typedef struct cocoedit_model_info {
  char name[128];          /* config "name"                                  */
  char architecture[64];   /* config "architecture"                          */
  char device[128];        /* "cpu (16 threads)" or the GPU's name, and
                              where parts run elsewhere ("; text encoders on
                              the CPU ...") when the GPU is too small        */
  char dtype[16];          /* dtype the weights run in: "float32", ...       */
  int64_t n_parameters;
  int working_size;        /* default working resolution (long side, px)     */
  int patch_size;
  int default_steps;
  float default_guidance;
  bool has_mask_channel;
  char family[32];         /* "cocoedit" or "flux-kontext"                   */
  int n_components;        /* see cocoedit_model_get_component              */
  int64_t memory_weights;  /* bytes the loaded weights take on the device   */
  int64_t memory_edit;     /* estimated peak bytes of one edit at
                              memory_edit_size px (long side)               */
  int memory_edit_size;
} cocoedit_model_info;

typedef struct cocoedit_component_info {
  char role[32];           /* "transformer", "vae", "text_encoder", ...      */
  char kind[32];           /* "flux", "flux-ae", "clip-text", "t5-encoder"   */
  char dtype[16];          /* dtype its weights run in                        */
  int64_t n_parameters;
} cocoedit_component_info;

COCOEDIT_API cocoedit_status cocoedit_model_get_info (const cocoedit_model *model,
                                                      cocoedit_model_info  *info,
                                                      cocoedit_error       *err);

/* The `index`-th loaded component of `model` (0 <= index < n_components). */
COCOEDIT_API cocoedit_status cocoedit_model_get_component (const cocoedit_model     *model,
                                                           int                       index,
                                                           cocoedit_component_info  *info,
                                                           cocoedit_error           *err);

/* ---- editing --------------------------------------------------------------- */

/* Called after every sampler step with the steps done and the total.  Return
 * false to cancel: cocoedit_edit then returns COCOEDIT_ERR_CANCELLED soon and
 * leaves the output untouched.  Called on the thread that runs the edit. */
typedef bool (*cocoedit_progress_fn) (int step, int n_steps, void *user_data);

typedef struct cocoedit_edit_params {
  size_t struct_size;       /* sizeof (cocoedit_edit_params)                  */
  const char *prompt;       /* the instruction, UTF-8, not empty              */
  uint64_t seed;
  /* One convention from the plug-in's dialog down to here: 0 asks for the
   * model's default (steps, guidance, working_size). */
  int steps;                /* sampler steps; 0 = the model's default         */
  float guidance;           /* instruction guidance scale (1 = off); 0 (or
                               less) = the model's default                    */
  float image_guidance;     /* source-image guidance scale (1 = off)          */
  float strength;           /* 1 = start from pure noise; lower values start
                               from the noised source and keep more of it     */
  int working_size;         /* long side of the model's input; 0 = default    */
  int context_margin;       /* pixels of context around the mask's bounding
                               box; <0 = automatic (a quarter of its size)     */
  cocoedit_progress_fn progress;
  void *user_data;          /* handed to progress and stage               */
  cocoedit_stage_fn stage;  /* told as each stage begins; false cancels   */
} cocoedit_edit_params;

COCOEDIT_API cocoedit_edit_params cocoedit_edit_default_params (void);

/* Edits `source` by the instruction.  `mask` (may be NULL: everything may
 * change) has the source's size, format GRAY8 or GRAY_F32, 1 = may change.
 * `output` must have the source's size and format (RGBA8 or RGBA_F32); it may
 * alias the source.  Where the mask is 0 the output is bit-identical to the
 * source; alpha is always the source's.  Memory does not grow with the image
 * beyond the crop around the mask.  Same seed, device and inputs give the
 * same output. */
COCOEDIT_API cocoedit_status cocoedit_edit (cocoedit_model              *model,
                                            const cocoedit_image        *source,
                                            const cocoedit_image        *mask,
                                            const cocoedit_edit_params  *params,
                                            cocoedit_image              *output,
                                            cocoedit_error              *err);

/* ---- regions --------------------------------------------------------------- */

typedef struct cocoedit_rect {
  int x, y, width, height;
} cocoedit_rect;

/* The part of an `image_width` x `image_height` image that an edit reads
 * for a mask whose bounding box is `bounds`: the box grown by
 * `context_margin` pixels on every side (< 0: automatic, a quarter of its
 * long side), clipped to the image.  This is the engine's own rule, so a
 * caller holding a large image (the GIMP plug-in) reads only this part and
 * edits it, with the mask cropped alike and the same context_margin: the
 * result is the same as editing the whole image. */
COCOEDIT_API cocoedit_status cocoedit_context_rect (const cocoedit_rect *bounds,
                                                    int                  image_width,
                                                    int                  image_height,
                                                    int                  context_margin,
                                                    cocoedit_rect       *crop,
                                                    cocoedit_error      *err);

#ifdef __cplusplus
}
#endif

#endif /* COCOEDIT_H */
