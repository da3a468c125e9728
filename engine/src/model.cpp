// model.cpp — the project's editing model over flux::Flux (see model.h).
#include "model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstring>

#include "error.h"

namespace cocoedit {

namespace F = torch::nn::functional;

// ---- text -------------------------------------------------------------------

// Length of the longest prefix of `s` of at most `limit` bytes that ends on
// a UTF-8 character boundary.
static size_t utf8_prefix(const std::string &s, size_t limit) {
  if (s.size() <= limit) return s.size();
  size_t n = limit;
  // Back up over continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) n--;
  return n;
}

TextBatch tokenize(const std::vector<std::string> &prompts, int max_bytes) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t L = 1;
  std::vector<size_t> lens;
  for (const auto &p : prompts) {
    lens.push_back(utf8_prefix(p, static_cast<size_t>(max_bytes - 1)));
    L = std::max<int64_t>(L, 1 + static_cast<int64_t>(lens.back()));
  }
  at::Tensor tokens = at::full({B, L}, kTextPad, at::kLong);
  at::Tensor valid = at::zeros({B, L}, at::kBool);
  auto tok = tokens.accessor<int64_t, 2>();
  auto val = valid.accessor<bool, 2>();
  for (int64_t b = 0; b < B; b++) {
    tok[b][0] = kTextStart;
    val[b][0] = true;
    for (size_t i = 0; i < lens[b]; i++) {
      tok[b][1 + i] = static_cast<unsigned char>(prompts[b][i]);
      val[b][1 + i] = true;
    }
  }
  return {tokens, valid};
}

// ---- text encoder ------------------------------------------------------------------

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor &x) {
  return fc2(at::gelu(fc1(x), "tanh"));
}

TextEncoderLayerImpl::TextEncoderLayerImpl(int64_t dim, int64_t h) : heads(h) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp = register_module("mlp", FeedForward(dim, 4 * dim));
}

at::Tensor TextEncoderLayerImpl::forward(const at::Tensor &x, const std::optional<at::Tensor> &attn_mask) {
  auto q = flux::split_qkv(qkv(norm1(x)), heads);
  auto a = at::scaled_dot_product_attention(q[0], q[1], q[2], attn_mask).transpose(1, 2).flatten(2);
  auto y = x + proj(a);
  return y + mlp(norm2(y));
}

TextEncoderImpl::TextEncoderImpl(const ModelConfig &c) : heads(c.text_heads) {
  byte_embed = register_module("byte_embed", torch::nn::Embedding(kTextVocab, c.text_hidden_size));
  pos_embed = register_parameter("pos_embed", at::zeros({1, c.text_max_bytes, c.text_hidden_size}));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < c.text_depth; i++) layers->push_back(TextEncoderLayer(c.text_hidden_size, c.text_heads));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.text_hidden_size})));
}

// Key-padding mask (B, 1, 1, L) for scaled_dot_product_attention: true = attend.
static at::Tensor key_mask(const at::Tensor &valid) { return valid.unsqueeze(1).unsqueeze(1); }

std::pair<at::Tensor, at::Tensor> TextEncoderImpl::forward(const TextBatch &text) {
  const int64_t L = text.tokens.size(1);
  auto x = byte_embed(text.tokens) + pos_embed.narrow(1, 0, L);
  std::optional<at::Tensor> mask;
  if (!text.valid.all().item<bool>()) mask = key_mask(text.valid);
  for (const auto &layer : *layers) x = layer->as<TextEncoderLayer>()->forward(x, mask);
  x = norm(x);
  auto w = text.valid.unsqueeze(-1).to(x.scalar_type());
  auto pooled = (x * w).sum(1) / w.sum(1).clamp_min(1);
  return {x, pooled};
}

// ---- image codec: pixel patches ---------------------------------------------------------

at::Tensor patchify(const at::Tensor &x, int64_t p) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  return x.view({B, C, H / p, p, W / p, p}).permute({0, 2, 4, 1, 3, 5}).reshape({B, (H / p) * (W / p), C * p * p});
}

at::Tensor unpatchify(const at::Tensor &tokens, int64_t p, int64_t C, int64_t H, int64_t W) {
  const int64_t B = tokens.size(0);
  return tokens.view({B, H / p, W / p, C, p, p}).permute({0, 3, 1, 4, 2, 5}).reshape({B, C, H, W});
}

