// flux_lora.cpp — see flux_lora.h.  The name maps are built from the same
// tables the weight readers use (flux_parameter_shapes, diffusers_layout),
// so a module is adaptable exactly when the transformer has it.
#include "flux/flux_lora.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "error.h"
#include "flux/flux_weights.h"
#include "json_config.h"
#include "safetensors.h"

namespace cocoedit {
namespace flux {
namespace {

[[noreturn]] void bad(const std::string &path, const std::string &msg) { fail(COCOEDIT_ERR_FORMAT, path + ": " + msg); }

bool strip_prefix(std::string &s, const std::string &prefix) {
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  s.erase(0, prefix.size());
  return true;
}

bool strip_suffix(std::string &s, const std::string &suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  s.erase(s.size() - suffix.size());
  return true;
}

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// Every adaptable module under each naming → where its delta rows go.
struct ModuleMap {
  std::map<std::string, std::vector<LoraSlice>> slices;
  std::map<std::string, std::vector<int64_t>> shape;  // [out, in] of the module
};

void add_module(ModuleMap &m, const std::string &name, const std::vector<LoraSlice> &s, int64_t out, int64_t in) {
  m.slices[name] = s;
  m.shape[name] = {out, in};
}

// Diffusers modules ("transformer_blocks.0.attn.to_q"), each a row range
// (or two, for norm_out) of a BFL tensor.
ModuleMap diffusers_modules(const FluxParams &params) {
  ModuleMap m;
  std::map<std::string, std::vector<int64_t>> src_shapes;
  std::map<std::string, std::vector<LoraSlice>> by_src;
  for (const auto &src : diffusers_layout(params, &src_shapes)) {
    if (src.bfl_shape.size() != 2) continue;
    int64_t dst = 0;
    for (const auto &p : src.pieces) {
      by_src[p.src].push_back({src.bfl_name, dst, p.src_row, p.rows});
      dst += p.rows;
    }
  }
  for (const auto &kv : by_src) {
    std::string module = kv.first;
    if (!strip_suffix(module, ".weight")) continue;
    const auto &shape = src_shapes.at(kv.first);
    add_module(m, module, kv.second, shape[0], shape[1]);
  }
  return m;
}

ModuleMap module_map(const FluxParams &params) {
  ModuleMap m;
  std::map<std::string, std::vector<int64_t>> bfl_shapes;
  for (const auto &ns : flux_parameter_shapes(params)) bfl_shapes[ns.first] = ns.second;
  // BFL modules, whole: "double_blocks.0.img_attn.qkv", and kohya's
  // "lora_unet_double_blocks_0_img_attn_qkv".
  for (const auto &kv : bfl_shapes) {
    std::string module = kv.first;
    if (kv.second.size() != 2 || !strip_suffix(module, ".weight")) continue;
    const std::vector<LoraSlice> whole = {{kv.first, 0, 0, kv.second[0]}};
    add_module(m, module, whole, kv.second[0], kv.second[1]);
    add_module(m, "lora_unet_" + underscored(module), whole, kv.second[0], kv.second[1]);
  }
  const ModuleMap diffusers = diffusers_modules(params);
  for (const auto &kv : diffusers.slices) {
    const auto &shape = diffusers.shape.at(kv.first);
    add_module(m, kv.first, kv.second, shape[0], shape[1]);
    add_module(m, "lora_transformer_" + underscored(kv.first), kv.second, shape[0], shape[1]);
  }
  return m;
}

enum class Part { down, up, alpha };

// The module and part a tensor name stands for, once the prefixes of the
// formats are taken off; false for a name that is no LoRA tensor.
bool parse_key(const std::string &key, std::string &module, Part &part) {
  module = key;
  struct Suffix { const char *s; Part p; };
  static const Suffix suffixes[] = {
      {".lora_A.weight", Part::down}, {".lora_B.weight", Part::up},     {".lora_down.weight", Part::down},
      {".lora_up.weight", Part::up},  {".lora_A", Part::down},          {".lora_B", Part::up},
      {".alpha", Part::alpha}};
  bool found = false;
  for (const auto &s : suffixes)
    if (strip_suffix(module, s.s)) {
      part = s.p;
      found = true;
      break;
    }
  if (!found) return false;
  for (const char *prefix : {"base_model.model.", "model.diffusion_model.", "diffusion_model.", "transformer."})
    if (strip_prefix(module, prefix)) break;
  return true;
}

// alpha and r recorded for the whole file: diffusers' lora_adapter_metadata,
// this project's metadata, or a PEFT adapter_config.json beside the file.
// Returns alpha / r as the pair (alpha, r), or (0, 0) when none is recorded.
std::pair<double, double> file_alpha(const SafetensorsFile &f, const std::string &path) {
  auto number = [&](JsonObject *o, const char *key) -> double {
    JsonNode *n = json_object_get_member(o, key);
    if (!n || !JSON_NODE_HOLDS_VALUE(n)) return 0.0;
    const GType t = json_node_get_value_type(n);
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) bad(path, std::string("\"") + key + "\" is not a number");
    return json_node_get_double(n);
  };
  auto from_json = [&](const std::string &text, const std::string &origin) -> std::pair<double, double> {
    const JsonConfig j = JsonConfig::from_text(text, origin);
    for (const char *pattern : {"alpha_pattern", "rank_pattern", "transformer.alpha_pattern",
                                "transformer.rank_pattern"}) {
      JsonNode *n = json_object_get_member(j.object(), pattern);
      if (n && JSON_NODE_HOLDS_OBJECT(n) && json_object_get_size(json_node_get_object(n)) > 0)
        bad(origin, std::string("per-module \"") + pattern + "\" is not supported");
    }
    for (const char *prefix : {"", "transformer."}) {
      const double a = number(j.object(), (std::string(prefix) + "lora_alpha").c_str());
      const double r = number(j.object(), (std::string(prefix) + "r").c_str());
      if (a > 0 && r > 0) return {a, r};
    }
    return {0.0, 0.0};
  };
  const auto &md = f.metadata();
  if (auto it = md.find("lora_adapter_metadata"); it != md.end())
    return from_json(it->second, path + " (lora_adapter_metadata)");
  if (auto a = md.find("alpha"), r = md.find("rank"); a != md.end() && r != md.end()) {
    const double av = g_ascii_strtod(a->second.c_str(), nullptr), rv = g_ascii_strtod(r->second.c_str(), nullptr);
    if (!(av > 0) || !(rv > 0) || !std::isfinite(av) || !std::isfinite(rv))
      bad(path, "metadata alpha \"" + a->second + "\" / rank \"" + r->second + "\" are not positive numbers");
    return {av, rv};
  }
  gchar *dir = g_path_get_dirname(path.c_str());
  const std::string config = path_in(dir, "adapter_config.json");
  g_free(dir);
  if (g_file_test(config.c_str(), G_FILE_TEST_IS_REGULAR)) return from_json(read_config_text(config), config);
  return {0.0, 0.0};
}

}  // namespace

std::vector<LoraModule> lora_modules(const FluxParams &params) {
  std::vector<LoraModule> out;
  const ModuleMap m = diffusers_modules(params);
  for (const auto &kv : m.slices) {
    const auto &shape = m.shape.at(kv.first);
    if (kv.second.size() != 1 || kv.second[0].src_row != 0 || kv.second[0].rows != shape[0]) continue;
    out.push_back({kv.first, kv.second[0], shape[1]});
  }
  return out;
}

std::vector<LoraAdapter> read_flux_lora(const std::string &path, const FluxParams &params) {
  params.validate(path);
  const SafetensorsFile f(path);
  return read_flux_lora(f, params);
}

std::vector<LoraAdapter> read_flux_lora(const SafetensorsFile &f, const FluxParams &params) {
  const std::string &path = f.path();
  params.validate(path);
  const ModuleMap modules = module_map(params);
  const auto [file_a, file_r] = file_alpha(f, path);

  std::map<std::string, LoraAdapter> by_module;
  for (const auto &e : f.entries()) {
    std::string module;
    Part part;
    if (!parse_key(e.name, module, part))
      bad(path, "tensor \"" + e.name + "\" is not a LoRA tensor this engine knows (lora_A/lora_B, "
                "lora_down/lora_up, alpha; DoRA and LoKr files are not supported)");
    auto slices = modules.slices.find(module);
    if (slices == modules.slices.end())
      bad(path, "tensor \"" + e.name + "\" adapts \"" + module + "\", which this FLUX transformer does not have "
                "(a LoRA for another model, or for the text encoders?)");
    require_weight_dtype(path, e);
    LoraAdapter &a = by_module[module];
    a.module = module;
    a.slices = slices->second;
    at::Tensor t = f.read(e).to(at::kFloat);
    if (part == Part::alpha) {
      if (t.numel() != 1) bad(path, "tensor \"" + e.name + "\" (alpha) is not a single number");
      a.alpha = t.item<double>();
      if (!std::isfinite(a.alpha) || a.alpha <= 0) bad(path, "tensor \"" + e.name + "\" (alpha) is not positive");
      continue;
    }
    (part == Part::down ? a.down : a.up) = t;
  }
  if (by_module.empty()) bad(path, "holds no LoRA tensors");

  std::vector<LoraAdapter> out;
  for (auto &kv : by_module) {
    LoraAdapter &a = kv.second;
    if (!a.down.defined() || !a.up.defined())
      bad(path, "module \"" + a.module + "\" has " + (a.down.defined() ? "lora_A/down" : "lora_B/up") +
                    " but not its pair");
    const auto &shape = modules.shape.at(a.module);
    const int64_t r = a.down.size(0);
    if (a.down.dim() != 2 || a.up.dim() != 2 || a.down.size(1) != shape[1] || a.up.size(0) != shape[0] ||
        a.up.size(1) != r || r < 1)
      bad(path, "module \"" + a.module + "\": lora_A " + shape_text(a.down.sizes().vec()) + " and lora_B " +
                    shape_text(a.up.sizes().vec()) + " do not fit a [" + std::to_string(shape[0]) + ", " +
                    std::to_string(shape[1]) + "] layer");
    // Per-module alpha (kohya), else the file's alpha at the file's rank,
    // else none: alpha = r, a factor of 1 (what diffusers does).
    if (a.alpha == 0.0) a.alpha = file_a > 0 ? file_a * r / file_r : static_cast<double>(r);
    out.push_back(std::move(a));
  }
  return out;
}

void merge_lora(WeightMap &weights, const FluxParams &params, const std::string &path, double scale) {
  if (!std::isfinite(scale)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, path + ": the LoRA scale is not finite");
  torch::NoGradGuard no_grad;
  for (const LoraAdapter &a : read_flux_lora(path, params)) {
    const at::Tensor delta = at::mm(a.up, a.down) * (scale * a.alpha / static_cast<double>(a.down.size(0)));
    for (const LoraSlice &s : a.slices) {
      auto it = weights.find(s.bfl_name);
      if (it == weights.end()) fail(COCOEDIT_ERR_INTERNAL, "LoRA target " + s.bfl_name + " is not loaded");
      at::Tensor rows = it->second.narrow(0, s.dst_row, s.rows);
      const at::Tensor d = delta.narrow(0, s.src_row, s.rows).to(rows.device());
      rows.copy_(rows.to(at::kFloat) + d);
    }
  }
}

}  // namespace flux
}  // namespace cocoedit
