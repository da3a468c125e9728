// model.cpp — the editing transformer (see model.h for the picture).
#include "model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "error.h"
#include "recompute.h"

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

// ---- building blocks -------------------------------------------------------------

RMSNormImpl::RMSNormImpl(int64_t dim) { scale = register_parameter("scale", at::ones({dim})); }

at::Tensor RMSNormImpl::forward(const at::Tensor &x) {
  auto xf = x.to(at::kFloat);
  auto r = at::rsqrt(xf.pow(2).mean(-1, true) + 1e-6);
  return (xf * r).to(x.scalar_type()) * scale;
}

MLPEmbedderImpl::MLPEmbedderImpl(int64_t in_dim, int64_t hidden) {
  in_layer = register_module("in_layer", torch::nn::Linear(in_dim, hidden));
  out_layer = register_module("out_layer", torch::nn::Linear(hidden, hidden));
}

at::Tensor MLPEmbedderImpl::forward(const at::Tensor &x) {
  return out_layer(at::silu(in_layer(x)));
}

ModulationImpl::ModulationImpl(int64_t dim, int64_t n) : n_chunks(n) {
  lin = register_module("lin", torch::nn::Linear(dim, n * dim));
}

std::vector<at::Tensor> ModulationImpl::forward(const at::Tensor &vec) {
  return lin(at::silu(vec)).unsqueeze(1).chunk(n_chunks, -1);
}

QKNormImpl::QKNormImpl(int64_t head_dim) {
  query_norm = register_module("query_norm", RMSNorm(head_dim));
  key_norm = register_module("key_norm", RMSNorm(head_dim));
}

StreamAttentionImpl::StreamAttentionImpl(int64_t dim, int64_t heads) {
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  norm = register_module("norm", QKNorm(dim / heads));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor &x) {
  return fc2(at::gelu(fc1(x), "tanh"));
}

// LayerNorm without affine parameters, then x·(1 + scale) + shift.
static at::Tensor modulate(const at::Tensor &x, const at::Tensor &shift, const at::Tensor &scale) {
  auto n = at::layer_norm(x, {x.size(-1)}, {}, {}, 1e-6);
  return n * (1 + scale) + shift;
}

// (B, L, 3·H·D) → q, k, v each (B, H, L, D).
static std::vector<at::Tensor> split_heads(const at::Tensor &qkv, int64_t heads) {
  const int64_t B = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / (3 * heads);
  auto t = qkv.view({B, L, 3, heads, D}).permute({2, 0, 3, 1, 4});
  return {t[0], t[1], t[2]};
}

// Rotates consecutive pairs of the last dimension by the angles behind cos/sin
// (1, 1, L, D/2).
static at::Tensor apply_rope(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin) {
  auto xf = x.to(at::kFloat);
  auto pairs = xf.unflatten(-1, {-1, 2});
  auto x0 = pairs.select(-1, 0), x1 = pairs.select(-1, 1);
  auto r0 = x0 * cos - x1 * sin;
  auto r1 = x0 * sin + x1 * cos;
  return at::stack({r0, r1}, -1).flatten(-2).to(x.scalar_type());
}

// Joint attention of q, k, v (B, H, L, D) with rotary positions; returns (B, L, H·D).
static at::Tensor attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                            const at::Tensor &cos, const at::Tensor &sin,
                            const std::optional<at::Tensor> &attn_mask) {
  auto qr = apply_rope(q, cos, sin), kr = apply_rope(k, cos, sin);
  auto out = at::scaled_dot_product_attention(qr, kr, v, attn_mask);
  return out.transpose(1, 2).flatten(2);
}

DoubleStreamBlockImpl::DoubleStreamBlockImpl(int64_t dim, int64_t h, double mlp_ratio) : heads(h) {
  const int64_t mlp = static_cast<int64_t>(dim * mlp_ratio);
  img_mod = register_module("img_mod", Modulation(dim, 6));
  img_attn = register_module("img_attn", StreamAttention(dim, h));
  img_mlp = register_module("img_mlp", FeedForward(dim, mlp));
  txt_mod = register_module("txt_mod", Modulation(dim, 6));
  txt_attn = register_module("txt_attn", StreamAttention(dim, h));
  txt_mlp = register_module("txt_mlp", FeedForward(dim, mlp));
}

