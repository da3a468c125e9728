// flux_transformer.cpp — BFL's Flux (see flux_transformer.h).  Each function
// follows the reference line by line, in the same dtypes, so that a bf16 run
// rounds where BFL's rounds.
#include "flux/flux_transformer.h"

#include <cmath>
#include <set>
#include <sstream>

#include "error.h"
#include "recompute.h"

namespace cocoedit {
namespace flux {

namespace {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); i++) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

[[noreturn]] void bad_arg(const std::string &msg) { fail(COCOEDIT_ERR_INVALID_ARGUMENT, "flux: " + msg); }

at::Tensor take(const WeightMap &w, const std::string &name) {
  auto it = w.find(name);
  if (it == w.end()) fail(COCOEDIT_ERR_FORMAT, "flux: missing weight \"" + name + "\"");
  return it->second;
}

// math.py apply_rope: float32 products with the rotation matrices, then back
// to the input's dtype.
at::Tensor apply_rope(const at::Tensor &x, const at::Tensor &pe) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - 1);
  shape.insert(shape.end(), {-1, 1, 2});
  auto xf = x.to(at::kFloat).reshape(shape);
  auto out = pe.select(-1, 0) * xf.select(-1, 0) + pe.select(-1, 1) * xf.select(-1, 1);
  return out.reshape(x.sizes()).to(x.scalar_type());
}

// math.py attention: q, k, v (B, H, L, D) → (B, L, H·D), default scale; the
// reference has no mask (`mask` is for the project's padded byte prompts).
at::Tensor attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, const at::Tensor &pe,
                     const std::optional<at::Tensor> &mask) {
  auto out = at::scaled_dot_product_attention(apply_rope(q, pe), apply_rope(k, pe), v, mask);
  return out.transpose(1, 2).flatten(2);
}

at::Tensor layer_norm(const at::Tensor &x) { return at::layer_norm(x, {x.size(-1)}, {}, {}, 1e-6); }

}  // namespace

// BFL's `rearrange(qkv, "B L (K H D) -> K B H L D", K=3, H=heads)`.
std::vector<at::Tensor> split_qkv(const at::Tensor &qkv, int64_t heads) {
  const int64_t B = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / (3 * heads);
  auto t = qkv.view({B, L, 3, heads, D}).permute({2, 0, 3, 1, 4});
  return {t[0], t[1], t[2]};
}

// ---- FluxParams ---------------------------------------------------------------

void FluxParams::validate(const std::string &where) const {
  auto bad = [&](const std::string &m) { fail(COCOEDIT_ERR_FORMAT, where + ": " + m); };
  auto in_range = [&](int64_t v, int64_t hi, const char *name) {
    if (v < 1 || v > hi) bad(std::string(name) + " = " + std::to_string(v) + " is out of range [1, " +
                             std::to_string(hi) + "]");
  };
  in_range(in_channels, 1 << 16, "in_channels");
  in_range(out_channels, 1 << 16, "out_channels");
  in_range(vec_in_dim, 1 << 16, "vec_in_dim");
  in_range(context_in_dim, 1 << 16, "context_in_dim");
  in_range(hidden_size, 1 << 16, "hidden_size");
  in_range(num_heads, 1 << 12, "num_heads");
  if (depth < 0 || depth > 1024) bad("depth = " + std::to_string(depth) + " is out of range [0, 1024]");
  if (depth_single_blocks < 0 || depth_single_blocks > 1024)
    bad("depth_single_blocks = " + std::to_string(depth_single_blocks) + " is out of range [0, 1024]");
  if (!(mlp_ratio > 0 && mlp_ratio <= 64)) bad("mlp_ratio must be in (0, 64]");
  if (mlp_hidden() < 1) bad("mlp_ratio gives an empty MLP");
  if (theta < 1 || theta > (int64_t(1) << 40)) bad("theta must be a positive integer");
  if (hidden_size % num_heads)
    bad("hidden_size " + std::to_string(hidden_size) + " is not divisible by num_heads " +
        std::to_string(num_heads));
  if (axes_dim.empty() || axes_dim.size() > 16) bad("axes_dim must list 1 to 16 axes");
  int64_t sum = 0;
  for (int64_t d : axes_dim) {
    if (d < 2 || d > (1 << 16) || d % 2) bad("axes_dim entries must be positive and even");
    sum += d;
  }
  if (sum != head_dim())
    bad("axes_dim sums to " + std::to_string(sum) + " but the head dimension is " + std::to_string(head_dim()));
}

