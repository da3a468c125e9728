// pipeline.h — the model-family seam.  A Pipeline is one loaded model of
// some family (its weights, on a device) that edits a crop of an image by an
// instruction; the region logic around it (crop, composite, bit-exact
// outside the mask) is the same for every family (edit.cpp).  A new family
// is a new Pipeline implementation and a line in open_pipeline().
//
// A Pipeline holds weights only: every edit's state lives in the call, so one
// loaded model serves any number of edits (preview and apply) in a row.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cocoedit.h"
#include "memory.h"

namespace cocoedit {

struct EditModelImpl;

// Called after every sampler step with (steps done, total); false cancels.
using StepFn = std::function<bool(int, int)>;
// Called as each stage of an open or an edit begins; false cancels.
using StageFn = std::function<bool(cocoedit_stage)>;

// Tells `on_stage` that `stage` begins; throws COCOEDIT_ERR_CANCELLED when it
// says stop.  Families call it at their stage boundaries.
void enter_stage(const StageFn &on_stage, cocoedit_stage stage);

// What one edit asks of a family, already checked by the C API.
struct EditRequest {
  std::string prompt;
  uint64_t seed = 0;
  int steps = 0;             // 0: the family's default
  double guidance = -1.0;    // < 0: the family's default
  double image_guidance = 1.0;
  double strength = 1.0;
  int working_size = 0;      // long side; 0 = the family's default
  int context_margin = -1;   // < 0: a quarter of the mask's bounding box
  StepFn on_step;
  StageFn on_stage;
};

// One loaded component, for `cocoedit info` and the plug-in's model list.
struct ComponentInfo {
  std::string role;    // "transformer", "vae", "text_encoder", ...
  std::string kind;    // "flux", "flux-ae", "clip-text", "t5-encoder", ...
  int64_t n_parameters = 0;
  std::string dtype;   // the dtype its weights run in
};

struct PipelineInfo {
  std::string family;        // "cocoedit" or "flux-kontext"
  std::string name;
  std::string architecture;
  std::string dtype;         // the transformer's running dtype
  int64_t n_parameters = 0;  // all components
  int working_size = 0;      // default long side of the model's input (px)
  int granularity = 1;       // working sizes are multiples of this (px)
  int default_steps = 0;
  double default_guidance = 1.0;
  bool guidance_embedded = false;  // guidance is an input (no CFG passes)
  bool mask_channel = false;
  std::vector<ComponentInfo> components;
  MemoryNeed memory;         // on the device it runs on
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual const PipelineInfo &info() const = 0;
  virtual const at::Device &device() const = 0;
  // Where parts run when not all on device(), for people ("" when they do).
  virtual std::string placement() const { return ""; }

  // Edits `source` ((1,3,h,w) float32 in [0,1], CPU: the crop) where
  // `mask` ((1,1,h,w) float32 in [0,1], CPU) allows; returns the crop's
  // edited pixels at the crop's size, (1,3,h,w) float32 in [0,1] on the
  // CPU.  Throws cocoedit::Error (COCOEDIT_ERR_CANCELLED when on_step said
  // stop).  Requests arrive with steps and guidance already resolved.
  virtual at::Tensor edit(const at::Tensor &source, const at::Tensor &mask, const EditRequest &req) = 0;

  // The project's own model, when this pipeline is one (training, saving,
  // LoRA merging); nullptr for other families.
  virtual EditModelImpl *cocoedit_model() { return nullptr; }
};

// Which family `path` holds: "cocoedit" (config.json with architecture
// cocoedit-kontext), "flux-kontext" (a diffusers FLUX.1 Kontext folder with
// model_index.json, a model description file (.json) or a single
// transformer file (.safetensors)); throws
// COCOEDIT_ERR_FORMAT naming what is missing when it is none of them.
std::string detect_family(const std::string &path);

// A LoRA file to merge at load, and the multiplier of its delta.
struct LoraFile {
  std::string path;
  double scale = 1.0;
};

// How to open a model: its family ("" = detected), the dtype its
// transformer runs in ("" = as stored; "float32", "bfloat16"), LoRAs to
// merge, and, when the path is a single FLUX transformer file, the files of
// the other components (BFL's single-file layout).
struct OpenOptions {
  std::string family;
  std::string dtype;
  std::vector<LoraFile> loras;  // scales already checked finite (cocoedit.cpp)
  std::string vae, clip, t5;
  StageFn on_stage;
};

// Opens the model at `path` on `device`.
std::unique_ptr<Pipeline> open_pipeline(const std::string &path, const OpenOptions &options,
                                        const at::Device &device);

}  // namespace cocoedit
