// lora.cpp — see lora.h.
#include "lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>

#include "error.h"
#include "safetensors.h"

namespace cocoedit {

namespace {

// A linear layer by name: the transformer's flux::Linear or the text
// encoder's torch::nn::Linear, both computing x·weightᵀ + bias.
struct LinearRef {
  std::shared_ptr<torch::nn::Module> module;
  at::Tensor *weight;
};

std::map<std::string, LinearRef> linear_layers(EditModelImpl &model) {
  std::map<std::string, LinearRef> out;
  for (const auto &item : model.named_modules("", false)) {
    if (auto lin = std::dynamic_pointer_cast<flux::LinearImpl>(item.value()))
      out.emplace(item.key(), LinearRef{lin, &lin->weight});
    else if (auto tlin = std::dynamic_pointer_cast<torch::nn::LinearImpl>(item.value()))
      out.emplace(item.key(), LinearRef{tlin, &tlin->weight});
  }
  return out;
}

double meta_number(const std::map<std::string, std::string> &meta, const std::string &key,
                   const std::string &path) {
  auto it = meta.find(key);
  if (it == meta.end()) fail(COCOEDIT_ERR_FORMAT, path + ": LoRA metadata lacks \"" + key + "\"");
  char *end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end != '\0' || !std::isfinite(v) || v <= 0)
    fail(COCOEDIT_ERR_FORMAT, path + ": LoRA metadata \"" + key + "\" is not a positive number");
  return v;
}

}  // namespace

Lora::Lora(EditModelImpl &model, const LoraSpec &spec, uint64_t seed)
    : spec_(spec), architecture_(model.config.architecture) {
  if (spec.rank < 1) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "LoRA rank must be at least 1");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double scale = spec.alpha / spec.rank;
  // Every target checked before any layer changes.
  std::vector<std::pair<std::string, std::shared_ptr<flux::LinearImpl>>> targets;
  for (auto &[name, layer] : linear_layers(model)) {
    bool hit = false;
    for (const auto &t : spec.targets) hit = hit || name.find(t) != std::string::npos;
    if (!hit) continue;
    auto lin = std::dynamic_pointer_cast<flux::LinearImpl>(layer.module);
    if (!lin)
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "LoRA target matches " + name +
                                              ", which is not a transformer layer (only the transformer is adapted)");
    targets.emplace_back(name, lin);
  }
  for (auto &[name, lin] : targets) {
    const at::Tensor &w = lin->weight;
    const int64_t out = w.size(0), in = w.size(1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    auto opt = w.options().dtype(at::kFloat);
    flux::LinearImpl::Adapter ad;
    ad.a = (at::rand({spec.rank, in}, gen) * (2 * bound) - bound).to(opt).set_requires_grad(true);
    ad.b = at::zeros({out, spec.rank}, opt).set_requires_grad(true);
    ad.scale = scale;
    lin->adapters.push_back(ad);
    entries_.push_back(Entry{name, lin, static_cast<int>(lin->adapters.size()) - 1});
  }
  if (entries_.empty()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "no linear layer matches the LoRA targets");
  for (auto &p : model.parameters()) p.set_requires_grad(false);
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
    const auto &ad = e.layer->adapters[static_cast<size_t>(e.slot)];
    out.push_back(ad.a);
    out.push_back(ad.b);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Lora::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto &e : entries_) {
    const auto &ad = e.layer->adapters[static_cast<size_t>(e.slot)];
    out.emplace_back(e.name + ".lora_A", ad.a);
    out.emplace_back(e.name + ".lora_B", ad.b);
  }
  return out;
}

void Lora::save(const std::string &path) const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto &[n, t] : named_parameters()) tensors.emplace_back(n, t.detach().cpu());
  write_safetensors(path, tensors, at::kFloat,
                    {{"format", "cocoedit-lora"},
                     {"rank", std::to_string(spec_.rank)},
                     {"alpha", std::to_string(spec_.alpha)},
                     {"architecture", architecture_}});
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
  SafetensorsFile file(path);
  const auto &meta = file.metadata();
  auto fmt = meta.find("format");
  if (fmt == meta.end() || fmt->second != "cocoedit-lora")
    fail(COCOEDIT_ERR_FORMAT, path + ": not a CoCoEdit LoRA file (metadata \"format\" is not \"cocoedit-lora\")");
  auto arch = meta.find("architecture");
  if (arch != meta.end() && arch->second != model.config.architecture)
    fail(COCOEDIT_ERR_FORMAT, path + ": LoRA for architecture \"" + arch->second + "\", model is \"" +
                                  model.config.architecture + "\"");
  const double rank = meta_number(meta, "rank", path), alpha = meta_number(meta, "alpha", path);
  auto layers = linear_layers(model);
  torch::NoGradGuard no_grad;
  int merged = 0;
  for (const auto &entry : file.entries()) {
    const std::string suffix = ".lora_A";
    if (entry.name.size() <= suffix.size() || entry.name.compare(entry.name.size() - suffix.size(), suffix.size(), suffix))
      continue;
    const std::string base = entry.name.substr(0, entry.name.size() - suffix.size());
    auto it = layers.find(base);
    if (it == layers.end()) fail(COCOEDIT_ERR_FORMAT, path + ": the model has no linear layer " + base);
    const TensorEntry *eb = file.find(base + ".lora_B");
    if (!eb) fail(COCOEDIT_ERR_FORMAT, path + ": " + base + ".lora_A has no lora_B");
    require_weight_dtype(path, entry);
    require_weight_dtype(path, *eb);
    at::Tensor a = file.read(entry).to(at::kFloat), b = file.read(*eb).to(at::kFloat);
    at::Tensor &w = *it->second.weight;
    if (a.dim() != 2 || b.dim() != 2 || a.size(0) != b.size(1) || b.size(0) != w.size(0) || a.size(1) != w.size(1))
      fail(COCOEDIT_ERR_FORMAT, path + ": LoRA shapes of " + base + " do not fit the layer");
    w.add_(at::mm(b, a).to(w.device()), scale * alpha / rank);
    merged++;
  }
  if (merged == 0) fail(COCOEDIT_ERR_FORMAT, path + ": holds no lora_A/lora_B pairs");
}

}  // namespace cocoedit
