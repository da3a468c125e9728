// t5_encoder.cpp — the T5 v1.1 encoder with transformers' dtype behaviour
// (see t5_encoder.h).  Every op follows modeling_t5.py in order, so bf16
// rounding happens where it happens in the reference.
#include "text/t5_encoder.h"

#include <cmath>

#include "error.h"
#include "text/hf_component.h"

namespace cocoedit {

using textenc::JsonConfig;

// ---- config -------------------------------------------------------------------

void T5Config::validate(const std::string &o) const {
  auto require = [&](bool ok, const std::string &what) {
    if (!ok) fail(COCOEDIT_ERR_FORMAT, o + ": " + what);
  };
  require(vocab_size >= 2 && vocab_size <= (1 << 22), "vocab_size must be in 2..4194304");
  require(d_model >= 1 && d_model <= 65536, "d_model must be in 1..65536");
  require(d_kv >= 1 && d_kv <= 4096, "d_kv must be in 1..4096");
  require(d_ff >= 1 && d_ff <= 262144, "d_ff must be in 1..262144");
  require(num_layers >= 1 && num_layers <= 256, "num_layers must be in 1..256");
  require(num_heads >= 1 && num_heads <= 1024, "num_heads must be in 1..1024");
  require(inner_dim() <= 262144, "num_heads * d_kv must be at most 262144");
  // Bidirectional: half the buckets per sign, half of those exact.
  require(relative_attention_num_buckets >= 4 && relative_attention_num_buckets <= 4096,
          "relative_attention_num_buckets must be in 4..4096");
  require(relative_attention_max_distance > relative_attention_num_buckets / 4 &&
              relative_attention_max_distance <= (1 << 20),
          "relative_attention_max_distance must exceed relative_attention_num_buckets / 4 and be at most 1048576");
  require(layer_norm_epsilon > 0 && layer_norm_epsilon < 1, "layer_norm_epsilon must be in (0, 1)");
  require(feed_forward_proj == "gated-gelu",
          "feed_forward_proj \"" + feed_forward_proj + "\" is not supported (T5 v1.1 uses \"gated-gelu\")");
}

T5Config t5_config_from_json(const std::string &text, const std::string &origin) {
  JsonConfig j = JsonConfig::from_text(text, origin);
  const std::string model_type = j.get_string("model_type", "t5");
  if (model_type != "t5")
    fail(COCOEDIT_ERR_FORMAT, origin + ": model_type \"" + model_type + "\" is not a T5 encoder (\"t5\")");
  T5Config c;
  c.vocab_size = j.get_int("vocab_size", c.vocab_size);
  c.d_model = j.require_int("d_model");
  c.d_kv = j.require_int("d_kv");
  c.d_ff = j.require_int("d_ff");
  c.num_layers = j.require_int("num_layers");
  c.num_heads = j.require_int("num_heads");
  c.relative_attention_num_buckets = j.get_int("relative_attention_num_buckets", c.relative_attention_num_buckets);
  c.relative_attention_max_distance = j.get_int("relative_attention_max_distance", c.relative_attention_max_distance);
  c.layer_norm_epsilon = j.get_double("layer_norm_epsilon", c.layer_norm_epsilon);
  // transformers' default is "relu" (the original T5), which is refused.
  c.feed_forward_proj = j.get_string("feed_forward_proj", "relu");
  // T5Config derives dense_act_fn ("gated-gelu" -> "gelu_new") and
  // is_gated_act from feed_forward_proj, but explicit keys in config.json
  // override them, so they are honoured here too.
  if (!j.get_bool("is_gated_act", true))
    fail(COCOEDIT_ERR_FORMAT, origin + ": is_gated_act false is not supported (T5 v1.1 is gated)");
  const std::string act = j.get_string("dense_act_fn", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    fail(COCOEDIT_ERR_FORMAT, origin + ": dense_act_fn \"" + act +
                                  "\" is not supported (\"gelu_new\" or \"gelu_pytorch_tanh\")");
  c.pytorch_tanh_gelu = act == "gelu_pytorch_tanh";
  c.validate(origin);
  return c;
}

T5Config t5_v1_1_xxl_config() {
  T5Config c;
  c.d_model = 4096;
  c.d_kv = 64;
  c.d_ff = 10240;
  c.num_layers = 24;
  c.num_heads = 64;
  c.feed_forward_proj = "gated-gelu";
  return c;
}

T5Config t5_config_from_file(const std::string &path) {
  return t5_config_from_json(textenc::read_config_text(path), path);
}

// ---- relative position buckets -------------------------------------------------

at::Tensor t5_relative_position_bucket(const at::Tensor &relative_position, bool bidirectional,
                                       int64_t num_buckets, int64_t max_distance) {
  at::Tensor rel = relative_position;
  at::Tensor buckets = at::zeros_like(rel);
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (rel > 0).to(at::kLong) * num_buckets;
    rel = rel.abs();
  } else {
    rel = -at::minimum(rel, at::zeros_like(rel));
  }
  // Half the buckets are exact; the rest grow logarithmically up to
  // max_distance.  fp32 log as in the reference, so the table matches it.
  const int64_t max_exact = num_buckets / 2;
  at::Tensor is_small = rel < max_exact;
  at::Tensor large = (at::log(rel.to(at::kFloat) / max_exact) /
                      std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)) *
                      static_cast<double>(num_buckets - max_exact))
                         .to(at::kLong) +
                     max_exact;
  large = at::minimum(large, at::full_like(large, num_buckets - 1));
  return buckets + at::where(is_small, rel, large);
}

