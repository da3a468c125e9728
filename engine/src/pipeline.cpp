// pipeline.cpp — family detection and the one place that knows every family.
#include "pipeline.h"

#include <glib.h>

#include "cocoedit_pipeline.h"
#include "kontext_pipeline.h"
#include "error.h"
#include "json_config.h"
#include "lora.h"

namespace cocoedit {
namespace {

bool is_file(const std::string &p) { return g_file_test(p.c_str(), G_FILE_TEST_IS_REGULAR); }

// The string member `key` of the JSON object in `path` ("" when absent).
std::string json_string_member(const std::string &path, const char *key) {
  return JsonConfig::from_file(path).get_string(key, "");
}

}  // namespace

std::string detect_family(const std::string &path) {
  if (g_file_test(path.c_str(), G_FILE_TEST_IS_DIR)) {
    const std::string index = path + "/model_index.json";
    if (is_file(index)) {
      const std::string cls = json_string_member(index, "_class_name");
      if (cls == "FluxKontextPipeline") return "flux-kontext";
      fail(COCOEDIT_ERR_FORMAT, index + " describes a " + (cls.empty() ? "pipeline without a _class_name" : cls) +
                                    "; this engine runs FluxKontextPipeline folders and CoCoEdit models");
    }
    const std::string config = path + "/config.json";
    if (is_file(config)) {
      const std::string arch = json_string_member(config, "architecture");
      if (arch == "cocoedit-kontext") return "cocoedit";
      fail(COCOEDIT_ERR_FORMAT, config + ": architecture \"" + arch +
                                    "\" is not one this engine runs (a CoCoEdit model has \"cocoedit-kontext\")");
    }
    // A missing file, as load_model reports it: an I/O error.
    fail(COCOEDIT_ERR_IO, path + " is not a model folder: it has neither model_index.json (a diffusers "
                                     "FLUX.1 Kontext download) nor config.json (a CoCoEdit model)");
  }
  if (is_file(path)) {
    // A model description file, or BFL's single transformer file.
    if (g_str_has_suffix(path.c_str(), ".json") || g_str_has_suffix(path.c_str(), ".safetensors"))
      return "flux-kontext";
    fail(COCOEDIT_ERR_FORMAT, path + " is a file; give the model folder, a model description (.json) naming "
                                     "the single files of a BFL download, or the transformer's .safetensors file");
  }
  fail(COCOEDIT_ERR_IO, path + ": no such file or folder");
}

void enter_stage(const StageFn &on_stage, cocoedit_stage stage) {
  if (on_stage && !on_stage(stage)) fail(COCOEDIT_ERR_CANCELLED, "cancelled");
}

std::unique_ptr<Pipeline> open_pipeline(const std::string &path, const OpenOptions &options,
                                        const at::Device &device) {
  if (!options.dtype.empty() && options.dtype != "float32" && options.dtype != "bfloat16")
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "dtype \"" + options.dtype + "\" is not float32 or bfloat16");
  const std::string f = options.family.empty() ? detect_family(path) : options.family;
  if (f == "cocoedit") {
    if (options.dtype == "bfloat16")
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "CoCoEdit models run in float32 (bf16 autocast is the trainer's)");
    if (!options.vae.empty() || !options.clip.empty() || !options.t5.empty())
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "separate autoencoder and text-encoder files belong to FLUX.1 Kontext "
                                          "single files, not to a CoCoEdit model");
    enter_stage(options.on_stage, COCOEDIT_STAGE_LOAD_TRANSFORMER);
    auto pipe = open_cocoedit_pipeline(path, device);
    for (const auto &l : options.loras) merge_lora_file(*pipe->cocoedit_model(), l.path, l.scale);
    return pipe;
  }
  if (f == "flux-kontext") {
    const at::ScalarType dtype = options.dtype == "float32"    ? at::kFloat
                                 : options.dtype == "bfloat16" ? at::kBFloat16
                                                               : at::ScalarType::Undefined;
    const bool single = is_file(path) && g_str_has_suffix(path.c_str(), ".safetensors");
    if (!single && (!options.vae.empty() || !options.clip.empty() || !options.t5.empty()))
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, path + " names all its components itself; separate autoencoder and "
                                                 "text-encoder files go with a single transformer file");
    const KontextFiles files = single ? kontext_single_files(path, options.vae, options.clip, options.t5)
                               : is_file(path) ? kontext_description_files(path)
                                               : kontext_folder_files(path);
    return open_kontext_pipeline(files, device, dtype, options.loras, options.on_stage);
  }
  fail(COCOEDIT_ERR_INVALID_ARGUMENT, "unknown model family \"" + f + "\" (known: cocoedit, flux-kontext)");
}

}  // namespace cocoedit