FluxParams flux_preset(const std::string &name) {
  // util.py "flux-dev" and "flux-dev-kontext" have identical FluxParams.
  if (name == "flux-dev-kontext" || name == "flux-dev") return FluxParams{};
  bad_arg("unknown model preset \"" + name + "\" (known: flux-dev-kontext, flux-dev)");
}

std::vector<std::pair<std::string, std::vector<int64_t>>> flux_parameter_shapes(const FluxParams &p) {
  const int64_t H = p.hidden_size, D = p.head_dim(), M = p.mlp_hidden();
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  auto linear = [&](const std::string &name, int64_t in, int64_t o, bool bias = true) {
    out.push_back({name + ".weight", {o, in}});
    if (bias) out.push_back({name + ".bias", {o}});
  };
  auto mlp_embedder = [&](const std::string &name, int64_t in) {
    linear(name + ".in_layer", in, H);
    linear(name + ".out_layer", H, H);
  };
  linear("img_in", p.in_channels, H);
  mlp_embedder("time_in", 256);
  mlp_embedder("vector_in", p.vec_in_dim);
  if (p.guidance_embed) mlp_embedder("guidance_in", 256);
  linear("txt_in", p.context_in_dim, H);
  for (int64_t i = 0; i < p.depth; i++) {
    const std::string b = "double_blocks." + std::to_string(i) + ".";
    for (const char *s : {"img", "txt"}) {
      const std::string x = b + s;
      linear(x + "_mod.lin", H, 6 * H);
      linear(x + "_attn.qkv", H, 3 * H, p.qkv_bias);
      out.push_back({x + "_attn.norm.query_norm.scale", {D}});
      out.push_back({x + "_attn.norm.key_norm.scale", {D}});
      linear(x + "_attn.proj", H, H);
      linear(x + "_mlp.0", H, M);
      linear(x + "_mlp.2", M, H);
    }
  }
  for (int64_t i = 0; i < p.depth_single_blocks; i++) {
    const std::string b = "single_blocks." + std::to_string(i) + ".";
    linear(b + "linear1", H, 3 * H + M);
    linear(b + "linear2", H + M, H);
    out.push_back({b + "norm.query_norm.scale", {D}});
    out.push_back({b + "norm.key_norm.scale", {D}});
    linear(b + "modulation.lin", H, 3 * H);
  }
  linear("final_layer.linear", H, p.out_channels);
  linear("final_layer.adaLN_modulation.1", H, 2 * H);
  return out;
}

// ---- modules ----------------------------------------------------------------------

LinearImpl::LinearImpl(const WeightMap &w, const std::string &prefix, bool has_bias) {
  weight = register_parameter("weight", take(w, prefix + ".weight"), false);
  if (has_bias) bias = register_parameter("bias", take(w, prefix + ".bias"), false);
}

at::Tensor LinearImpl::forward(const at::Tensor &x) {
  at::Tensor y = at::linear(x, weight, bias);
  if (active < 0) return y;
  const Adapter &ad = adapters[static_cast<size_t>(active)];
  auto delta = [&](const AdapterPiece &p) {
    return (at::linear(at::linear(x.to(p.a.scalar_type()), p.a), p.b) * p.scale).to(y.scalar_type());
  };
  const int64_t out = y.size(-1);
  if (ad.size() == 1 && ad[0].row == 0 && ad[0].b.size(0) == out) return y + delta(ad[0]);
  // Rows without a piece pass through; the parts are joined in order.
  std::vector<at::Tensor> parts;
  int64_t next = 0;
  for (const AdapterPiece &p : ad) {
    if (p.row > next) parts.push_back(y.narrow(-1, next, p.row - next));
    parts.push_back(y.narrow(-1, p.row, p.b.size(0)) + delta(p));
    next = p.row + p.b.size(0);
  }
  if (next < out) parts.push_back(y.narrow(-1, next, out - next));
  return at::cat(parts, -1);
}

RMSNormImpl::RMSNormImpl(const WeightMap &w, const std::string &prefix) {
  scale = register_parameter("scale", take(w, prefix + ".scale"), false);
}