std::pair<at::Tensor, at::Tensor> DoubleStreamBlockImpl::forward(
    const at::Tensor &img, const at::Tensor &txt, const at::Tensor &vec, const at::Tensor &cos,
    const at::Tensor &sin, const std::optional<at::Tensor> &attn_mask) {
  auto im = img_mod(vec), tm = txt_mod(vec);  // shift1 scale1 gate1 shift2 scale2 gate2
  auto iq = split_heads(img_attn->qkv(modulate(img, im[0], im[1])), heads);
  auto tq = split_heads(txt_attn->qkv(modulate(txt, tm[0], tm[1])), heads);
  // Text first, then image: the order of the rotary positions built in forward().
  auto q = at::cat({txt_attn->norm->query_norm(tq[0]), img_attn->norm->query_norm(iq[0])}, 2);
  auto k = at::cat({txt_attn->norm->key_norm(tq[1]), img_attn->norm->key_norm(iq[1])}, 2);
  auto v = at::cat({tq[2], iq[2]}, 2);
  auto out = attention(q, k, v, cos, sin, attn_mask);
  const int64_t n_txt = txt.size(1);
  auto txt_out = out.narrow(1, 0, n_txt), img_out = out.narrow(1, n_txt, img.size(1));

  auto img2 = img + im[2] * img_attn->proj(img_out);
  img2 = img2 + im[5] * img_mlp(modulate(img2, im[3], im[4]));
  auto txt2 = txt + tm[2] * txt_attn->proj(txt_out);
  txt2 = txt2 + tm[5] * txt_mlp(modulate(txt2, tm[3], tm[4]));
  return {img2, txt2};
}

SingleStreamBlockImpl::SingleStreamBlockImpl(int64_t d, int64_t h, double mlp_ratio)
    : dim(d), heads(h), mlp_hidden(static_cast<int64_t>(d * mlp_ratio)) {
  linear1 = register_module("linear1", torch::nn::Linear(dim, 3 * dim + mlp_hidden));
  linear2 = register_module("linear2", torch::nn::Linear(dim + mlp_hidden, dim));
  norm = register_module("norm", QKNorm(dim / heads));
  modulation = register_module("modulation", Modulation(dim, 3));
}

at::Tensor SingleStreamBlockImpl::forward(const at::Tensor &x, const at::Tensor &vec,
                                          const at::Tensor &cos, const at::Tensor &sin,
                                          const std::optional<at::Tensor> &attn_mask) {
  auto m = modulation(vec);  // shift scale gate
  auto h = linear1(modulate(x, m[0], m[1]));
  auto parts = h.split({3 * dim, mlp_hidden}, -1);
  auto qkv = split_heads(parts[0], heads);
  auto out = attention(norm->query_norm(qkv[0]), norm->key_norm(qkv[1]), qkv[2], cos, sin, attn_mask);
  return x + m[2] * linear2(at::cat({out, at::gelu(parts[1], "tanh")}, -1));
}

TextEncoderLayerImpl::TextEncoderLayerImpl(int64_t dim, int64_t h) : heads(h) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp = register_module("mlp", FeedForward(dim, 4 * dim));
}

at::Tensor TextEncoderLayerImpl::forward(const at::Tensor &x, const std::optional<at::Tensor> &attn_mask) {
  auto q = split_heads(qkv(norm1(x)), heads);
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

LastLayerImpl::LastLayerImpl(int64_t dim, int64_t out_dim) {
  ada = register_module("ada", torch::nn::Linear(dim, 2 * dim));
  linear = register_module("linear", torch::nn::Linear(dim, out_dim));
}

at::Tensor LastLayerImpl::forward(const at::Tensor &x, const at::Tensor &vec) {
  auto m = ada(at::silu(vec)).unsqueeze(1).chunk(2, -1);
  return linear(modulate(x, m[0], m[1]));
}

// ---- helpers ------------------------------------------------------------------------

at::Tensor timestep_embedding(const at::Tensor &t, int64_t dim) {
  const int64_t half = dim / 2;
  auto freqs = at::exp(-std::log(10000.0) *
                       at::arange(half, t.options().dtype(at::kFloat)) / static_cast<double>(half));
  auto args = (t.to(at::kFloat) * 1000.0).unsqueeze(-1) * freqs.unsqueeze(0);
  return at::cat({at::cos(args), at::sin(args)}, -1);
}

at::Tensor patchify(const at::Tensor &x, int64_t p) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  return x.view({B, C, H / p, p, W / p, p}).permute({0, 2, 4, 1, 3, 5}).reshape({B, (H / p) * (W / p), C * p * p});
}

at::Tensor unpatchify(const at::Tensor &tokens, int64_t p, int64_t C, int64_t H, int64_t W) {
  const int64_t B = tokens.size(0);
  return tokens.view({B, H / p, W / p, C, p, p}).permute({0, 3, 1, 4, 2, 5}).reshape({B, C, H, W});
}

// Rotary angles for positions (L, 3) over the three axes; returns cos, sin
// shaped (1, 1, L, head_dim / 2).
static std::pair<at::Tensor, at::Tensor> rope_angles(const at::Tensor &pos, const std::array<int, 3> &axes,
                                                     double theta) {
  std::vector<at::Tensor> parts;
  for (int a = 0; a < 3; a++) {
    if (axes[a] == 0) continue;
    auto scale = at::arange(0, axes[a], 2, pos.options().dtype(at::kDouble)) / static_cast<double>(axes[a]);
    auto omega = 1.0 / at::pow(theta, scale);
    parts.push_back(pos.select(1, a).to(at::kDouble).unsqueeze(-1) * omega.unsqueeze(0));
  }
  auto ang = at::cat(parts, -1).to(at::kFloat).unsqueeze(0).unsqueeze(0);
  return {at::cos(ang), at::sin(ang)};
}

