// cocoedit.cpp — the C API: argument checks, exceptions to status codes,
// devices.  The work itself is in checkpoint.cpp, edit.cpp and below.
#include "cocoedit.h"

#include <glib.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <thread>

#include "checkpoint.h"
#include "cocoedit_pipeline.h"
#include "edit.h"
#include "error.h"
#include "lora.h"
#include "readable_text.h"
#include "region.h"
#include "threads.h"

#ifdef COCOEDIT_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

using namespace cocoedit;

struct cocoedit_model {
  std::unique_ptr<Pipeline> pipe;  // weights only: edits keep their state to themselves
  int n_threads = 1;
  std::string device_name;
};

namespace {

void set_error(cocoedit_error *err, cocoedit_status code, const std::string &message) {
  if (!err) return;
  err->code = code;
  g_strlcpy(err->message, message.c_str(), sizeof err->message);
}

// Runs `body`, turning every exception into a status and message: no input
// may make the library abort or throw across the C boundary.
template <typename F>
cocoedit_status guarded(cocoedit_error *err, F &&body) {
  set_error(err, COCOEDIT_OK, "");
  try {
    body();
    return COCOEDIT_OK;
  } catch (const Error &e) {
    set_error(err, e.code(), e.what());
    return e.code();
  } catch (const std::bad_alloc &) {
    set_error(err, COCOEDIT_ERR_OUT_OF_MEMORY, "out of memory");
    return COCOEDIT_ERR_OUT_OF_MEMORY;
  } catch (const c10::OutOfMemoryError &e) {
    set_error(err, COCOEDIT_ERR_OUT_OF_MEMORY, std::string("out of memory: ") + e.what_without_backtrace());
    return COCOEDIT_ERR_OUT_OF_MEMORY;
  } catch (const c10::Error &e) {
    // libtorch's CPU allocator reports a failed allocation as a plain error
    // ("DefaultCPUAllocator: can't allocate memory: ...").
    const std::string what = e.what_without_backtrace();
    if (what.find("can't allocate memory") != std::string::npos ||
        what.find("not enough memory") != std::string::npos) {
      set_error(err, COCOEDIT_ERR_OUT_OF_MEMORY, "out of memory: " + what);
      return COCOEDIT_ERR_OUT_OF_MEMORY;
    }
    set_error(err, COCOEDIT_ERR_INTERNAL, "libtorch: " + what);
    return COCOEDIT_ERR_INTERNAL;
  } catch (const std::exception &e) {
    set_error(err, COCOEDIT_ERR_INTERNAL, e.what());
    return COCOEDIT_ERR_INTERNAL;
  } catch (...) {
    set_error(err, COCOEDIT_ERR_INTERNAL, "unknown internal error");
    return COCOEDIT_ERR_INTERNAL;
  }
}

// The caller's stage callback as the core's StageFn (empty when none).
StageFn stage_function(cocoedit_stage_fn fn, void *user_data) {
  if (!fn) return {};
  return [fn, user_data](cocoedit_stage s) { return fn(s, user_data); };
}

// Reads the caller's struct, which may be older (smaller) than ours.
template <typename T>
T versioned(const T *given, T defaults, const char *what) {
  if (!given) return defaults;
  if (given->struct_size < sizeof(size_t) || given->struct_size > sizeof(T))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, std::string(what) + ".struct_size is not a size this library knows");
  std::memcpy(&defaults, given, given->struct_size);
  return defaults;
}

at::Device pick_device(cocoedit_device want) {
  const bool cuda = torch::cuda::is_available();
  switch (want) {
    case COCOEDIT_DEVICE_CPU: return at::kCPU;
    case COCOEDIT_DEVICE_CUDA:
      if (!cuda) fail(COCOEDIT_ERR_DEVICE, "CUDA was asked for, but libtorch sees no usable GPU");
      return at::Device(at::kCUDA, 0);
    case COCOEDIT_DEVICE_AUTO: return cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  }
  fail(COCOEDIT_ERR_INVALID_ARGUMENT, "unknown device");
}

std::string describe_device(const at::Device &d, int n_threads) {
  if (d.is_cpu()) return "cpu (" + std::to_string(n_threads) + " threads)";
#ifdef COCOEDIT_HAVE_CUDA
  return std::string(at::cuda::getDeviceProperties(d.index())->name) + " (cuda:" + std::to_string(d.index()) + ")";
#else
  return "cuda:" + std::to_string(d.index());
#endif
}

