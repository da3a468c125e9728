// lora.cpp — see lora.h.
#include "lora.h"

#include <ATen/CPUGeneratorImpl.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <tuple>

#include "error.h"
#include "flux/flux_lora.h"
#include "safetensors.h"

namespace cocoedit {

const std::vector<std::string> kCocoeditLoraTargets = {
    "attn.to_q",       "attn.to_k",       "attn.to_v",       "attn.to_out.0",
    "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out"};

namespace {

// PEFT's rule for a plain target_modules list.
bool targeted(const std::string &module, const std::string &target) {
  return module == target || (module.size() > target.size() &&
                              module.compare(module.size() - target.size(), target.size(), target) == 0 &&
                              module[module.size() - target.size() - 1] == '.');
}

std::string file_key(const std::string &module, const char *part) {
  return "transformer." + module + "." + part + ".weight";
}

// diffusers' lora_adapter_metadata: the LoraConfig fields, prefixed with
// the component they belong to.
std::string adapter_metadata(const LoraSpec &spec) {
  std::unique_ptr<JsonBuilder, decltype(&g_object_unref)> b(json_builder_new(), g_object_unref);
  json_builder_begin_object(b.get());
  json_builder_set_member_name(b.get(), "transformer.lora_alpha");
  json_builder_add_double_value(b.get(), spec.alpha);
  json_builder_set_member_name(b.get(), "transformer.r");
  json_builder_add_int_value(b.get(), spec.rank);
  json_builder_set_member_name(b.get(), "transformer.target_modules");
  json_builder_begin_array(b.get());
  for (const auto &t : spec.targets) json_builder_add_string_value(b.get(), t.c_str());
  json_builder_end_array(b.get());
  json_builder_end_object(b.get());
  std::unique_ptr<JsonGenerator, decltype(&g_object_unref)> gen(json_generator_new(), g_object_unref);
  JsonNode *root = json_builder_get_root(b.get());
  json_generator_set_root(gen.get(), root);
  gchar *text = json_generator_to_data(gen.get(), nullptr);
  std::string out = text;
  g_free(text);
  json_node_unref(root);
  return out;
}

}  // namespace

Lora::Lora(EditModelImpl &model, const LoraSpec &spec, uint64_t seed) : spec_(spec) {
  if (spec.rank < 1) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "LoRA rank must be at least 1");
  if (spec.targets.empty()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the LoRA has no targets");
  std::map<std::string, std::shared_ptr<flux::LinearImpl>> layers;
  for (const auto &item : model.named_modules("", false))
    if (auto lin = std::dynamic_pointer_cast<flux::LinearImpl>(item.value())) layers.emplace(item.key(), lin);

  // Every target checked before any layer changes.
  std::vector<flux::LoraModule> chosen;
  std::map<std::string, int> hits;
  for (const auto &m : flux::lora_modules(transformer_params(model.config))) {
    bool hit = false;
    for (const auto &t : spec.targets)
      if (targeted(m.name, t)) {
        hits[t]++;
        hit = true;
      }
    if (hit) chosen.push_back(m);
  }
  for (const auto &t : spec.targets)
    if (!hits.count(t))
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "LoRA target \"" + t + "\" matches no module of the transformer (targets are "
                                          "diffusers module names such as \"attn.to_q\" or \"attn.to_out.0\"; the "
                                          "text encoders are not adapted)");

  // By layer, then row: each layer's pieces are made in the order the
  // forward joins them.
  std::sort(chosen.begin(), chosen.end(), [](const flux::LoraModule &x, const flux::LoraModule &y) {
    return std::tie(x.slice.bfl_name, x.slice.dst_row) < std::tie(y.slice.bfl_name, y.slice.dst_row);
  });
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double scale = spec.alpha / spec.rank;
  std::map<flux::LinearImpl *, int> slot_of;
  for (const auto &m : chosen) {
    std::string layer_name = m.slice.bfl_name;
    layer_name.erase(layer_name.size() - std::string(".weight").size());
    auto it = layers.find(layer_name);
    if (it == layers.end()) fail(COCOEDIT_ERR_INTERNAL, "LoRA module " + m.name + ": no layer " + layer_name);
    flux::LinearImpl &lin = *it->second;
    auto slot = slot_of.find(&lin);
    if (slot == slot_of.end()) {
      lin.adapters.emplace_back();
      slot = slot_of.emplace(&lin, static_cast<int>(lin.adapters.size()) - 1).first;
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(m.in));
    auto opt = lin.weight.options().dtype(at::kFloat);
    flux::LinearImpl::AdapterPiece p;
    p.a = (at::rand({spec.rank, m.in}, gen) * (2 * bound) - bound).to(opt).set_requires_grad(true);
    p.b = at::zeros({m.slice.rows, spec.rank}, opt).set_requires_grad(true);
    p.scale = scale;
    p.row = m.slice.dst_row;
    auto &ad = lin.adapters[static_cast<size_t>(slot->second)];
    entries_.push_back(Entry{m.name, it->second, slot->second, ad.size()});
    ad.push_back(p);
  }
  for (auto &p : model.parameters()) p.set_requires_grad(false);
}

const flux::LinearImpl::AdapterPiece &Lora::piece(const Entry &e) const {
  return e.layer->adapters[static_cast<size_t>(e.slot)][e.piece];
}

void Lora::activate() {
  for (auto &e : entries_) e.layer->active = e.slot;
}

void Lora::deactivate() {
  for (auto &e : entries_) e.layer->active = -1;
}

std::vector<at::Tensor> Lora::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto &e : entries_) {
    out.push_back(piece(e).a);
    out.push_back(piece(e).b);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Lora::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto &e : entries_) {
    out.emplace_back(file_key(e.module, "lora_A"), piece(e).a);
    out.emplace_back(file_key(e.module, "lora_B"), piece(e).b);
  }
  return out;
}

void Lora::save(const std::string &path) const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto &[n, t] : named_parameters()) tensors.emplace_back(n, t.detach().cpu());
  write_safetensors(path, tensors, at::kFloat, {{"format", "pt"}, {"lora_adapter_metadata", adapter_metadata(spec_)}});
}

void Lora::load(const std::string &path) {
  SafetensorsFile file(path);
  torch::NoGradGuard no_grad;
  for (auto &[name, t] : named_parameters()) {
    const TensorEntry *entry = file.find(name);
    if (!entry) fail(COCOEDIT_ERR_FORMAT, path + ": missing tensor " + name);
    require_weight_dtype(path, *entry);
    at::Tensor v = file.read(*entry).to(at::kFloat);
    if (v.sizes() != t.sizes()) fail(COCOEDIT_ERR_FORMAT, path + ": tensor " + name + " has the wrong shape");
    t.copy_(v);
  }
}

void merge_lora_file(EditModelImpl &model, const std::string &path, double scale) {
  flux::WeightMap weights;
  for (const auto &p : model.named_parameters()) weights.emplace(p.key(), p.value());
  flux::merge_lora(weights, transformer_params(model.config), path, scale);
}

}  // namespace cocoedit