// Positions (image index, row, column) of an h×w patch grid.
static at::Tensor grid_positions(int64_t index, int64_t h, int64_t w, const at::TensorOptions &opt) {
  auto rows = at::arange(h, opt).view({h, 1}).expand({h, w});
  auto cols = at::arange(w, opt).view({1, w}).expand({h, w});
  auto idx = at::full({h, w}, index, opt);
  return at::stack({idx, rows, cols}, -1).view({h * w, 3});
}

// ---- the model ------------------------------------------------------------------------

EditModelImpl::EditModelImpl(const ModelConfig &c) : config(c) {
  c.validate();
  const int64_t D = c.hidden_size;
  img_in = register_module("img_in", torch::nn::Linear(c.patch_in_dim(), D));
  time_in = register_module("time_in", MLPEmbedder(256, D));
  vector_in = register_module("vector_in", MLPEmbedder(c.text_hidden_size, D));
  if (c.guidance_embed) guidance_in = register_module("guidance_in", MLPEmbedder(256, D));
  text_encoder = register_module("text_encoder", TextEncoder(c));
  txt_in = register_module("txt_in", torch::nn::Linear(c.text_hidden_size, D));
  double_blocks = register_module("double_blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth_double; i++) double_blocks->push_back(DoubleStreamBlock(D, c.num_heads, c.mlp_ratio));
  single_blocks = register_module("single_blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.depth_single; i++) single_blocks->push_back(SingleStreamBlock(D, c.num_heads, c.mlp_ratio));
  final_layer = register_module("final_layer", LastLayer(D, c.patch_out_dim()));
}

TextContext EditModelImpl::encode_text(const TextBatch &text) {
  auto dev = img_in->weight.device();
  TextBatch t{text.tokens.to(dev), text.valid.to(dev)};
  auto [tokens, pooled] = text_encoder(t);
  TextContext ctx;
  ctx.tokens = txt_in(tokens);
  ctx.pooled = vector_in(pooled);
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

  // Image tokens: noisy target, then (when given) the source, each with the mask channel.
  auto with_mask = [&](const at::Tensor &x) {
    if (!c.mask_channel) return x;
    at::Tensor m = mask ? (*mask * 2 - 1).to(x.scalar_type()) : at::full({B, 1, H, W}, -1.0, x.options());
    return at::cat({x, m.expand({B, 1, H, W})}, 1);
  };
  auto img = patchify(with_mask(x_t), p);
  auto iopt = x_t.options().dtype(at::kLong);
  std::vector<at::Tensor> pos = {at::zeros({text.tokens.size(1), 3}, iopt), grid_positions(0, h, w, iopt)};
  if (source) {
    img = at::cat({img, patchify(with_mask(source->to(x_t.scalar_type())), p)}, 1);
    pos.push_back(grid_positions(1, h, w, iopt));
  }
  img = img_in(img);
  const auto rope = rope_angles(at::cat(pos, 0), c.axes_dim, c.rope_theta);
  const at::Tensor cos = rope.first, sin = rope.second;

  auto vec = time_in(timestep_embedding(t, 256).to(img.scalar_type())) + text.pooled.expand({B, -1});
  if (c.guidance_embed) {
    auto g = guidance ? *guidance : at::full({B}, c.default_guidance, t.options());
    vec = vec + guidance_in(timestep_embedding(g / 1000.0, 256).to(img.scalar_type()));
  }
  auto txt = text.tokens.expand({B, -1, -1});

  // Padding keys are hidden from every query; image keys are always visible.
  std::optional<at::Tensor> attn_mask;
  if (text.any_padding) {
    auto img_valid = at::ones({text.valid.size(0), img.size(1)}, text.valid.options());
    attn_mask = key_mask(at::cat({text.valid, img_valid}, 1)).expand({B, 1, 1, -1});
  }

  for (const auto &blk : *double_blocks) {
    auto *block = blk->as<DoubleStreamBlock>();
    // By value: backward may call it after this function returns.
    auto run = [=](const std::vector<at::Tensor> &in) {
      auto out = block->forward(in[0], in[1], in[2], cos, sin, attn_mask);
      return std::vector<at::Tensor>{out.first, out.second};
    };
    auto out = recompute_blocks ? recompute_in_backward(run, {img, txt, vec}) : run({img, txt, vec});
    img = out[0];
    txt = out[1];
  }
  const int64_t n_txt = txt.size(1);
  auto x = at::cat({txt, img}, 1);
  for (const auto &blk : *single_blocks) {
    auto *block = blk->as<SingleStreamBlock>();
    auto run = [=](const std::vector<at::Tensor> &in) {
      return std::vector<at::Tensor>{block->forward(in[0], in[1], cos, sin, attn_mask)};
    };
    x = (recompute_blocks ? recompute_in_backward(run, {x, vec}) : run({x, vec}))[0];
  }
  auto target = x.narrow(1, n_txt, h * w);
  return unpatchify(final_layer(target, vec), p, c.in_channels, H, W);
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

}  // namespace cocoedit
