// clip_text.h — the CLIP text model (transformers' CLIPTextModel, as BFL's
// HFEmbedder runs it for FLUX): token + position embeddings, pre-LayerNorm
// blocks of causal self-attention and a quick-GELU MLP, a final LayerNorm.
// Outputs last_hidden_state [batch, length, hidden] and the pooled output
// [batch, hidden], the final hidden state at the end-of-text token (no
// projection: CLIPTextModel, not ...WithProjection).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cocoedit {

struct ClipTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t max_position_embeddings = 77;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // or "gelu" (erf)
  // transformers' default.  Configs written before transformers PR #24773
  // (openai/clip-vit-large-patch14's among them) carry 2, which means "pool
  // at the largest id", where CLIP's end-of-text token (49407) sits.
  int64_t eos_token_id = 49407;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  void validate(const std::string &origin) const;
};

ClipTextConfig clip_text_config_from_json(const std::string &text, const std::string &origin);
ClipTextConfig clip_text_config_from_file(const std::string &path);
// openai/clip-vit-large-patch14's text model (FLUX's CLIP-L, clip_l.safetensors).
ClipTextConfig clip_vit_l14_config();

struct ClipTextOutput {
  at::Tensor last_hidden_state;  // [batch, length, hidden], after final_layer_norm
  at::Tensor pooled;             // [batch, hidden] (transformers' pooler_output)
};

class ClipTextModel {
 public:
  // `weights`: HF CLIPTextModel names on the model's device (see load_clip_text).
  ClipTextModel(const ClipTextConfig &config, std::map<std::string, at::Tensor> weights);

  // ids: [batch, length <= max_position_embeddings] integer token ids (BFL
  // pads to 77 with 49407 and passes no attention mask).  dtype: compute
  // dtype (kBFloat16 as BFL runs it, kFloat, kHalf); weights are cast per use.
  ClipTextOutput forward(const at::Tensor &ids, at::ScalarType dtype = at::kBFloat16) const;

  // The position the pooled output is taken from, per batch row: the first
  // eos_token_id, or with eos_token_id 2 the first largest id (transformers'
  // two rules).  A row without the token pools position 0, as transformers does.
  at::Tensor pooled_positions(const at::Tensor &ids) const;

  const ClipTextConfig &config() const { return config_; }
  at::Device device() const { return token_embedding_.device(); }
  // Elements of the held weights.
  int64_t parameter_count() const;
  // The dtype the checkpoint stores (that of the token embedding).
  at::ScalarType stored_dtype() const { return token_embedding_.scalar_type(); }

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
    at::Tensor ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
  };
  ClipTextConfig config_;
  at::Tensor token_embedding_, position_embedding_;
  std::vector<Layer> layers_;
  at::Tensor final_ln_w_, final_ln_b_;
};

// Loads a component folder: config.json plus model.safetensors (or shards).
// Weights keep their stored dtype and are moved to `device` once.
std::unique_ptr<ClipTextModel> load_clip_text(const std::string &dir, at::Device device = at::kCPU);
// Same with a config in hand and `weights` a folder or one .safetensors file.
std::unique_ptr<ClipTextModel> load_clip_text(const ClipTextConfig &config, const std::string &weights,
                                              at::Device device = at::kCPU);

}  // namespace cocoedit
