// readers-model.cpp — weights, LoRA files, configs and the model description
// file (readers.h).
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "ae/ae_config.h"
#include "config.h"
#include "error.h"
#include "flux/flux_lora.h"
#include "flux/flux_weights.h"
#include "kontext_files.h"
#include "readers.h"
#include "safetensors.h"
#include "text/clip_text.h"
#include "text/t5_encoder.h"

namespace cocoedit::fuzz {
namespace {

// The transformer config LoRA modules are checked against (as small as the
// tiny golden folder's).
const char *const kFluxConfig =
    R"({"_class_name":"FluxTransformer2DModel","attention_head_dim":32,"axes_dims_rope":[8,12,12],)"
    R"("guidance_embeds":true,"in_channels":64,"joint_attention_dim":32,"num_attention_heads":2,)"
    R"("num_layers":2,"num_single_layers":2,"out_channels":null,"patch_size":1,"pooled_projection_dim":24})";

std::unique_ptr<SafetensorsFile> safetensors_of(const std::string &in) {
  return SafetensorsFile::from_bytes(reinterpret_cast<const uint8_t *>(in.data()), in.size(), "fuzz");
}

// index/: two shards (tensor "a" F32 [2], tensor "b" BF16 [2, 2]) and
// link.safetensors -> ../outside.safetensors, a valid file outside it.
std::string index_dir() {
  static std::once_flag once;
  static std::string dir;
  std::call_once(once, [] {
    dir = scratch_dir("index");
    write_safetensors(scratch_dir("") + "/outside.safetensors", {{"a", at::zeros({2})}}, at::kFloat, {});
    write_safetensors(dir + "/model-00001-of-00002.safetensors", {{"a", at::zeros({2})}}, at::kFloat, {});
    write_safetensors(dir + "/model-00002-of-00002.safetensors", {{"b", at::zeros({2, 2})}}, at::kBFloat16, {});
    if (symlink("../outside.safetensors", (dir + "/link.safetensors").c_str()) != 0) std::abort();
  });
  return dir;
}

// desc/: the four files a description names (only their presence is read).
std::string description_dir() {
  static std::once_flag once;
  static std::string dir;
  std::call_once(once, [] {
    dir = scratch_dir("desc");
    for (const char *f : {"t.safetensors", "ae.safetensors", "clip.safetensors", "t5.safetensors"})
      write_bytes(dir + "/" + f, "");
  });
  return dir;
}

}  // namespace

void parse_safetensors(const std::string &in) {
  auto f = safetensors_of(in);
  for (const auto &e : f->entries()) f->read(e);  // reading what was accepted must be safe
}

void parse_weight_index(const std::string &in) {
  const std::string dir = index_dir();
  write_bytes(dir + "/model.safetensors.index.json", in);
  const WeightFiles files = open_weight_files(dir, "model");
  for (const auto &kv : files.tensors) kv.second.file->read(*kv.second.entry);
}

void parse_lora(const std::string &in) {
  static const flux::FluxParams p = flux::diffusers_config_from_json(kFluxConfig, "fuzz");
  flux::read_flux_lora(*safetensors_of(in), p);
}

void parse_cocoedit_config(const std::string &in) { config_from_json(in, "fuzz"); }
void parse_flux_config(const std::string &in) { flux::diffusers_config_from_json(in, "fuzz").validate("fuzz"); }
void parse_t5_config(const std::string &in) { t5_config_from_json(in, "fuzz"); }
void parse_clip_config(const std::string &in) { clip_text_config_from_json(in, "fuzz"); }
void parse_ae_config(const std::string &in) { autoencoder_params_from_json(in, "fuzz"); }

void parse_model_description(const std::string &in) {
  const std::string path = description_dir() + "/model.json";
  write_bytes(path, in);
  kontext_description_files(path);
}

}  // namespace cocoedit::fuzz