// Positions (image index, row, column) of an h×w patch grid, float32 as
// BFL's ids, restricted to the RoPE axes the config uses: (h·w, n_axes).
static at::Tensor grid_positions(int64_t index, int64_t h, int64_t w, const std::array<int, 3> &axes,
                                 const at::TensorOptions &opt) {
  auto rows = at::arange(h, opt).view({h, 1}).expand({h, w});
  auto cols = at::arange(w, opt).view({1, w}).expand({h, w});
  auto idx = at::full({h, w}, static_cast<double>(index), opt);
  std::vector<at::Tensor> used;
  const at::Tensor all[3] = {idx, rows, cols};
  for (int a = 0; a < 3; a++)
    if (axes[a] > 0) used.push_back(all[a]);
  return at::stack(used, -1).view({h * w, static_cast<int64_t>(used.size())});
}

// ---- the model ------------------------------------------------------------------------

flux::FluxParams transformer_params(const ModelConfig &c) {
  c.validate();
  flux::FluxParams p;
  p.in_channels = c.patch_in_dim();
  p.out_channels = c.patch_out_dim();
  p.vec_in_dim = c.text_hidden_size;
  p.context_in_dim = c.text_hidden_size;
  p.hidden_size = c.hidden_size;
  p.mlp_ratio = c.mlp_ratio;
  p.num_heads = c.num_heads;
  p.depth = c.depth_double;
  p.depth_single_blocks = c.depth_single;
  p.axes_dim.clear();
  for (int a : c.axes_dim)
    if (a > 0) p.axes_dim.push_back(a);
  p.theta = static_cast<int64_t>(c.rope_theta);
  if (static_cast<double>(p.theta) != c.rope_theta)
    fail(COCOEDIT_ERR_FORMAT, "config: rope_theta must be a whole number (FLUX's theta is an integer)");
  p.qkv_bias = true;
  p.guidance_embed = c.guidance_embed;
  p.validate("config");
  return p;
}

// Zero tensors of the transformer's shapes: the module is built over them,
// then load_model or init_weights fills them in place.
static flux::WeightMap blank_weights(const flux::FluxParams &p) {
  flux::WeightMap w;
  for (const auto &[name, shape] : flux::flux_parameter_shapes(p)) w[name] = at::zeros(shape);
  return w;
}

EditModelImpl::EditModelImpl(const ModelConfig &c) : EditModelImpl(c, transformer_params(c)) {}

EditModelImpl::EditModelImpl(const ModelConfig &c, const flux::FluxParams &p)
    : flux::FluxImpl(p, blank_weights(p), "config \"" + c.name + "\""), config(c) {
  config.format_version = kModelFormatVersion;  // a model in memory has today's names
  text_encoder = register_module("text_encoder", TextEncoder(c));
  for (auto &p : parameters()) p.set_requires_grad(true);
}

TextContext EditModelImpl::encode_text(const TextBatch &text) {
  auto dev = img_in->weight.device();
  TextBatch t{text.tokens.to(dev), text.valid.to(dev)};
  auto [tokens, pooled] = text_encoder(t);
  TextContext ctx;
  ctx.tokens = tokens;
  ctx.pooled = pooled;
  ctx.valid = t.valid;
  ctx.any_padding = !t.valid.all().item<bool>();
  return ctx;
}

