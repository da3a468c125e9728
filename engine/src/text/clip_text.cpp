// clip_text.cpp — the CLIP text model with transformers' eager-attention
// dtype behaviour (see clip_text.h).
#include "text/clip_text.h"

#include <cmath>

#include "error.h"
#include "text/hf_component.h"

namespace cocoedit {

using textenc::JsonConfig;

// ---- config -------------------------------------------------------------------

void ClipTextConfig::validate(const std::string &o) const {
  auto require = [&](bool ok, const std::string &what) {
    if (!ok) fail(COCOEDIT_ERR_FORMAT, o + ": " + what);
  };
  require(vocab_size >= 2 && vocab_size <= (1 << 22), "vocab_size must be in 2..4194304");
  require(hidden_size >= 1 && hidden_size <= 65536, "hidden_size must be in 1..65536");
  require(intermediate_size >= 1 && intermediate_size <= 262144, "intermediate_size must be in 1..262144");
  require(num_hidden_layers >= 1 && num_hidden_layers <= 256, "num_hidden_layers must be in 1..256");
  require(num_attention_heads >= 1 && num_attention_heads <= hidden_size &&
              hidden_size % num_attention_heads == 0,
          "hidden_size must be a multiple of num_attention_heads");
  require(max_position_embeddings >= 1 && max_position_embeddings <= 65536,
          "max_position_embeddings must be in 1..65536");
  require(layer_norm_eps > 0 && layer_norm_eps < 1, "layer_norm_eps must be in (0, 1)");
  require(hidden_act == "quick_gelu" || hidden_act == "gelu",
          "hidden_act \"" + hidden_act + "\" is not supported (\"quick_gelu\" or \"gelu\")");
  require(eos_token_id >= 0 && eos_token_id < vocab_size, "eos_token_id must be a token id of the vocabulary");
}

ClipTextConfig clip_text_config_from_json(const std::string &text, const std::string &origin) {
  JsonConfig j = JsonConfig::from_text(text, origin);
  const std::string model_type = j.get_string("model_type", "clip_text_model");
  if (model_type != "clip_text_model")
    fail(COCOEDIT_ERR_FORMAT, origin + ": model_type \"" + model_type +
                                  "\" is not a CLIP text model (\"clip_text_model\")");
  ClipTextConfig c;
  c.vocab_size = j.get_int("vocab_size", c.vocab_size);
  c.hidden_size = j.require_int("hidden_size");
  c.intermediate_size = j.require_int("intermediate_size");
  c.num_hidden_layers = j.require_int("num_hidden_layers");
  c.num_attention_heads = j.require_int("num_attention_heads");
  c.max_position_embeddings = j.get_int("max_position_embeddings", c.max_position_embeddings);
  c.layer_norm_eps = j.get_double("layer_norm_eps", c.layer_norm_eps);
  c.hidden_act = j.get_string("hidden_act", c.hidden_act);
  c.eos_token_id = j.get_int("eos_token_id", c.eos_token_id);
  c.validate(origin);
  return c;
}

ClipTextConfig clip_text_config_from_file(const std::string &path) {
  return clip_text_config_from_json(textenc::read_config_text(path), path);
}

// ---- model ------------------------------------------------------------------

ClipTextConfig clip_vit_l14_config() {
  ClipTextConfig c;
  c.hidden_size = 768;
  c.intermediate_size = 3072;
  c.num_hidden_layers = 12;
  c.num_attention_heads = 12;
  return c;
}

namespace {

std::string layer_key(int64_t i, const std::string &rest) {
  return "text_model.encoder.layers." + std::to_string(i) + "." + rest;
}

textenc::WeightSpec clip_weight_spec(const ClipTextConfig &c) {
  textenc::WeightSpec s;
  const int64_t D = c.hidden_size, F = c.intermediate_size;
  s.required["text_model.embeddings.token_embedding.weight"] = {c.vocab_size, D};
  s.required["text_model.embeddings.position_embedding.weight"] = {c.max_position_embeddings, D};
  for (int64_t i = 0; i < c.num_hidden_layers; i++) {
    for (const char *p : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      s.required[layer_key(i, std::string("self_attn.") + p + ".weight")] = {D, D};
      s.required[layer_key(i, std::string("self_attn.") + p + ".bias")] = {D};
    }
    for (const char *p : {"layer_norm1", "layer_norm2"}) {
      s.required[layer_key(i, std::string(p) + ".weight")] = {D};
      s.required[layer_key(i, std::string(p) + ".bias")] = {D};
    }
    s.required[layer_key(i, "mlp.fc1.weight")] = {F, D};
    s.required[layer_key(i, "mlp.fc1.bias")] = {F};
    s.required[layer_key(i, "mlp.fc2.weight")] = {D, F};
    s.required[layer_key(i, "mlp.fc2.bias")] = {D};
  }
  s.required["text_model.final_layer_norm.weight"] = {D};
  s.required["text_model.final_layer_norm.bias"] = {D};
  // A buffer (arange) that older exports stored; positions are computed here.
  s.ignored.insert("text_model.embeddings.position_ids");
  // What CLIPTextModelWithProjection exports (ComfyUI's clip_l.safetensors)
  // add; the text model does not use them.
  s.ignored.insert("text_projection.weight");
  s.ignored.insert("logit_scale");
  return s;
}

at::Tensor take(const std::map<std::string, at::Tensor> &w, const std::string &name) {
  return textenc::take_weight(w, name, "CLIP text model");
}

}  // namespace

ClipTextModel::ClipTextModel(const ClipTextConfig &config, std::map<std::string, at::Tensor> w) : config_(config) {
  config_.validate("CLIP text config");
  textenc::check_weight_shapes(clip_weight_spec(config_), w, "CLIP text model");

  token_embedding_ = take(w, "text_model.embeddings.token_embedding.weight");
  position_embedding_ = take(w, "text_model.embeddings.position_embedding.weight");
  for (int64_t i = 0; i < config_.num_hidden_layers; i++) {
    auto t = [&](const std::string &rest) { return take(w, layer_key(i, rest)); };
    Layer l;
    l.ln1_w = t("layer_norm1.weight");
    l.ln1_b = t("layer_norm1.bias");
    l.q_w = t("self_attn.q_proj.weight");
    l.q_b = t("self_attn.q_proj.bias");
    l.k_w = t("self_attn.k_proj.weight");
    l.k_b = t("self_attn.k_proj.bias");
    l.v_w = t("self_attn.v_proj.weight");
    l.v_b = t("self_attn.v_proj.bias");
    l.out_w = t("self_attn.out_proj.weight");
    l.out_b = t("self_attn.out_proj.bias");
    l.ln2_w = t("layer_norm2.weight");
    l.ln2_b = t("layer_norm2.bias");
    l.fc1_w = t("mlp.fc1.weight");
    l.fc1_b = t("mlp.fc1.bias");
    l.fc2_w = t("mlp.fc2.weight");
    l.fc2_b = t("mlp.fc2.bias");
    layers_.push_back(l);
  }
  final_ln_w_ = take(w, "text_model.final_layer_norm.weight");
  final_ln_b_ = take(w, "text_model.final_layer_norm.bias");
}

int64_t ClipTextModel::parameter_count() const {
  int64_t n = token_embedding_.numel() + position_embedding_.numel() + final_ln_w_.numel() + final_ln_b_.numel();
  for (const Layer &l : layers_)
    for (const at::Tensor *t : {&l.ln1_w, &l.ln1_b, &l.q_w, &l.q_b, &l.k_w, &l.k_b, &l.v_w, &l.v_b, &l.out_w,
                                &l.out_b, &l.ln2_w, &l.ln2_b, &l.fc1_w, &l.fc1_b, &l.fc2_w, &l.fc2_b})
      n += t->numel();
  return n;
}

at::Tensor ClipTextModel::pooled_positions(const at::Tensor &ids) const {
  if (config_.eos_token_id == 2) return ids.to(at::kInt).argmax(-1);
  return (ids == config_.eos_token_id).to(at::kInt).argmax(-1);
}

ClipTextOutput ClipTextModel::forward(const at::Tensor &ids_in, at::ScalarType dtype) const {
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "CLIP text model: compute dtype must be float32, bfloat16 or float16");
  at::Tensor ids = textenc::checked_token_ids(ids_in, config_.vocab_size, config_.max_position_embeddings,
                                              device(), "CLIP text model");
  const int64_t B = ids.size(0), L = ids.size(1), D = config_.hidden_size;
  const int64_t H = config_.num_attention_heads, K = config_.head_dim();
  const double scale = std::pow(static_cast<double>(K), -0.5);
  auto c = [&](const at::Tensor &w) { return w.to(dtype); };