cocoedit_model *make_model(const cocoedit_open_params &p,
                           const std::function<std::unique_ptr<Pipeline>(const at::Device &)> &build) {
  if (p.n_threads < 0) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "n_threads must be >= 0");
  auto m = std::make_unique<cocoedit_model>();
  const at::Device device = pick_device(p.device);
  m->n_threads = configure_threads(p.n_threads);
  m->pipe = build(device);
  m->device_name = describe_device(device, m->n_threads);
  if (const std::string where = m->pipe->placement(); !where.empty()) m->device_name += "; " + where;
  return m.release();
}

// The LoRAs the caller asked for: lora_path, then lora_paths[0..n_loras).
std::vector<LoraFile> requested_loras(const cocoedit_open_params &p) {
  std::vector<LoraFile> out;
  if (p.lora_path && *p.lora_path) out.push_back({p.lora_path, p.lora_scale});
  if (p.n_loras < 0 || p.n_loras > 64) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "n_loras must be in 0..64");
  if (p.n_loras > 0 && !p.lora_paths) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "n_loras is set but lora_paths is NULL");
  for (int i = 0; i < p.n_loras; i++) {
    if (!p.lora_paths[i] || !*p.lora_paths[i])
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "lora_paths[" + std::to_string(i) + "] is empty");
    out.push_back({p.lora_paths[i], p.lora_scales ? p.lora_scales[i] : 1.0});
  }
  for (const auto &l : out)
    if (!std::isfinite(l.scale)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, l.path + ": the LoRA scale is not finite");
  return out;
}

// The project's own model inside `m`, or an error saying what needs one.
EditModelImpl &own_model(cocoedit_model *m, const char *what) {
  EditModelImpl *net = m->pipe->cocoedit_model();
  if (!net)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, std::string(what) + " works on CoCoEdit models, not on " +
                                            m->pipe->info().family + " models");
  return *net;
}

void require_out(void *out, const char *what) {
  if (!out) fail(COCOEDIT_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL");
}

}  // namespace

extern "C" {

const char *cocoedit_status_name(cocoedit_status status) {
  // A C caller may pass any int: read it as one (loading an out-of-range
  // value as the enum would be undefined in C++).
  int s;
  std::memcpy(&s, &status, sizeof s);
  switch (s) {
    case COCOEDIT_OK: return "ok";
    case COCOEDIT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case COCOEDIT_ERR_IO: return "input/output error";
    case COCOEDIT_ERR_FORMAT: return "bad file format";
    case COCOEDIT_ERR_DEVICE: return "device unavailable";
    case COCOEDIT_ERR_OUT_OF_MEMORY: return "out of memory";
    case COCOEDIT_ERR_CANCELLED: return "cancelled";
    case COCOEDIT_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char *cocoedit_stage_name(cocoedit_stage stage) {
  int s;  // as in cocoedit_status_name
  std::memcpy(&s, &stage, sizeof s);
  switch (s) {
    case COCOEDIT_STAGE_LOAD_TEXT_ENCODERS: return "load text encoders";
    case COCOEDIT_STAGE_LOAD_IMAGE_CODEC: return "load image codec";
    case COCOEDIT_STAGE_LOAD_TRANSFORMER: return "load transformer";
    case COCOEDIT_STAGE_ENCODE: return "encode";
    case COCOEDIT_STAGE_SAMPLE: return "sample";
    case COCOEDIT_STAGE_DECODE: return "decode";
    case COCOEDIT_STAGE_COMPOSITE: return "composite";
  }
  return "unknown stage";
}

const char *cocoedit_version(void) { return COCOEDIT_VERSION_STRING; }

cocoedit_open_params cocoedit_open_default_params(void) {
  cocoedit_open_params p{};
  p.struct_size = sizeof p;
  p.device = COCOEDIT_DEVICE_AUTO;
  p.n_threads = 0;
  p.lora_path = nullptr;
  p.lora_scale = 1.0f;
  p.family = nullptr;
  p.dtype = nullptr;
  p.vae_path = nullptr;
  p.clip_l_path = nullptr;
  p.t5xxl_path = nullptr;
  p.lora_paths = nullptr;
  p.lora_scales = nullptr;
  p.n_loras = 0;
  p.stage = nullptr;
  p.stage_user_data = nullptr;
  return p;
}

cocoedit_status cocoedit_model_open(const char *model_dir, const cocoedit_open_params *params,
                                    cocoedit_model **out_model, cocoedit_error *err) {
  return guarded(err, [&] {
    require_out(out_model, "out_model");
    *out_model = nullptr;
    if (!model_dir || !*model_dir) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "no model directory given");
    auto p = versioned(params, cocoedit_open_default_params(), "open params");
    OpenOptions options;
    options.family = p.family ? p.family : "";
    options.dtype = p.dtype ? p.dtype : "";
    options.loras = requested_loras(p);
    options.vae = p.vae_path ? p.vae_path : "";
    options.clip = p.clip_l_path ? p.clip_l_path : "";
    options.t5 = p.t5xxl_path ? p.t5xxl_path : "";
    options.on_stage = stage_function(p.stage, p.stage_user_data);
    *out_model = make_model(p, [&](const at::Device &d) { return open_pipeline(model_dir, options, d); });
  });
}

cocoedit_status cocoedit_model_create_random(const char *config_path, uint64_t seed,
                                             const cocoedit_open_params *params, cocoedit_model **out_model,
                                             cocoedit_error *err) {
  return guarded(err, [&] {
    require_out(out_model, "out_model");
    *out_model = nullptr;
    if (!config_path || !*config_path) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "no config file given");
    auto p = versioned(params, cocoedit_open_default_params(), "open params");
    const ModelConfig config = config_from_file(config_path);
    if (config.latent())
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, std::string(config_path) + " is a latent-space model: its autoencoder is "
                                          "trained, not random (cocoedit-train ae, then sft with model.autoencoder)");
    const std::vector<LoraFile> loras = requested_loras(p);
    *out_model = make_model(p, [&](const at::Device &d) {
      auto pipe = std::make_unique<CocoeditPipeline>(create_model(config, seed, d), d);
      for (const auto &l : loras) merge_lora_file(*pipe->cocoedit_model(), l.path, l.scale);
      return pipe;
    });
  });
}

