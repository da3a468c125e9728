// model.h — the CoCoEdit editing model: a small configuration of the FLUX.1
// transformer (flux/flux_transformer.h) working on pixel patches, with a
// byte-level text encoder of its own.
//
//   text bytes ──► TextEncoder ──► txt tokens, pooled vector
//   t (and guidance) ──► timestep embedding ─┐
//   pooled ──────────────────────────────────┴► vec (adaLN conditioning)
//   [noisy target ⊕ mask] patches ┐
//   [source       ⊕ mask] patches ┴► img tokens (target first, then source)
//   txt + img ──► double-stream blocks ──► single-stream blocks ──► target
//   tokens only ──► final layer ──► velocity v = ε − x0 per pixel
//
// Rotary position embeddings run over (image index, row, column): 0 for the
// target, 1 for the source, text at (0, 0, 0).  One definition serves the
// engine, the trainer and FLUX.1 Kontext (which runs the same flux::Flux);
// `named_parameters` are the safetensors names.
#pragma once

#include <torch/nn.h>

#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "flux/flux_transformer.h"
#include "image_codec.h"

namespace cocoedit {

// Instructions as model input: UTF-8 bytes behind a start token, padded.
struct TextBatch {
  at::Tensor tokens;  // (B, L) int64: 0..255 bytes, kPad, kStart
  at::Tensor valid;   // (B, L) bool: false on padding
};

constexpr int64_t kTextPad = 256;
constexpr int64_t kTextStart = 257;
constexpr int64_t kTextVocab = 258;

// Truncates at a character boundary so that no byte of a cut character is fed.
TextBatch tokenize(const std::vector<std::string> &prompts, int max_bytes);

// Two-layer MLP with tanh-GELU (the byte-level text encoder's feed-forward).
struct FeedForwardImpl : torch::nn::Module {
  FeedForwardImpl(int64_t dim, int64_t hidden);
  at::Tensor forward(const at::Tensor &x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(FeedForward);

// A small pre-LN transformer over instruction bytes.
struct TextEncoderImpl : torch::nn::Module {
  explicit TextEncoderImpl(const ModelConfig &c);
  // Returns (tokens (B, L, text_hidden), pooled (B, text_hidden)).
  std::pair<at::Tensor, at::Tensor> forward(const TextBatch &text);
  torch::nn::Embedding byte_embed{nullptr};
  at::Tensor pos_embed;
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  int64_t heads;
};
TORCH_MODULE(TextEncoder);

struct TextEncoderLayerImpl : torch::nn::Module {
  TextEncoderLayerImpl(int64_t dim, int64_t heads);
  at::Tensor forward(const at::Tensor &x, const std::optional<at::Tensor> &attn_mask);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  FeedForward mlp{nullptr};
  int64_t heads;
};
TORCH_MODULE(TextEncoderLayer);

// The instruction, encoded once per edit and reused at every step: the
// transformer's `txt` and `y` inputs.
struct TextContext {
  at::Tensor tokens;  // (B, L, text_hidden)
  at::Tensor pooled;  // (B, text_hidden)
  at::Tensor valid;   // (B, L) bool
  bool any_padding = false;
};

// The FLUX transformer shape of a cocoedit-kontext config: pixel patches
// (with the mask channel) in and out, the byte encoder's width as context
// and pooled vector, RoPE over the config's non-zero axes.  Validates `c`.
flux::FluxParams transformer_params(const ModelConfig &c);

// The transformer is flux::Flux itself (BFL module and parameter names); this
// adds the text encoder (parameters "text_encoder.*") and the pixel-patch
// image codec around it.  Parameters are trainable; inference runs under
// no-grad guards.
struct EditModelImpl : flux::FluxImpl {
  explicit EditModelImpl(const ModelConfig &config);

  TextContext encode_text(const TextBatch &text);

  // x_t and source: (B, C, H, W) in the codec's space (pixels: RGB in
  // [-1, 1]); mask: (B, 1, H, W) in [0, 1] at that size (codec.mask)
  // (ignored unless the config has a mask channel; zeros when absent);
  // t: (B,) noise level in [0, 1]; guidance: (B,) when the config has a
  // guidance embedding.  `source` may be absent (the unconditional branch of
  // image guidance).  Returns the velocity (B, C, H, W).
  at::Tensor forward(const at::Tensor &x_t, const std::optional<at::Tensor> &source,
                     const std::optional<at::Tensor> &mask, const at::Tensor &t,
                     const TextContext &text, const std::optional<at::Tensor> &guidance = std::nullopt);

  // Names and shapes of every parameter: what a checkpoint must hold.
  std::map<std::string, std::vector<int64_t>> parameter_shapes() const;
  int64_t parameter_count() const;
  // Seeded initialisation (DiT-style: small output layer, zero-gated blocks
  // would make a random model's output trivial, so gates stay random).
  void init_weights(uint64_t seed);

  // The shape in the codec's space of B pictures of H×W pixels; throws
  // COCOEDIT_ERR_INVALID_ARGUMENT unless H and W are multiples of
  // pixels_per_token().
  std::vector<int64_t> space_shape(int64_t B, int64_t H, int64_t W) const;
  int64_t pixels_per_token() const { return config.patch_size * codec.factor(); }
  // Target tokens of an H×W picture.
  int64_t token_count(int64_t H, int64_t W) const { return (H / pixels_per_token()) * (W / pixels_per_token()); }

  ModelConfig config;
  TextEncoder text_encoder{nullptr};
  // Pixels, or the model's frozen autoencoder (not among the parameters:
  // trained by its own stage, saved in its own subfolder).
  ImageCodec codec;

 private:
  EditModelImpl(const ModelConfig &config, const flux::FluxParams &transformer);
};
TORCH_MODULE(EditModel);

// Checkpoints of format_version 1 named the transformer's MLPs fc1/fc2 and
// the final modulation "ada"; the BFL name of `name` in such a file.
std::string legacy_parameter_name(const std::string &name);

// (B, C, H, W) → (B, H/p·W/p, C·p·p) and back.
at::Tensor patchify(const at::Tensor &x, int64_t p);
at::Tensor unpatchify(const at::Tensor &tokens, int64_t p, int64_t channels, int64_t h, int64_t w);

}  // namespace cocoedit