// ---- model ------------------------------------------------------------------

namespace {

std::string block_key(int64_t i, const char *rest) {
  return "encoder.block." + std::to_string(i) + "." + rest;
}

textenc::WeightSpec t5_weight_spec(const T5Config &c) {
  textenc::WeightSpec s;
  const int64_t D = c.d_model, I = c.inner_dim(), F = c.d_ff;
  s.required["shared.weight"] = {c.vocab_size, D};
  s.required[block_key(0, "layer.0.SelfAttention.relative_attention_bias.weight")] = {
      c.relative_attention_num_buckets, c.num_heads};
  for (int64_t i = 0; i < c.num_layers; i++) {
    s.required[block_key(i, "layer.0.layer_norm.weight")] = {D};
    for (const char *p : {"q", "k", "v"})
      s.required[block_key(i, (std::string("layer.0.SelfAttention.") + p + ".weight").c_str())] = {I, D};
    s.required[block_key(i, "layer.0.SelfAttention.o.weight")] = {D, I};
    s.required[block_key(i, "layer.1.layer_norm.weight")] = {D};
    s.required[block_key(i, "layer.1.DenseReluDense.wi_0.weight")] = {F, D};
    s.required[block_key(i, "layer.1.DenseReluDense.wi_1.weight")] = {F, D};
    s.required[block_key(i, "layer.1.DenseReluDense.wo.weight")] = {D, F};
  }
  s.required["encoder.final_layer_norm.weight"] = {D};
  // The tied copy of shared.weight that some exports keep.
  s.ignored.insert("encoder.embed_tokens.weight");
  return s;
}

at::Tensor take(const std::map<std::string, at::Tensor> &w, const std::string &name) {
  return textenc::take_weight(w, name, "T5 encoder");
}

}  // namespace

T5Encoder::T5Encoder(const T5Config &config, std::map<std::string, at::Tensor> w) : config_(config) {
  config_.validate("T5 encoder config");
  // The loader checked shapes already; a direct caller gets the same check.
  textenc::check_weight_shapes(t5_weight_spec(config_), w, "T5 encoder");

  shared_ = take(w, "shared.weight");
  relative_attention_bias_ = take(w, block_key(0, "layer.0.SelfAttention.relative_attention_bias.weight"));
  for (int64_t i = 0; i < config_.num_layers; i++) {
    Block b;
    b.attn_norm = take(w, block_key(i, "layer.0.layer_norm.weight"));
    b.q = take(w, block_key(i, "layer.0.SelfAttention.q.weight"));
    b.k = take(w, block_key(i, "layer.0.SelfAttention.k.weight"));
    b.v = take(w, block_key(i, "layer.0.SelfAttention.v.weight"));
    b.o = take(w, block_key(i, "layer.0.SelfAttention.o.weight"));
    b.ff_norm = take(w, block_key(i, "layer.1.layer_norm.weight"));
    b.wi_0 = take(w, block_key(i, "layer.1.DenseReluDense.wi_0.weight"));
    b.wi_1 = take(w, block_key(i, "layer.1.DenseReluDense.wi_1.weight"));
    b.wo = take(w, block_key(i, "layer.1.DenseReluDense.wo.weight"));
    blocks_.push_back(b);
  }
  final_norm_ = take(w, "encoder.final_layer_norm.weight");
}

int64_t T5Encoder::parameter_count() const {
  int64_t n = shared_.numel() + relative_attention_bias_.numel() + final_norm_.numel();
  for (const Block &b : blocks_)
    for (const at::Tensor *t : {&b.attn_norm, &b.q, &b.k, &b.v, &b.o, &b.ff_norm, &b.wi_0, &b.wi_1, &b.wo})
      n += t->numel();
  return n;
}