cocoedit_status cocoedit_model_save(cocoedit_model *model, const char *model_dir, size_t max_shard_bytes,
                                    cocoedit_error *err) {
  return guarded(err, [&] {
    require_out(model, "model");
    if (!model_dir || !*model_dir) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "no model directory given");
    save_model(own_model(model, "saving"), model_dir, max_shard_bytes);
  });
}

void cocoedit_model_free(cocoedit_model *model) { delete model; }

cocoedit_status cocoedit_model_get_info(const cocoedit_model *model, cocoedit_model_info *info,
                                        cocoedit_error *err) {
  return guarded(err, [&] {
    require_out(const_cast<cocoedit_model *>(model), "model");
    require_out(info, "info");
    const PipelineInfo &c = model->pipe->info();
    std::memset(info, 0, sizeof *info);
    g_strlcpy(info->name, c.name.c_str(), sizeof info->name);
    g_strlcpy(info->architecture, c.architecture.c_str(), sizeof info->architecture);
    g_strlcpy(info->device, model->device_name.c_str(), sizeof info->device);
    g_strlcpy(info->dtype, c.dtype.c_str(), sizeof info->dtype);
    info->n_parameters = c.n_parameters;
    info->working_size = c.working_size;
    info->patch_size = c.granularity;
    info->default_steps = c.default_steps;
    info->default_guidance = static_cast<float>(c.default_guidance);
    info->has_mask_channel = c.mask_channel;
    g_strlcpy(info->family, c.family.c_str(), sizeof info->family);
    info->n_components = static_cast<int>(c.components.size());
    info->memory_weights = c.memory.weights;
    info->memory_edit = c.memory.edit;
    info->memory_edit_size = c.memory.edit_long_side;
  });
}

cocoedit_status cocoedit_model_get_component(const cocoedit_model *model, int index,
                                             cocoedit_component_info *info, cocoedit_error *err) {
  return guarded(err, [&] {
    require_out(const_cast<cocoedit_model *>(model), "model");
    require_out(info, "info");
    const auto &components = model->pipe->info().components;
    if (index < 0 || index >= static_cast<int>(components.size()))
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "component index " + std::to_string(index) + " is out of range (0.." +
                                              std::to_string(components.size()) + ")");
    const ComponentInfo &c = components[static_cast<size_t>(index)];
    std::memset(info, 0, sizeof *info);
    g_strlcpy(info->role, c.role.c_str(), sizeof info->role);
    g_strlcpy(info->kind, c.kind.c_str(), sizeof info->kind);
    g_strlcpy(info->dtype, c.dtype.c_str(), sizeof info->dtype);
    info->n_parameters = c.n_parameters;
  });
}

