// model.h — the CoCoEdit editing model: a rectified-flow, in-context editing
// transformer in the FLUX.1 Kontext style, working on pixel patches.
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
// engine and the trainer (which also uses `named_parameters` for
// checkpoints, so parameter names are the safetensors names).
#pragma once

#include <torch/nn.h>

#include <optional>
#include <string>
#include <vector>

#include "config.h"

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

struct RMSNormImpl : torch::nn::Module {
  explicit RMSNormImpl(int64_t dim);
  at::Tensor forward(const at::Tensor &x);
  at::Tensor scale;
};
TORCH_MODULE(RMSNorm);

// Two-layer MLP with SiLU, the embedder of time, guidance and pooled text.
struct MLPEmbedderImpl : torch::nn::Module {
  MLPEmbedderImpl(int64_t in_dim, int64_t hidden);
  at::Tensor forward(const at::Tensor &x);
  torch::nn::Linear in_layer{nullptr}, out_layer{nullptr};
};
TORCH_MODULE(MLPEmbedder);

// Projections of the adaLN conditioning vector into k (shift, scale, gate) sets.
struct ModulationImpl : torch::nn::Module {
  ModulationImpl(int64_t dim, int64_t n_chunks);
  std::vector<at::Tensor> forward(const at::Tensor &vec);  // each (B, 1, dim)
  torch::nn::Linear lin{nullptr};
  int64_t n_chunks;
};
TORCH_MODULE(Modulation);

struct QKNormImpl : torch::nn::Module {
  explicit QKNormImpl(int64_t head_dim);
  RMSNorm query_norm{nullptr}, key_norm{nullptr};
};
TORCH_MODULE(QKNorm);

struct StreamAttentionImpl : torch::nn::Module {
  StreamAttentionImpl(int64_t dim, int64_t heads);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  QKNorm norm{nullptr};
};
TORCH_MODULE(StreamAttention);

struct FeedForwardImpl : torch::nn::Module {
  FeedForwardImpl(int64_t dim, int64_t hidden);
  at::Tensor forward(const at::Tensor &x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(FeedForward);

// Separate weights for text and image tokens, one joint attention.
struct DoubleStreamBlockImpl : torch::nn::Module {
  DoubleStreamBlockImpl(int64_t dim, int64_t heads, double mlp_ratio);
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor &img, const at::Tensor &txt,
                                            const at::Tensor &vec, const at::Tensor &cos,
                                            const at::Tensor &sin,
                                            const std::optional<at::Tensor> &attn_mask);
  int64_t heads;
  Modulation img_mod{nullptr}, txt_mod{nullptr};
  StreamAttention img_attn{nullptr}, txt_attn{nullptr};
  FeedForward img_mlp{nullptr}, txt_mlp{nullptr};
};
TORCH_MODULE(DoubleStreamBlock);

// One stream over text and image tokens, attention and MLP in parallel.
struct SingleStreamBlockImpl : torch::nn::Module {
  SingleStreamBlockImpl(int64_t dim, int64_t heads, double mlp_ratio);
  at::Tensor forward(const at::Tensor &x, const at::Tensor &vec, const at::Tensor &cos,
                     const at::Tensor &sin, const std::optional<at::Tensor> &attn_mask);
  int64_t dim, heads, mlp_hidden;
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  QKNorm norm{nullptr};
  Modulation modulation{nullptr};
};
TORCH_MODULE(SingleStreamBlock);

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

struct LastLayerImpl : torch::nn::Module {
  LastLayerImpl(int64_t dim, int64_t out_dim);
  at::Tensor forward(const at::Tensor &x, const at::Tensor &vec);
  torch::nn::Linear ada{nullptr}, linear{nullptr};
};
TORCH_MODULE(LastLayer);

// The instruction, encoded once per edit and reused at every step.
struct TextContext {
  at::Tensor tokens;  // (B, L, hidden) after txt_in
  at::Tensor pooled;  // (B, hidden) after vector_in
  at::Tensor valid;   // (B, L) bool
  bool any_padding = false;
};

struct EditModelImpl : torch::nn::Module {
  explicit EditModelImpl(const ModelConfig &config);

  TextContext encode_text(const TextBatch &text);

  // x_t and source: (B, 3, H, W) in [-1, 1]; mask: (B, 1, H, W) in [0, 1]
  // (ignored unless the config has a mask channel; zeros when absent);
  // t: (B,) noise level in [0, 1]; guidance: (B,) when the config has a
  // guidance embedding.  `source` may be absent (the unconditional branch of
  // image guidance).  Returns the velocity (B, 3, H, W).
  at::Tensor forward(const at::Tensor &x_t, const std::optional<at::Tensor> &source,
                     const std::optional<at::Tensor> &mask, const at::Tensor &t,
                     const TextContext &text, const std::optional<at::Tensor> &guidance = std::nullopt);

  // Names and shapes of every parameter: what a checkpoint must hold.
  std::map<std::string, std::vector<int64_t>> parameter_shapes() const;
  int64_t parameter_count() const;
  // Seeded initialisation (DiT-style: small output layer, zero-gated blocks
  // would make a random model's output trivial, so gates stay random).
  void init_weights(uint64_t seed);

  ModelConfig config;
  // Training only: recompute each block's activations in backward instead of
  // keeping them (recompute.h); less memory for about one more forward.
  bool recompute_blocks = false;
  torch::nn::Linear img_in{nullptr}, txt_in{nullptr};
  MLPEmbedder time_in{nullptr}, vector_in{nullptr}, guidance_in{nullptr};
  TextEncoder text_encoder{nullptr};
  torch::nn::ModuleList double_blocks{nullptr}, single_blocks{nullptr};
  LastLayer final_layer{nullptr};
};
TORCH_MODULE(EditModel);

// Sinusoidal embedding of t ∈ [0, 1] (scaled by 1000, as FLUX does).
at::Tensor timestep_embedding(const at::Tensor &t, int64_t dim);

// (B, C, H, W) → (B, H/p·W/p, C·p·p) and back.
at::Tensor patchify(const at::Tensor &x, int64_t p);
at::Tensor unpatchify(const at::Tensor &tokens, int64_t p, int64_t channels, int64_t h, int64_t w);

}  // namespace cocoedit