// T5LayerNorm: no mean, no bias; the variance in fp32, the normalised value
// cast back to a half-precision weight's dtype before the scale.
at::Tensor T5Encoder::rms_norm(const at::Tensor &x, const at::Tensor &weight, at::ScalarType dtype) const {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor y = xf * at::rsqrt(variance + config_.layer_norm_epsilon);
  at::Tensor w = weight.to(dtype);
  if (dtype == at::kBFloat16 || dtype == at::kHalf) y = y.to(dtype);
  return w * y;
}

// "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), op by op in the
// compute dtype as transformers' NewGELUActivation runs it.
at::Tensor T5Encoder::gelu(const at::Tensor &x) const {
  if (config_.pytorch_tanh_gelu) return at::gelu(x, "tanh");
  at::Tensor inner = x + 0.044715 * at::pow(x, 3.0);
  return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * inner));
}

at::Tensor T5Encoder::position_bias(int64_t query_length, int64_t key_length, at::ScalarType dtype) const {
  const auto opts = at::TensorOptions().dtype(at::kLong).device(device());
  at::Tensor context = at::arange(query_length, opts).unsqueeze(1);
  at::Tensor memory = at::arange(key_length, opts).unsqueeze(0);
  at::Tensor buckets = t5_relative_position_bucket(memory - context, /*bidirectional=*/true,
                                                   config_.relative_attention_num_buckets,
                                                   config_.relative_attention_max_distance);
  // [q, k, heads] -> [1, heads, q, k]
  return at::embedding(relative_attention_bias_, buckets).permute({2, 0, 1}).unsqueeze(0).to(dtype);
}

at::Tensor T5Encoder::forward(const at::Tensor &ids_in, at::ScalarType dtype, const at::Tensor &mask) const {
  if (dtype != at::kFloat && dtype != at::kBFloat16)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT,
         "T5 encoder: compute dtype must be float32 or bfloat16 (float16 overflows in T5)");
  at::Tensor ids = textenc::checked_token_ids(ids_in, config_.vocab_size, 65536, device(), "T5 encoder");
  const int64_t B = ids.size(0), L = ids.size(1), H = config_.num_heads, K = config_.d_kv;

  // The bias of block 0, plus the padding mask, serves every block.
  at::Tensor bias = position_bias(L, L, dtype);
  if (mask.defined()) {
    if (mask.dim() != 2 || mask.size(0) != B || mask.size(1) != L)
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "T5 encoder: the attention mask must be [batch, length] like the ids");
    at::Tensor m = mask.to(device(), dtype).view({B, 1, 1, L});
    bias = bias + (1.0 - m) * textenc::lowest_value(dtype);
  }

  // Embedding first, then the cast: the same values as casting the table.
  at::Tensor h = at::embedding(shared_, ids).to(dtype);
  for (const Block &b : blocks_) {
    // Self-attention: scores without 1/sqrt(d_kv), softmax in fp32.
    at::Tensor x = rms_norm(h, b.attn_norm, dtype);
    auto heads = [&](const at::Tensor &w) {
      return at::linear(x, w.to(dtype)).view({B, L, H, K}).transpose(1, 2);
    };
    at::Tensor q = heads(b.q), k = heads(b.k), v = heads(b.v);
    at::Tensor scores = at::matmul(q, k.transpose(3, 2)) + bias;
    at::Tensor probs = at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type());
    at::Tensor attn = at::matmul(probs, v).transpose(1, 2).contiguous().view({B, L, H * K});
    h = h + at::linear(attn, b.o.to(dtype));

    // Gated-GELU feed-forward.
    x = rms_norm(h, b.ff_norm, dtype);
    at::Tensor gated = gelu(at::linear(x, b.wi_0.to(dtype))) * at::linear(x, b.wi_1.to(dtype));
    h = h + at::linear(gated, b.wo.to(dtype));
  }
  return rms_norm(h, final_norm_, dtype);
}

std::unique_ptr<T5Encoder> load_t5_encoder(const T5Config &config, const std::string &weights, at::Device device) {
  config.validate(weights);
  return std::make_unique<T5Encoder>(
      config, textenc::load_weights_checked(weights, t5_weight_spec(config), device));
}

std::unique_ptr<T5Encoder> load_t5_encoder(const std::string &dir, at::Device device) {
  return load_t5_encoder(t5_config_from_file(textenc::path_in(dir, "config.json")), dir, device);
}

}  // namespace cocoedit