  at::Tensor positions = at::arange(L, at::TensorOptions().dtype(at::kLong).device(device()));
  at::Tensor h = at::embedding(token_embedding_, ids).to(dtype) +
                 at::embedding(position_embedding_, positions).to(dtype).unsqueeze(0);
  // Causal: the most negative value above the diagonal, as transformers adds.
  at::Tensor causal = at::full({L, L}, textenc::lowest_value(dtype),
                               at::TensorOptions().dtype(dtype).device(device()))
                          .triu(1)
                          .view({1, 1, L, L});

  for (const Layer &l : layers_) {
    at::Tensor x = at::layer_norm(h, {D}, c(l.ln1_w), c(l.ln1_b), config_.layer_norm_eps);
    auto heads = [&](const at::Tensor &t) { return t.view({B, L, H, K}).transpose(1, 2).contiguous(); };
    // The query is scaled before the product, as the eager path does.
    at::Tensor q = heads(at::linear(x, c(l.q_w), c(l.q_b)) * scale);
    at::Tensor k = heads(at::linear(x, c(l.k_w), c(l.k_b)));
    at::Tensor v = heads(at::linear(x, c(l.v_w), c(l.v_b)));
    at::Tensor scores = at::matmul(q, k.transpose(2, 3)) + causal;
    at::Tensor attn = at::matmul(at::softmax(scores, -1), v).transpose(1, 2).reshape({B, L, D});
    h = h + at::linear(attn, c(l.out_w), c(l.out_b));

    x = at::layer_norm(h, {D}, c(l.ln2_w), c(l.ln2_b), config_.layer_norm_eps);
    x = at::linear(x, c(l.fc1_w), c(l.fc1_b));
    x = config_.hidden_act == "quick_gelu" ? x * at::sigmoid(1.702 * x) : at::gelu(x);
    h = h + at::linear(x, c(l.fc2_w), c(l.fc2_b));
  }
  ClipTextOutput out;
  out.last_hidden_state = at::layer_norm(h, {D}, c(final_ln_w_), c(final_ln_b_), config_.layer_norm_eps);
  at::Tensor where = pooled_positions(ids).to(at::kLong).view({B, 1, 1}).expand({B, 1, D});
  out.pooled = out.last_hidden_state.gather(1, where).squeeze(1);
  return out;
}

std::unique_ptr<ClipTextModel> load_clip_text(const ClipTextConfig &config, const std::string &weights,
                                              at::Device device) {
  config.validate(weights);
  return std::make_unique<ClipTextModel>(
      config, textenc::load_weights_checked(weights, clip_weight_spec(config), device));
}

std::unique_ptr<ClipTextModel> load_clip_text(const std::string &dir, at::Device device) {
  return load_clip_text(clip_text_config_from_file(textenc::path_in(dir, "config.json")), dir, device);
}

}  // namespace cocoedit