// layers.py:63-72: normalised in float32, cast back, then scaled in x's dtype.
at::Tensor RMSNormImpl::forward(const at::Tensor &x) {
  auto xf = x.to(at::kFloat);
  auto rrms = at::rsqrt(at::mean(xf.pow(2), {-1}, true) + 1e-6);
  return (xf * rrms).to(x.scalar_type()) * scale;
}

QKNormImpl::QKNormImpl(const WeightMap &w, const std::string &prefix) {
  query_norm = register_module("query_norm", RMSNorm(w, prefix + ".query_norm"));
  key_norm = register_module("key_norm", RMSNorm(w, prefix + ".key_norm"));
}

MLPEmbedderImpl::MLPEmbedderImpl(const WeightMap &w, const std::string &prefix) {
  in_layer = register_module("in_layer", Linear(w, prefix + ".in_layer"));
  out_layer = register_module("out_layer", Linear(w, prefix + ".out_layer"));
}

at::Tensor MLPEmbedderImpl::forward(const at::Tensor &x) { return out_layer(at::silu(in_layer(x))); }

ModulationImpl::ModulationImpl(const WeightMap &w, const std::string &prefix, int64_t m) : multiplier(m) {
  lin = register_module("lin", Linear(w, prefix + ".lin"));
}

std::vector<at::Tensor> ModulationImpl::forward(const at::Tensor &vec) {
  return lin(at::silu(vec)).unsqueeze(1).chunk(multiplier, -1);
}

SelfAttentionImpl::SelfAttentionImpl(const WeightMap &w, const std::string &prefix, bool qkv_bias) {
  qkv = register_module("qkv", Linear(w, prefix + ".qkv", qkv_bias));
  norm = register_module("norm", QKNorm(w, prefix + ".norm"));
  proj = register_module("proj", Linear(w, prefix + ".proj"));
}

static torch::nn::Sequential make_mlp(const WeightMap &w, const std::string &prefix) {
  return torch::nn::Sequential(Linear(w, prefix + ".0"),
                               torch::nn::GELU(torch::nn::GELUOptions().approximate("tanh")),
                               Linear(w, prefix + ".2"));
}

DoubleStreamBlockImpl::DoubleStreamBlockImpl(const WeightMap &w, const std::string &prefix, const FluxParams &p)
    : num_heads(p.num_heads) {
  img_mod = register_module("img_mod", Modulation(w, prefix + ".img_mod", 6));
  img_attn = register_module("img_attn", SelfAttention(w, prefix + ".img_attn", p.qkv_bias));
  img_mlp = register_module("img_mlp", make_mlp(w, prefix + ".img_mlp"));
  txt_mod = register_module("txt_mod", Modulation(w, prefix + ".txt_mod", 6));
  txt_attn = register_module("txt_attn", SelfAttention(w, prefix + ".txt_attn", p.qkv_bias));
  txt_mlp = register_module("txt_mlp", make_mlp(w, prefix + ".txt_mlp"));
}

// layers.py:167-191.
std::pair<at::Tensor, at::Tensor> DoubleStreamBlockImpl::forward(const at::Tensor &img, const at::Tensor &txt,
                                                                 const at::Tensor &vec, const at::Tensor &pe,
                                                                 const std::optional<at::Tensor> &mask) {
  auto im = img_mod(vec), tm = txt_mod(vec);  // shift1, scale1, gate1, shift2, scale2, gate2

  // q, k after the QK norm, cast to v's dtype (QKNorm.forward).
  auto prepare = [&](const at::Tensor &x, const std::vector<at::Tensor> &m, SelfAttention &attn) {
    auto h = (1 + m[1]) * layer_norm(x) + m[0];
    auto qkv = split_qkv(attn->qkv(h), num_heads);
    auto q = attn->norm->query_norm(qkv[0]).to(qkv[2].scalar_type());
    auto k = attn->norm->key_norm(qkv[1]).to(qkv[2].scalar_type());
    return std::vector<at::Tensor>{q, k, qkv[2]};
  };
  auto iq = prepare(img, im, img_attn), tq = prepare(txt, tm, txt_attn);

  auto a = attention(at::cat({tq[0], iq[0]}, 2), at::cat({tq[1], iq[1]}, 2), at::cat({tq[2], iq[2]}, 2), pe, mask);
  const int64_t Lt = txt.size(1);
  auto txt_a = a.narrow(1, 0, Lt), img_a = a.narrow(1, Lt, a.size(1) - Lt);

  auto img_out = img + im[2] * img_attn->proj(img_a);
  img_out = img_out + im[5] * img_mlp->forward((1 + im[4]) * layer_norm(img_out) + im[3]);
  auto txt_out = txt + tm[2] * txt_attn->proj(txt_a);
  txt_out = txt_out + tm[5] * txt_mlp->forward((1 + tm[4]) * layer_norm(txt_out) + tm[3]);
  return {img_out, txt_out};
}

