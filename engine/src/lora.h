// lora.h — low-rank adapters (LoRA) on the model's linear layers.
//
// A LoRA file is one safetensors file: for every adapted linear layer
// `<module>` it holds `<module>.lora_A` (rank × in) and `<module>.lora_B`
// (out × rank); its metadata records "format" = "cocoedit-lora", "rank",
// "alpha" and "architecture".  The adapted weight is
//   W = W0 + scale · (alpha / rank) · B · A.
//
// The engine merges a file into the weights at load time; the trainer
// attaches trainable A, B and recomputes W before every forward, which keeps
// one model definition (no special LoRA layer type).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model.h"

namespace cocoedit {

struct LoraSpec {
  int rank = 32;
  double alpha = 64.0;
  // A linear layer is adapted when its name contains one of these
  // (default: the attention projections, as the CoCoEdit authors do).
  std::vector<std::string> targets = {"attn.qkv", "attn.proj", "linear1", "linear2"};
};

class Lora {
 public:
  // Adds A (Kaiming-like, seeded) and B (zeros) for every targeted layer of
  // `model`; the base weights are frozen.  Throws if nothing matched.
  Lora(EditModelImpl &model, const LoraSpec &spec, uint64_t seed);
  // Puts W0 + (alpha / rank)·B·A into every adapted layer (call before forward).
  void refresh();
  // Puts the plain W0 back (the reference / old policy without adapters).
  void detach();
  std::vector<at::Tensor> parameters() const;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  void save(const std::string &path) const;
  // Loads A and B from a file written by save() (resume).
  void load(const std::string &path);

 private:
  struct Entry {
    std::string name;
    std::shared_ptr<torch::nn::Module> layer;  // keeps `weight` alive
    at::Tensor *weight = nullptr;              // the tensor its forward uses
    at::Tensor w0, a, b;
  };
  std::vector<Entry> entries_;
  LoraSpec spec_;
  std::string architecture_;
};

// Merges the LoRA file at `path` into `model`'s weights, scaled by `scale`.
// Every adapted layer must exist with matching shapes.
void merge_lora_file(EditModelImpl &model, const std::string &path, double scale);

}  // namespace cocoedit