cocoedit_edit_params cocoedit_edit_default_params(void) {
  cocoedit_edit_params p{};
  p.struct_size = sizeof p;
  p.prompt = nullptr;
  p.seed = 0;
  p.steps = 0;
  p.guidance = 0.0f;
  p.image_guidance = 1.0f;
  p.strength = 1.0f;
  p.working_size = 0;
  p.context_margin = -1;
  p.stage = nullptr;
  return p;
}

cocoedit_status cocoedit_edit(cocoedit_model *model, const cocoedit_image *source, const cocoedit_image *mask,
                              const cocoedit_edit_params *params, cocoedit_image *output, cocoedit_error *err) {
  return guarded(err, [&] {
    require_out(model, "model");
    if (!params) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "params is NULL");
    auto p = versioned(params, cocoedit_edit_default_params(), "edit params");
    check_image(source, false, "the source image");
    check_image(output, false, "the output image");
    if (output->width != source->width || output->height != source->height || output->format != source->format)
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the output image must have the source's size and format");
    if (mask) {
      check_image(mask, true, "the mask");
      if (mask->width != source->width || mask->height != source->height)
        fail(COCOEDIT_ERR_INVALID_ARGUMENT,
             "the mask is " + std::to_string(mask->width) + "x" + std::to_string(mask->height) +
                 " but the image is " + std::to_string(source->width) + "x" + std::to_string(source->height));
    }
    if (!p.prompt) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "no instruction given");
    if (!g_utf8_validate(p.prompt, -1, nullptr)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the instruction is not valid UTF-8");
    gchar *trimmed = g_strstrip(g_strdup(p.prompt));
    const bool empty = *trimmed == '\0';
    g_free(trimmed);
    if (empty) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the instruction is empty");

    const PipelineInfo &c = model->pipe->info();
    check_readable(p.prompt, c.family);
    EditRequest req;
    req.prompt = p.prompt;
    req.seed = p.seed;
    req.steps = p.steps > 0 ? p.steps : c.default_steps;
    if (p.steps < 0 || req.steps > 1000) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "steps must be in 0..1000");
    const double g = p.guidance <= 0 ? c.default_guidance : p.guidance;
    if (!std::isfinite(g) || g > 50 || !std::isfinite(p.image_guidance) || p.image_guidance < 0 ||
        p.image_guidance > 50)
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "guidance scales must be in 0..50");
    req.guidance = g;
    req.image_guidance = p.image_guidance;
    if (!(p.strength > 0.0f && p.strength <= 1.0f)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "strength must be in (0, 1]");
    req.strength = p.strength;
    if (p.working_size != 0 && (p.working_size < c.granularity || p.working_size > 4096))
      fail(COCOEDIT_ERR_INVALID_ARGUMENT,
           "working_size must be 0 or in " + std::to_string(c.granularity) + "..4096");
    req.working_size = p.working_size;
    // A margin beyond the image's size changes nothing (and cannot overflow).
    req.context_margin = std::min(p.context_margin, std::max(source->width, source->height));
    if (p.progress) {
      auto fn = p.progress;
      void *ud = p.user_data;
      req.on_step = [fn, ud](int step, int n) { return fn(step, n, ud); };
      if (!fn(0, req.steps, ud)) fail(COCOEDIT_ERR_CANCELLED, "cancelled");
    }
    req.on_stage = stage_function(p.stage, p.user_data);
    edit_image(*model->pipe, *source, mask, req, *output);
  });
}

cocoedit_status cocoedit_context_rect(const cocoedit_rect *bounds, int image_width, int image_height,
                                      int context_margin, cocoedit_rect *crop, cocoedit_error *err) {
  return guarded(err, [&] {
    if (!bounds) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "bounds is NULL");
    require_out(crop, "crop");
    if (image_width <= 0 || image_height <= 0)
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the image is empty");
    if (bounds->width <= 0 || bounds->height <= 0 || bounds->x < 0 || bounds->y < 0 ||
        bounds->x > image_width - bounds->width || bounds->y > image_height - bounds->height)
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the bounds are empty or not inside the image");
    // A margin beyond the image's size changes nothing (and cannot overflow).
    const int margin = std::min(context_margin, std::max(image_width, image_height));
    const Rect r = expand_rect({bounds->x, bounds->y, bounds->width, bounds->height}, margin, image_width,
                               image_height);
    *crop = {r.x, r.y, r.width, r.height};
  });
}

}  // extern "C"
