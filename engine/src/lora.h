// lora.h — low-rank adapters (LoRA) on the transformer's linear layers.
//
// Adapters are named as diffusers names the transformer's modules
// ("transformer_blocks.0.attn.to_q", "single_transformer_blocks.3.attn.to_k")
// and live on BFL's fused layers as row ranges (to_q/to_k/to_v are three
// parts of qkv or of linear1): a target list is PEFT's target_modules (a
// module is adapted when its name is a target or ends with "." + target).
// The adapted module computes W = W0 + (alpha / rank) · B · A.
//
// save() writes a diffusers LoRA file (`transformer.<module>.lora_A.weight`
// [rank, in], `.lora_B.weight` [out, rank], alpha and rank in the
// `lora_adapter_metadata` JSON), the format diffusers' load_lora_weights,
// ComfyUI, stable-diffusion.cpp and this engine (flux_lora.h) read.
//
// The engine merges a file into the weights at load time.  The trainer
// attaches trainable A, B to the transformer's linear layers as unmerged
// adapters (flux::LinearImpl): several Lora objects on one model are
// several adapters on one frozen base, and activate() picks the one the
// forward runs with (deactivate(): the base itself).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lora_targets.h"
#include "model.h"

namespace cocoedit {

struct LoraSpec {
  int rank = 32;
  double alpha = 64.0;
  std::vector<std::string> targets = kCocoeditLoraTargets;
};

class Lora {
 public:
  // Adds one adapter to every targeted module of `model`'s transformer: A
  // (Kaiming-like, seeded) and B (zeros), float32 on the weight's device;
  // the base weights are frozen.  Throws if a target matches no module
  // (the text encoder is not adapted).  The adapters live in the layers as
  // long as the model does.
  Lora(EditModelImpl &model, const LoraSpec &spec, uint64_t seed);
  // Makes these adapters the ones the model's forward (and a recomputing
  // backward) uses.
  void activate();
  // Switches every adapter of these layers off (theirs and any other
  // Lora's on the same layers): the forward is the base's.
  void deactivate();
  std::vector<at::Tensor> parameters() const;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  void save(const std::string &path) const;
  // Loads A and B from a file written by save() (resume).
  void load(const std::string &path);

 private:
  struct Entry {
    std::string module;  // diffusers name
    std::shared_ptr<flux::LinearImpl> layer;
    int slot = 0;   // this Lora's adapter in layer->adapters
    size_t piece = 0;  // the module's piece of it
  };
  const flux::LinearImpl::AdapterPiece &piece(const Entry &e) const;
  std::vector<Entry> entries_;
  LoraSpec spec_;
};

// Merges the LoRA file at `path` (any format flux_lora.h reads: diffusers,
// PEFT, kohya, ComfyUI, this project's older files) into `model`'s
// weights, scaled by `scale`.  Every adapted module must exist with
// matching shapes.
void merge_lora_file(EditModelImpl &model, const std::string &path, double scale);

}  // namespace cocoedit
