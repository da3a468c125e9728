// t5_encoder.h — the T5 v1.1 encoder (transformers' T5EncoderModel, as BFL's
// HFEmbedder runs it for FLUX): token embedding, pre-RMSNorm blocks of
// self-attention with a relative position bias (computed in block 0 and
// shared by all blocks, no 1/sqrt(d) scaling) and a gated-GELU MLP, then a
// final RMSNorm.  Output: last_hidden_state [batch, length, d_model].
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cocoedit {

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 0;
  int64_t d_kv = 0;
  int64_t d_ff = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj;  // only "gated-gelu" (T5 v1.1)
  bool pytorch_tanh_gelu = false;  // dense_act_fn "gelu_pytorch_tanh" instead of "gelu_new"

  int64_t inner_dim() const { return num_heads * d_kv; }
  // Throws COCOEDIT_ERR_FORMAT naming `origin` and the first bad field.
  void validate(const std::string &origin) const;
};

// A HF T5 config.json (text or file) to a validated T5Config.
T5Config t5_config_from_json(const std::string &text, const std::string &origin);
T5Config t5_config_from_file(const std::string &path);
// google/t5-v1_1-xxl's encoder (FLUX's T5, t5xxl_fp16.safetensors).
T5Config t5_v1_1_xxl_config();

// T5Attention._relative_position_bucket: the bucket of each relative position
// (key − query) of an int64 tensor; bidirectional splits the buckets in two
// halves by sign.
at::Tensor t5_relative_position_bucket(const at::Tensor &relative_position, bool bidirectional,
                                       int64_t num_buckets, int64_t max_distance);

class T5Encoder {
 public:
  // `weights`: HF T5EncoderModel names, already checked against the config
  // (see load_t5_encoder) and on the model's device.
  T5Encoder(const T5Config &config, std::map<std::string, at::Tensor> weights);

  // ids: [batch, length] integer token ids.  dtype: the compute dtype,
  // kBFloat16 (BFL: the weights as bf16) or kFloat (weights upcast per use);
  // the stored weights are never converted in place.  mask: optional
  // [batch, length] of 1 (attend) / 0 (padding); BFL passes none.
  // Returns last_hidden_state [batch, length, d_model] in `dtype`.
  at::Tensor forward(const at::Tensor &ids, at::ScalarType dtype = at::kBFloat16,
                     const at::Tensor &mask = at::Tensor()) const;

  // compute_bias of block 0: [1, heads, query_length, key_length] in `dtype`.
  at::Tensor position_bias(int64_t query_length, int64_t key_length, at::ScalarType dtype) const;

  const T5Config &config() const { return config_; }
  at::Device device() const { return shared_.device(); }
  // Elements of the held weights (the tied embed_tokens copy not counted).
  int64_t parameter_count() const;
  // The dtype the checkpoint stores (that of shared.weight).
  at::ScalarType stored_dtype() const { return shared_.scalar_type(); }

 private:
  struct Block {
    at::Tensor attn_norm, q, k, v, o;
    at::Tensor ff_norm, wi_0, wi_1, wo;
  };
  at::Tensor rms_norm(const at::Tensor &x, const at::Tensor &weight, at::ScalarType dtype) const;
  at::Tensor gelu(const at::Tensor &x) const;

  T5Config config_;
  at::Tensor shared_;               // [vocab, d_model]
  at::Tensor relative_attention_bias_;  // [buckets, heads]
  std::vector<Block> blocks_;
  at::Tensor final_norm_;
};

// Loads a component folder: config.json plus model.safetensors or a sharded
// model.safetensors.index.json.  Weights keep their stored dtype and are
// moved to `device` once.  Throws cocoedit::Error naming the file.
std::unique_ptr<T5Encoder> load_t5_encoder(const std::string &dir, at::Device device = at::kCPU);
// Same with a config in hand and `weights` a folder or one .safetensors file.
std::unique_ptr<T5Encoder> load_t5_encoder(const T5Config &config, const std::string &weights,
                                           at::Device device = at::kCPU);

}  // namespace cocoedit