at::Tensor EditModelImpl::forward(const at::Tensor &x_t, const std::optional<at::Tensor> &source,
                                  const std::optional<at::Tensor> &mask, const at::Tensor &t,
                                  const TextContext &text, const std::optional<at::Tensor> &guidance) {
  const auto &c = config;
  const int64_t p = c.patch_size, B = x_t.size(0), H = x_t.size(2), W = x_t.size(3);
  if (H % p || W % p) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "image size is not a multiple of the patch size");
  const int64_t h = H / p, w = W / p;

  // Image tokens: noisy target, then (when given) the source, each with the
  // mask channel; the source at image index 1, as Kontext's reference image.
  auto with_mask = [&](const at::Tensor &x) {
    if (!c.mask_channel) return x;
    at::Tensor m = mask ? (*mask * 2 - 1).to(x.scalar_type()) : at::full({B, 1, H, W}, -1.0, x.options());
    return at::cat({x, m.expand({B, 1, H, W})}, 1);
  };
  auto img = patchify(with_mask(x_t), p);
  auto fopt = x_t.options().dtype(at::kFloat);
  std::vector<at::Tensor> ids = {grid_positions(0, h, w, c.axes_dim, fopt)};
  if (source) {
    img = at::cat({img, patchify(with_mask(source->to(x_t.scalar_type())), p)}, 1);
    ids.push_back(grid_positions(1, h, w, c.axes_dim, fopt));
  }
  auto img_ids = at::cat(ids, 0).unsqueeze(0).expand({B, -1, -1});
  auto txt = text.tokens.expand({B, -1, -1});
  auto txt_ids = at::zeros({B, txt.size(1), img_ids.size(2)}, fopt);
  auto y = text.pooled.expand({B, -1});

  // This family embeds the guidance scale g itself where BFL embeds 1000·g.
  std::optional<at::Tensor> g;
  if (c.guidance_embed) g = (guidance ? *guidance : at::full({B}, c.default_guidance, t.options())) / 1000.0;
  std::optional<at::Tensor> valid;
  if (text.any_padding) valid = text.valid.expand({B, -1});

  auto out = flux::FluxImpl::forward(img, img_ids, txt, txt_ids, t.to(at::kFloat), y, g, nullptr, valid);
  return unpatchify(out.narrow(1, 0, h * w), p, x_t.size(1), H, W);
}

std::vector<int64_t> EditModelImpl::space_shape(int64_t B, int64_t H, int64_t W) const {
  const int64_t g = pixels_per_token(), f = codec.factor();
  if (H < g || W < g || H % g || W % g)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "image size " + std::to_string(W) + "x" + std::to_string(H) +
                                            " is not a multiple of the model's " + std::to_string(g) + "-pixel tokens");
  return {B, codec.channels(), H / f, W / f};
}

std::map<std::string, std::vector<int64_t>> EditModelImpl::parameter_shapes() const {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto &item : named_parameters()) shapes[item.key()] = item.value().sizes().vec();
  return shapes;
}

int64_t EditModelImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto &p : parameters()) n += p.numel();
  return n;
}

void EditModelImpl::init_weights(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto &item : named_parameters()) {
    const std::string &name = item.key();
    at::Tensor &p = item.value();
    at::Tensor v;
    auto ends_with = [&](const char *s) {
      const std::string suffix(s);
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with(".bias")) {
      v = at::zeros(p.sizes());
    } else if (ends_with("norm.scale") || ends_with("norm1.weight") || ends_with("norm2.weight") ||
               name == "text_encoder.norm.weight") {
      v = at::ones(p.sizes());
    } else if (name.find("pos_embed") != std::string::npos || name.find("byte_embed") != std::string::npos ||
               name.find("mod.lin") != std::string::npos || name.find("modulation.lin") != std::string::npos ||
               name.find("final_layer") != std::string::npos) {
      // Small: modulation starts near identity and the output near zero velocity.
      v = at::normal(0.0, 0.02, p.sizes(), gen);
    } else if (p.dim() == 2) {
      // Xavier-uniform, as DiT and FLUX initialise their linear layers.
      const double bound = std::sqrt(6.0 / static_cast<double>(p.size(0) + p.size(1)));
      v = at::rand(p.sizes(), gen) * (2 * bound) - bound;
    } else {
      v = at::ones(p.sizes());
    }
    p.copy_(v);
  }
}

std::string legacy_parameter_name(const std::string &name) {
  static const std::pair<const char *, const char *> renames[] = {
      {"_mlp.0.", "_mlp.fc1."}, {"_mlp.2.", "_mlp.fc2."}, {"final_layer.adaLN_modulation.1.", "final_layer.ada."}};
  if (name.rfind("text_encoder.", 0) == 0) return name;
  for (const auto &[now, then] : renames) {
    const size_t at = name.find(now);
    if (at != std::string::npos) return name.substr(0, at) + then + name.substr(at + std::strlen(now));
  }
  return name;
}

}  // namespace cocoedit
