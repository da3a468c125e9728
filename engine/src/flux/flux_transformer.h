// flux_transformer.h — the FLUX.1 flow transformer exactly as BFL's `Flux`
// (black-forest-labs/flux src/flux/model.py, modules/layers.py, math.py):
// FluxParams, BFL module and parameter names, and the reference's dtype
// handling (weights and activations in the stored dtype; RMSNorm and RoPE in
// float32 and cast back; 1000·t rounded in t's dtype).
//
// The module is built over given tensors, in their dtype (a bf16 file gives
// a bf16 model, with no float32 copy); flux_weights.h reads them from BFL and
// diffusers files.
//
// The project's own model (model.h) is a small configuration of this same
// transformer with its own byte-level text encoder and pixel-patch codec.
#pragma once

#include <torch/nn.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cocoedit {
namespace flux {

// BFL's FluxParams (model.py:17-31), field for field.
struct FluxParams {
  int64_t in_channels = 64;
  int64_t out_channels = 64;
  int64_t vec_in_dim = 768;
  int64_t context_in_dim = 4096;
  int64_t hidden_size = 3072;
  double mlp_ratio = 4.0;
  int64_t num_heads = 24;
  int64_t depth = 19;
  int64_t depth_single_blocks = 38;
  std::vector<int64_t> axes_dim = {16, 56, 56};
  int64_t theta = 10000;
  bool qkv_bias = true;
  bool guidance_embed = true;

  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t mlp_hidden() const { return static_cast<int64_t>(hidden_size * mlp_ratio); }  // int() as BFL
  // Throws COCOEDIT_ERR_FORMAT naming `where` when the sizes cannot form a
  // model (BFL's checks plus bounds that keep a hostile config from
  // allocating absurd tensors).
  void validate(const std::string &where) const;
};

// Named configurations of BFL's util.py: "flux-dev-kontext" (= "flux-dev",
// §1.1 of the design).  Unknown names: COCOEDIT_ERR_INVALID_ARGUMENT.
FluxParams flux_preset(const std::string &name);

// Every BFL parameter name with its shape, in the module order of `Flux`.
std::vector<std::pair<std::string, std::vector<int64_t>>> flux_parameter_shapes(const FluxParams &p);

// ---- modules (names as BFL's, so named_parameters() gives the file keys) --

using WeightMap = std::map<std::string, at::Tensor>;

// nn.Linear over given tensors (no initialisation of its own).
//
// It can carry low-rank adapters beside its weight, unmerged (the trainer's
// LoRA, lora.h).  An adapter is a list of pieces, each adding
// scale·(x·Aᵀ)·Bᵀ to the output rows [row, row + rows of B), in float32:
// one piece over all rows, or one per part of a fused tensor (q, k and v
// of qkv or of linear1, as the diffusers modules split them).  Several
// adapters on one frozen weight let the trainer run its policies on one
// copy of the base; none is active by default, so the reference forward is
// unchanged.
struct LinearImpl : torch::nn::Module {
  LinearImpl(const WeightMap &w, const std::string &prefix, bool bias = true);
  at::Tensor forward(const at::Tensor &x);
  at::Tensor weight, bias;

  struct AdapterPiece {
    at::Tensor a, b;  // (rank, in), (rows, rank)
    double scale = 1.0;
    int64_t row = 0;  // the first output row it adds to
  };
  using Adapter = std::vector<AdapterPiece>;  // sorted by row, disjoint
  std::vector<Adapter> adapters;
  int active = -1;  // index into adapters; −1: the plain weight
};
TORCH_MODULE(Linear);

struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(const WeightMap &w, const std::string &prefix);
  at::Tensor forward(const at::Tensor &x);
  at::Tensor scale;
};
TORCH_MODULE(RMSNorm);

struct QKNormImpl : torch::nn::Module {
  QKNormImpl(const WeightMap &w, const std::string &prefix);
  RMSNorm query_norm{nullptr}, key_norm{nullptr};
};
TORCH_MODULE(QKNorm);

struct MLPEmbedderImpl : torch::nn::Module {
  MLPEmbedderImpl(const WeightMap &w, const std::string &prefix);
  at::Tensor forward(const at::Tensor &x);
  Linear in_layer{nullptr}, out_layer{nullptr};
};
TORCH_MODULE(MLPEmbedder);

struct ModulationImpl : torch::nn::Module {
  ModulationImpl(const WeightMap &w, const std::string &prefix, int64_t multiplier);
  // (shift, scale, gate) × multiplier/3, each (B, 1, hidden).
  std::vector<at::Tensor> forward(const at::Tensor &vec);
  Linear lin{nullptr};
  int64_t multiplier;
};
TORCH_MODULE(Modulation);

struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(const WeightMap &w, const std::string &prefix, bool qkv_bias);
  Linear qkv{nullptr}, proj{nullptr};
  QKNorm norm{nullptr};
};
TORCH_MODULE(SelfAttention);

