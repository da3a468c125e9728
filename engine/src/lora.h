// lora.h — low-rank adapters (LoRA) on the model's linear layers.
//
// A LoRA file is one safetensors file: for every adapted linear layer
// `<module>` it holds `<module>.lora_A` (rank × in) and `<module>.lora_B`
// (out × rank); its metadata records "format" = "cocoedit-lora", "rank",
// "alpha" and "architecture".  The adapted weight is
//   W = W0 + scale · (alpha / rank) · B · A.
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

#include "model.h"

namespace cocoedit {

struct LoraSpec {
  int rank = 32;
  double alpha = 64.0;
  // A transformer linear layer is adapted when its name contains one of
  // these (default: the attention projections, as the CoCoEdit authors do).
  std::vector<std::string> targets = {"attn.qkv", "attn.proj", "linear1", "linear2"};
};

class Lora {
 public:
  // Adds one adapter to every targeted transformer layer of `model`: A
  // (Kaiming-like, seeded) and B (zeros), float32 on the weight's device;
  // the base weights are frozen.  Throws if nothing matched or a target
  // names a layer outside the transformer (the text encoder is not adapted).
  // The adapters live in the layers as long as the model does.
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
    std::string name;
    std::shared_ptr<flux::LinearImpl> layer;
    int slot = 0;  // its index in layer->adapters
  };
  std::vector<Entry> entries_;
  LoraSpec spec_;
  std::string architecture_;
};

// Merges the LoRA file at `path` into `model`'s weights, scaled by `scale`.
// Every adapted layer must exist with matching shapes.
void merge_lora_file(EditModelImpl &model, const std::string &path, double scale);

}  // namespace cocoedit