SingleStreamBlockImpl::SingleStreamBlockImpl(const WeightMap &w, const std::string &prefix, const FluxParams &p)
    : hidden_size(p.hidden_size), num_heads(p.num_heads), mlp_hidden(p.mlp_hidden()) {
  linear1 = register_module("linear1", Linear(w, prefix + ".linear1"));
  linear2 = register_module("linear2", Linear(w, prefix + ".linear2"));
  norm = register_module("norm", QKNorm(w, prefix + ".norm"));
  modulation = register_module("modulation", Modulation(w, prefix + ".modulation", 3));
}

// layers.py:225-239.
at::Tensor SingleStreamBlockImpl::forward(const at::Tensor &x, const at::Tensor &vec, const at::Tensor &pe,
                                          const std::optional<at::Tensor> &mask) {
  auto mod = modulation(vec);  // shift, scale, gate
  auto x_mod = (1 + mod[1]) * layer_norm(x) + mod[0];
  auto parts = at::split_with_sizes(linear1(x_mod), {3 * hidden_size, mlp_hidden}, -1);
  auto qkv = split_qkv(parts[0], num_heads);
  auto q = norm->query_norm(qkv[0]).to(qkv[2].scalar_type());
  auto k = norm->key_norm(qkv[1]).to(qkv[2].scalar_type());
  auto a = attention(q, k, qkv[2], pe, mask);
  auto output = linear2(at::cat({a, at::gelu(parts[1], "tanh")}, 2));
  return x + mod[2] * output;
}

LastLayerImpl::LastLayerImpl(const WeightMap &w, const std::string &prefix) {
  linear = register_module("linear", Linear(w, prefix + ".linear"));
  adaLN_modulation = register_module(
      "adaLN_modulation", torch::nn::Sequential(torch::nn::SiLU(), Linear(w, prefix + ".adaLN_modulation.1")));
}

// layers.py:249-253.
at::Tensor LastLayerImpl::forward(const at::Tensor &x, const at::Tensor &vec) {
  auto ss = adaLN_modulation->forward(vec).chunk(2, 1);  // shift, scale
  auto h = (1 + ss[1].unsqueeze(1)) * layer_norm(x) + ss[0].unsqueeze(1);
  return linear(h);
}

// ---- functions -----------------------------------------------------------------

// layers.py:28-49.
at::Tensor timestep_embedding(const at::Tensor &t_in, int64_t dim, double max_period, double time_factor) {
  auto t = t_in * time_factor;  // in t's dtype: bf16 rounds 1000·t
  const int64_t half = dim / 2;
  auto freqs = at::exp(at::arange(0, half, at::TensorOptions().dtype(at::kFloat).device(t.device())) *
                       -std::log(max_period) / half);
  auto args = t.unsqueeze(1).to(at::kFloat) * freqs.unsqueeze(0);
  auto emb = at::cat({at::cos(args), at::sin(args)}, -1);
  if (dim % 2) emb = at::cat({emb, at::zeros_like(emb.narrow(1, 0, 1))}, -1);
  if (at::isFloatingType(t.scalar_type())) emb = emb.to(t.scalar_type());
  return emb;
}

// math.py rope + layers.py EmbedND, in the ids' float32.
at::Tensor embed_nd(const at::Tensor &ids, const std::vector<int64_t> &axes_dim, int64_t theta) {
  if (ids.dim() != 3 || ids.size(-1) != static_cast<int64_t>(axes_dim.size()))
    bad_arg("position ids must be (B, L, " + std::to_string(axes_dim.size()) + "), got " + shape_str(ids.sizes()));
  std::vector<at::Tensor> per_axis;
  for (size_t i = 0; i < axes_dim.size(); i++) {
    const int64_t d = axes_dim[i];
    auto pos = ids.select(-1, static_cast<int64_t>(i));
    auto scale = at::arange(0, d, 2, pos.options()) / d;
    auto omega = at::pow(theta, scale).reciprocal();  // 1.0 / theta**scale
    auto angle = pos.unsqueeze(-1) * omega;           // einsum "...n,d->...nd"
    auto c = at::cos(angle), s = at::sin(angle);
    auto m = at::stack({c, -s, s, c}, -1);
    std::vector<int64_t> shape(m.sizes().begin(), m.sizes().end() - 1);
    shape.insert(shape.end(), {2, 2});
    per_axis.push_back(m.reshape(shape).to(at::kFloat));
  }
  return at::cat(per_axis, -3).unsqueeze(1);
}