struct DoubleStreamBlockImpl : torch::nn::Module {
  DoubleStreamBlockImpl(const WeightMap &w, const std::string &prefix, const FluxParams &p);
  // `mask` (B, 1, 1, L) bool, true = attend; the reference passes none.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor &img, const at::Tensor &txt,
                                            const at::Tensor &vec, const at::Tensor &pe,
                                            const std::optional<at::Tensor> &mask = std::nullopt);
  int64_t num_heads;
  Modulation img_mod{nullptr}, txt_mod{nullptr};
  SelfAttention img_attn{nullptr}, txt_attn{nullptr};
  torch::nn::Sequential img_mlp{nullptr}, txt_mlp{nullptr};  // Linear, GELU(tanh), Linear
};
TORCH_MODULE(DoubleStreamBlock);

struct SingleStreamBlockImpl : torch::nn::Module {
  SingleStreamBlockImpl(const WeightMap &w, const std::string &prefix, const FluxParams &p);
  at::Tensor forward(const at::Tensor &x, const at::Tensor &vec, const at::Tensor &pe,
                     const std::optional<at::Tensor> &mask = std::nullopt);
  int64_t hidden_size, num_heads, mlp_hidden;
  Linear linear1{nullptr}, linear2{nullptr};
  QKNorm norm{nullptr};
  Modulation modulation{nullptr};
};
TORCH_MODULE(SingleStreamBlock);

struct LastLayerImpl : torch::nn::Module {
  LastLayerImpl(const WeightMap &w, const std::string &prefix);
  at::Tensor forward(const at::Tensor &x, const at::Tensor &vec);
  Linear linear{nullptr};
  torch::nn::Sequential adaLN_modulation{nullptr};  // SiLU, Linear: the weight sits at "1"
};
TORCH_MODULE(LastLayer);

// Intermediate tensors by the golden vectors' names ("img_in",
// "time_in.input", "double_blocks.0.out0", "single_blocks.1",
// "final_layer.input", "pe_embedder", ...), when asked for.
using FluxTrace = std::map<std::string, at::Tensor>;

struct FluxImpl : torch::nn::Module {
  // `weights` must hold exactly flux_parameter_shapes(params), all of one
  // floating dtype (checked; COCOEDIT_ERR_FORMAT naming `origin`).
  FluxImpl(const FluxParams &params, const WeightMap &weights, const std::string &origin = "weights");

  // BFL's Flux.forward.  img (B, N, in_channels), img_ids (B, N, 3),
  // txt (B, L, context_in_dim), txt_ids (B, L, 3), timesteps (B,), y (B,
  // vec_in_dim), guidance (B,) when the model embeds it.  img, txt and y are
  // taken in the weights' dtype; timesteps and guidance are scaled by 1000 in
  // their own dtype (pass them in the latent dtype, as BFL's denoise does:
  // in bf16 that rounds 2500 to 2496).  Ids are float32.  Returns
  // (B, N, out_channels) in the weights' dtype.
  //
  // `txt_valid` (B, L) bool hides padded text tokens from attention (the
  // project's own byte-level prompts are padded per batch); pass it only
  // when some token is padding.  The reference has no mask, and without one
  // this is exactly its forward.
  at::Tensor forward(const at::Tensor &img, const at::Tensor &img_ids, const at::Tensor &txt,
                     const at::Tensor &txt_ids, const at::Tensor &timesteps, const at::Tensor &y,
                     const std::optional<at::Tensor> &guidance = std::nullopt, FluxTrace *trace = nullptr,
                     const std::optional<at::Tensor> &txt_valid = std::nullopt);

  // The dtype the weights hold now (after any module.to()).
  at::ScalarType dtype() const { return img_in->weight.scalar_type(); }

  FluxParams params;
  // Training only: recompute each block's activations in backward instead of
  // keeping them (recompute.h); less memory for about one more forward.
  bool recompute_blocks = false;
  Linear img_in{nullptr}, txt_in{nullptr};
  MLPEmbedder time_in{nullptr}, vector_in{nullptr}, guidance_in{nullptr};
  torch::nn::ModuleList double_blocks{nullptr}, single_blocks{nullptr};
  LastLayer final_layer{nullptr};
};
TORCH_MODULE(Flux);

// ---- functions of math.py / layers.py --------------------------------------

// layers.py timestep_embedding: t·1000 in t's dtype, cos half first, result
// in t's dtype.
at::Tensor timestep_embedding(const at::Tensor &t, int64_t dim, double max_period = 10000.0,
                              double time_factor = 1000.0);
// BFL's rearrange of a fused qkv projection: (B, L, 3·H·D) → q, k, v
// each (B, H, L, D).
std::vector<at::Tensor> split_qkv(const at::Tensor &qkv, int64_t heads);
// EmbedND: (B, L, 3) float32 ids → (B, 1, L, head_dim/2, 2, 2) float32
// rotation matrices [[cos, −sin], [sin, cos]].
at::Tensor embed_nd(const at::Tensor &ids, const std::vector<int64_t> &axes_dim, int64_t theta);

}  // namespace flux
}  // namespace cocoedit