// ---- Flux -------------------------------------------------------------------------

FluxImpl::FluxImpl(const FluxParams &p, const WeightMap &w, const std::string &origin) : params(p) {
  params.validate(origin);
  // Exactly the reference's parameters, of one floating dtype.
  auto shapes = flux_parameter_shapes(params);
  std::set<std::string> known;
  bool first = true;
  at::ScalarType first_dtype = at::kFloat;
  for (const auto &ns : shapes) {
    known.insert(ns.first);
    auto it = w.find(ns.first);
    if (it == w.end())
      fail(COCOEDIT_ERR_FORMAT, origin + ": missing tensor \"" + ns.first + "\" " + shape_str(ns.second) +
                                    " (a checkpoint of another model or config?)");
    const at::Tensor &t = it->second;
    if (t.sizes() != at::IntArrayRef(ns.second))
      fail(COCOEDIT_ERR_FORMAT, origin + ": tensor \"" + ns.first + "\" has shape " + shape_str(t.sizes()) +
                                    " but the config needs " + shape_str(ns.second));
    if (!at::isFloatingType(t.scalar_type()))
      fail(COCOEDIT_ERR_FORMAT, origin + ": tensor \"" + ns.first + "\" is not floating point");
    if (!first && t.scalar_type() != first_dtype)
      fail(COCOEDIT_ERR_FORMAT, origin + ": tensor \"" + ns.first + "\" is " + std::string(c10::toString(t.scalar_type())) +
                                    " but the others are " + c10::toString(first_dtype) + " (mixed dtypes)");
    first_dtype = t.scalar_type();
    first = false;
  }
  for (const auto &kv : w)
    if (!known.count(kv.first))
      fail(COCOEDIT_ERR_FORMAT, origin + ": unexpected tensor \"" + kv.first + "\" (not part of this model's "
                                    "architecture)");

  img_in = register_module("img_in", Linear(w, "img_in"));
  time_in = register_module("time_in", MLPEmbedder(w, "time_in"));
  vector_in = register_module("vector_in", MLPEmbedder(w, "vector_in"));
  if (params.guidance_embed) guidance_in = register_module("guidance_in", MLPEmbedder(w, "guidance_in"));
  txt_in = register_module("txt_in", Linear(w, "txt_in"));
  double_blocks = register_module("double_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < params.depth; i++)
    double_blocks->push_back(DoubleStreamBlock(w, "double_blocks." + std::to_string(i), params));
  single_blocks = register_module("single_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < params.depth_single_blocks; i++)
    single_blocks->push_back(SingleStreamBlock(w, "single_blocks." + std::to_string(i), params));
  final_layer = register_module("final_layer", LastLayer(w, "final_layer"));
}

// model.py:84-119.
at::Tensor FluxImpl::forward(const at::Tensor &img_in_, const at::Tensor &img_ids, const at::Tensor &txt_in_,
                             const at::Tensor &txt_ids, const at::Tensor &timesteps, const at::Tensor &y_in,
                             const std::optional<at::Tensor> &guidance, FluxTrace *trace,
                             const std::optional<at::Tensor> &txt_valid) {
  const auto &p = params;
  const int64_t naxes = static_cast<int64_t>(p.axes_dim.size());
  if (img_in_.dim() != 3 || img_in_.size(2) != p.in_channels)
    bad_arg("img must be (B, N, " + std::to_string(p.in_channels) + "), got " + shape_str(img_in_.sizes()));
  const int64_t B = img_in_.size(0), N = img_in_.size(1);
  if (txt_in_.dim() != 3 || txt_in_.size(0) != B || txt_in_.size(2) != p.context_in_dim)
    bad_arg("txt must be (" + std::to_string(B) + ", L, " + std::to_string(p.context_in_dim) + "), got " +
            shape_str(txt_in_.sizes()));
  const int64_t L = txt_in_.size(1);
  if (img_ids.sizes() != at::IntArrayRef({B, N, naxes}))
    bad_arg("img_ids must be " + shape_str({B, N, naxes}) + ", got " + shape_str(img_ids.sizes()));
  if (txt_ids.sizes() != at::IntArrayRef({B, L, naxes}))
    bad_arg("txt_ids must be " + shape_str({B, L, naxes}) + ", got " + shape_str(txt_ids.sizes()));
  if (timesteps.sizes() != at::IntArrayRef({B})) bad_arg("timesteps must be (B,), got " + shape_str(timesteps.sizes()));
  if (y_in.sizes() != at::IntArrayRef({B, p.vec_in_dim}))
    bad_arg("y must be " + shape_str({B, p.vec_in_dim}) + ", got " + shape_str(y_in.sizes()));
  if (p.guidance_embed && !guidance) bad_arg("this model embeds guidance but none was given");
  if (guidance && guidance->sizes() != at::IntArrayRef({B}))
    bad_arg("guidance must be (B,), got " + shape_str(guidance->sizes()));
  if (txt_valid && (txt_valid->sizes() != at::IntArrayRef({B, L}) || txt_valid->scalar_type() != at::kBool))
    bad_arg("txt_valid must be bool (B, L), got " + shape_str(txt_valid->sizes()));
  auto note = [&](const char *name, const at::Tensor &t) {
    if (trace) (*trace)[name] = t;
  };
  const at::ScalarType dt = dtype();

  auto img = img_in(img_in_.to(dt));
  note("img_in", img);
  auto t_emb = timestep_embedding(timesteps, 256);
  note("time_in.input", t_emb);
  auto vec = time_in(t_emb.to(dt));
  note("time_in", vec);
  if (p.guidance_embed) {
    auto g_emb = timestep_embedding(*guidance, 256);
    note("guidance_in.input", g_emb);
    auto g = guidance_in(g_emb.to(dt));
    note("guidance_in", g);
    vec = vec + g;
  }
  auto v = vector_in(y_in.to(dt));
  note("vector_in", v);
  vec = vec + v;
  auto txt = txt_in(txt_in_.to(dt));
  note("txt_in", txt);

  auto pe = embed_nd(at::cat({txt_ids, img_ids}, 1).to(at::kFloat), p.axes_dim, p.theta);
  note("pe_embedder", pe);

  // Padding keys are hidden from every query (B, 1, 1, L + N); image keys
  // are always visible.
  std::optional<at::Tensor> mask;
  if (txt_valid) mask = at::cat({*txt_valid, at::ones({B, N}, txt_valid->options())}, 1).view({B, 1, 1, L + N});

  // Blocks by value in the lambdas: backward may re-run them after this returns.
  const bool recompute = recompute_blocks && !trace;
  for (size_t i = 0; i < double_blocks->size(); i++) {
    auto *block = double_blocks[i]->as<DoubleStreamBlock>();
    auto run = [=](const std::vector<at::Tensor> &in) {
      auto out = block->forward(in[0], in[1], in[2], pe, mask);
      return std::vector<at::Tensor>{out.first, out.second};
    };
    auto out = recompute ? recompute_in_backward(run, {img, txt, vec}) : run({img, txt, vec});
    img = out[0];
    txt = out[1];
    if (trace) {
      (*trace)["double_blocks." + std::to_string(i) + ".out0"] = img;
      (*trace)["double_blocks." + std::to_string(i) + ".out1"] = txt;
    }
  }
  auto x = at::cat({txt, img}, 1);
  for (size_t i = 0; i < single_blocks->size(); i++) {
    auto *block = single_blocks[i]->as<SingleStreamBlock>();
    auto run = [=](const std::vector<at::Tensor> &in) {
      return std::vector<at::Tensor>{block->forward(in[0], in[1], pe, mask)};
    };
    x = (recompute ? recompute_in_backward(run, {x, vec}) : run({x, vec}))[0];
    if (trace) (*trace)["single_blocks." + std::to_string(i)] = x;
  }
  img = x.narrow(1, L, N);
  note("final_layer.input", img);
  return final_layer(img, vec);
}

}  // namespace flux
}  // namespace cocoedit
