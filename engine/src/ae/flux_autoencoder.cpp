// flux_autoencoder.cpp — the FLUX autoencoder's layers, its two key
// layouts, and encode/decode (see flux_autoencoder.h).
#include "ae/flux_autoencoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <glib.h>
#include <torch/torch.h>

#include <cerrno>
#include <cmath>

#include <set>
#include <sstream>

#include "error.h"
#include "json_config.h"
#include "safetensors.h"

namespace cocoedit {

// ---- the module tree -------------------------------------------------------------

namespace {

struct Conv { at::Tensor weight, bias; };
struct Norm { at::Tensor weight, bias; };
// nin_shortcut is left undefined when the block keeps its width.
struct ResBlock { Norm norm1, norm2; Conv conv1, conv2, nin_shortcut; };
struct Attn { Norm norm; Conv q, k, v, proj_out; };
struct Mid { ResBlock block_1, block_2; Attn attn_1; };
// `resample` is the downsample (encoder) or upsample (decoder) conv, undefined
// on the level that has none.
struct Level { std::vector<ResBlock> block; Conv resample; };
struct Coder { Conv conv_in; std::vector<Level> level; Mid mid; Norm norm_out; Conv conv_out; };

}  // namespace

struct FluxAutoencoder::Weights { Coder encoder, decoder; };

namespace {

// One tensor of the layout under both namings.
struct Slot {
  std::string bfl, diffusers;
  std::vector<int64_t> shape;
  at::Tensor *tensor;
  bool linear_ok;  // diffusers may store this 1×1 conv as a Linear [C, C]
};

// Walks the module tree in BFL's order and lists every tensor with its BFL
// name, its diffusers AutoencoderKL name and its shape.
class Layout {
 public:
  Layout(const AutoencoderParams &p, FluxAutoencoder::Weights &w) : p_(p) {
    encoder(w.encoder);
    decoder(w.decoder);
  }
  std::vector<Slot> slots;

 private:
  const AutoencoderParams &p_;

  void tensor(at::Tensor &t, const std::string &bfl, const std::string &diff,
              std::vector<int64_t> shape, bool linear_ok = false) {
    slots.push_back({bfl, diff, std::move(shape), &t, linear_ok});
  }
  void conv(Conv &c, const std::string &bfl, const std::string &diff, int64_t cout, int64_t cin, int64_t k,
            bool linear_ok = false) {
    tensor(c.weight, bfl + ".weight", diff + ".weight", {cout, cin, k, k}, linear_ok);
    tensor(c.bias, bfl + ".bias", diff + ".bias", {cout});
  }
  void norm(Norm &n, const std::string &bfl, const std::string &diff, int64_t c) {
    tensor(n.weight, bfl + ".weight", diff + ".weight", {c});
    tensor(n.bias, bfl + ".bias", diff + ".bias", {c});
  }
  void resblock(ResBlock &r, const std::string &bfl, const std::string &diff, int64_t cin, int64_t cout) {
    norm(r.norm1, bfl + ".norm1", diff + ".norm1", cin);
    conv(r.conv1, bfl + ".conv1", diff + ".conv1", cout, cin, 3);
    norm(r.norm2, bfl + ".norm2", diff + ".norm2", cout);
    conv(r.conv2, bfl + ".conv2", diff + ".conv2", cout, cout, 3);
    if (cin != cout) conv(r.nin_shortcut, bfl + ".nin_shortcut", diff + ".conv_shortcut", cout, cin, 1);
  }
  void mid(Mid &m, const std::string &side, int64_t c) {
    const std::string bfl = side + ".mid", diff = side + ".mid_block";
    resblock(m.block_1, bfl + ".block_1", diff + ".resnets.0", c, c);
    const std::string a = bfl + ".attn_1", da = diff + ".attentions.0";
    norm(m.attn_1.norm, a + ".norm", da + ".group_norm", c);
    conv(m.attn_1.q, a + ".q", da + ".to_q", c, c, 1, true);
    conv(m.attn_1.k, a + ".k", da + ".to_k", c, c, 1, true);
    conv(m.attn_1.v, a + ".v", da + ".to_v", c, c, 1, true);
    conv(m.attn_1.proj_out, a + ".proj_out", da + ".to_out.0", c, c, 1, true);
    resblock(m.block_2, bfl + ".block_2", diff + ".resnets.1", c, c);
  }

  void encoder(Coder &e) {
    const int L = p_.levels();
    int64_t block_in = p_.ch;
    conv(e.conv_in, "encoder.conv_in", "encoder.conv_in", block_in, p_.in_channels, 3);
    e.level.resize(L);
    for (int i = 0; i < L; i++) {
      const std::string bfl = "encoder.down." + std::to_string(i), diff = "encoder.down_blocks." + std::to_string(i);
      const int64_t block_out = static_cast<int64_t>(p_.ch) * p_.ch_mult[i];
      e.level[i].block.resize(p_.num_res_blocks);
      for (int j = 0; j < p_.num_res_blocks; j++) {
        resblock(e.level[i].block[j], bfl + ".block." + std::to_string(j), diff + ".resnets." + std::to_string(j),
                 block_in, block_out);
        block_in = block_out;
      }
      if (i != L - 1)
        conv(e.level[i].resample, bfl + ".downsample.conv", diff + ".downsamplers.0.conv", block_in, block_in, 3);
    }
    mid(e.mid, "encoder", block_in);
    norm(e.norm_out, "encoder.norm_out", "encoder.conv_norm_out", block_in);
    conv(e.conv_out, "encoder.conv_out", "encoder.conv_out", 2 * p_.z_channels, block_in, 3);
  }

  // Diffusers numbers the decoder's levels in the order they run: BFL's
  // up.i is up_blocks.(L − 1 − i).
  void decoder(Coder &d) {
    const int L = p_.levels();
    int64_t block_in = static_cast<int64_t>(p_.ch) * p_.ch_mult[L - 1];
    conv(d.conv_in, "decoder.conv_in", "decoder.conv_in", block_in, p_.z_channels, 3);
    mid(d.mid, "decoder", block_in);
    d.level.resize(L);
    for (int i = L - 1; i >= 0; i--) {
      const std::string bfl = "decoder.up." + std::to_string(i), diff = "decoder.up_blocks." + std::to_string(L - 1 - i);
      const int64_t block_out = static_cast<int64_t>(p_.ch) * p_.ch_mult[i];
      d.level[i].block.resize(p_.num_res_blocks + 1);
      for (int j = 0; j <= p_.num_res_blocks; j++) {
        resblock(d.level[i].block[j], bfl + ".block." + std::to_string(j), diff + ".resnets." + std::to_string(j),
                 block_in, block_out);
        block_in = block_out;
      }
      if (i != 0)
        conv(d.level[i].resample, bfl + ".upsample.conv", diff + ".upsamplers.0.conv", block_in, block_in, 3);
    }
    norm(d.norm_out, "decoder.norm_out", "decoder.conv_norm_out", block_in);
    conv(d.conv_out, "decoder.conv_out", "decoder.conv_out", p_.out_ch, block_in, 3);
  }
};

bool starts_with(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

// Which naming a file uses, from its keys.
AutoencoderKeys detect_keys(const SafetensorsFile &f) {
  bool bfl = false, diff = false;
  for (const auto &e : f.entries()) {
    const std::string &n = e.name;
    if (starts_with(n, "encoder.down_blocks.") || starts_with(n, "decoder.up_blocks.") ||
        starts_with(n, "encoder.mid_block.") || starts_with(n, "decoder.mid_block."))
      diff = true;
    else if (starts_with(n, "encoder.down.") || starts_with(n, "decoder.up.") || starts_with(n, "encoder.mid.") ||
             starts_with(n, "decoder.mid."))
      bfl = true;
  }
  if (bfl && diff) fail(COCOEDIT_ERR_FORMAT, f.path() + ": mixes BFL (encoder.down.*) and diffusers (encoder.down_blocks.*) names");
  if (!bfl && !diff)
    fail(COCOEDIT_ERR_FORMAT, f.path() + ": no FLUX autoencoder tensors (encoder.down.* or encoder.down_blocks.*) found" +
                                  (f.entries().empty() ? std::string(" (the file is empty)")
                                                       : "; first key is \"" + f.entries()[0].name + "\""));
  return bfl ? AutoencoderKeys::bfl : AutoencoderKeys::diffusers;
}

// ---- layers ------------------------------------------------------------------

constexpr double kNormEps = 1e-6;

// While training, a convolution with fewer than 16 output channels (the
// decoder's RGB conv_out) runs with its weight padded by zero filters and the
// extra outputs dropped: the same values, but oneDNN's backward pass for so
// few output channels returns NaN input gradients now and then on AVX512
// CPUs (docs/reliability.md).
at::Tensor conv(const Conv &c, const at::Tensor &x, int64_t stride, int64_t pad) {
  const int64_t oc = c.weight.size(0);
  if (at::GradMode::is_enabled() && c.weight.requires_grad() && oc < 16) {
    auto w = at::cat({c.weight, at::zeros({16 - oc, c.weight.size(1), c.weight.size(2), c.weight.size(3)}, c.weight.options())});
    auto b = at::cat({c.bias, at::zeros({16 - oc}, c.bias.options())});
    return at::conv2d(x, w, b, {stride, stride}, {pad, pad}).narrow(1, 0, oc);
  }
  return at::conv2d(x, c.weight, c.bias, {stride, stride}, {pad, pad});
}

at::Tensor norm(const Norm &n, const at::Tensor &x, int64_t groups) {
  return at::group_norm(x, groups, n.weight, n.bias, kNormEps);
}

// BFL writes swish as x·sigmoid(x); the same expression keeps the rounding.
at::Tensor swish(const at::Tensor &x) { return x * at::sigmoid(x); }

at::Tensor resblock(const ResBlock &r, const at::Tensor &x, int64_t g) {
  auto h = conv(r.conv1, swish(norm(r.norm1, x, g)), 1, 1);
  h = conv(r.conv2, swish(norm(r.norm2, h, g)), 1, 1);
  auto skip = r.nin_shortcut.weight.defined() ? conv(r.nin_shortcut, x, 1, 0) : x;
  return skip + h;
}

// Single-head attention over all h·w positions, channels as the head dim.
at::Tensor attention(const Attn &a, const at::Tensor &x, int64_t g) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto h = norm(a.norm, x, g);
  auto tokens = [&](const Conv &c) { return conv(c, h, 1, 0).reshape({B, 1, C, H * W}).transpose(2, 3).contiguous(); };
  auto o = at::scaled_dot_product_attention(tokens(a.q), tokens(a.k), tokens(a.v));
  o = o.transpose(2, 3).reshape({B, C, H, W});
  return x + conv(a.proj_out, o, 1, 0);
}

at::Tensor mid(const Mid &m, const at::Tensor &x, int64_t g) {
  return resblock(m.block_2, attention(m.attn_1, resblock(m.block_1, x, g), g), g);
}

// Zero padding on the right and bottom only, then a stride-2 conv.
at::Tensor downsample(const Conv &c, const at::Tensor &x) {
  return conv(c, at::constant_pad_nd(x, {0, 1, 0, 1}, 0), 2, 0);
}

at::Tensor upsample(const Conv &c, const at::Tensor &x) {
  return conv(c, at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)}), 1, 1);
}

}  // namespace

// ---- the autoencoder ------------------------------------------------------------

FluxAutoencoder::FluxAutoencoder(const AutoencoderParams &params, at::ScalarType dtype)
    : params_(params), dtype_(dtype), w_(std::make_unique<Weights>()) {
  params_.validate();
  if (dtype != at::kFloat && dtype != at::kHalf && dtype != at::kBFloat16)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder dtype must be float32, float16 or bfloat16");
}

FluxAutoencoder::~FluxAutoencoder() = default;

AutoencoderKeys FluxAutoencoder::load(const std::string &path) {
  SafetensorsFile f(path);
  const AutoencoderKeys keys = detect_keys(f);
  const bool diff = keys == AutoencoderKeys::diffusers;
  const char *naming = diff ? "diffusers AutoencoderKL" : "BFL";

  const bool reload = loaded_;
  Weights fresh;
  Layout layout(params_, fresh);

  // Check every key and shape before reading any data.
  std::set<std::string> expected;
  std::vector<const TensorEntry *> found;
  for (const Slot &s : layout.slots) {
    const std::string &name = diff ? s.diffusers : s.bfl;
    expected.insert(name);
    const TensorEntry *e = f.find(name);
    if (!e) fail(COCOEDIT_ERR_FORMAT, path + ": missing tensor \"" + name + "\" (" + naming + " names)");
    const bool linear = s.linear_ok && diff && e->shape == std::vector<int64_t>{s.shape[0], s.shape[1]};
    if (e->shape != s.shape && !linear)
      fail(COCOEDIT_ERR_FORMAT, path + ": tensor \"" + name + "\" has shape " + shape_text(e->shape) + ", expected " +
                                    shape_text(s.shape) + " for this autoencoder config");
    require_weight_dtype(path, *e);
    found.push_back(e);
  }
  for (const auto &e : f.entries())
    if (!expected.count(e.name))
      fail(COCOEDIT_ERR_FORMAT, path + ": unexpected tensor \"" + e.name + "\" (not part of the FLUX autoencoder's " +
                                    naming + " layout for this config)");

  if (reload) {
    // Reloading (a training run resuming): into the same tensors, so that an
    // optimizer holding them stays valid.
    at::NoGradGuard no_grad;
    Layout current(params_, *w_);
    for (size_t i = 0; i < current.slots.size(); i++)
      current.slots[i].tensor->copy_(f.read(*found[i]).reshape(current.slots[i].shape));
    return keys;
  }
  for (size_t i = 0; i < layout.slots.size(); i++) {
    const Slot &s = layout.slots[i];
    *s.tensor = f.read(*found[i]).reshape(s.shape).to(device_, dtype_);
  }
  *w_ = std::move(fresh);
  loaded_ = true;
  set_trainable(trainable_);
  return keys;
}

std::unique_ptr<FluxAutoencoder> FluxAutoencoder::from_diffusers_dir(const std::string &dir, at::ScalarType dtype) {
  return from_diffusers_dir(dir, load_autoencoder_params(dir + "/config.json"), dtype);
}

std::unique_ptr<FluxAutoencoder> FluxAutoencoder::from_diffusers_dir(const std::string &dir,
                                                                     const AutoencoderParams &params,
                                                                     at::ScalarType dtype) {
  auto ae = std::make_unique<FluxAutoencoder>(params, dtype);
  ae->load(contained_file(dir, "diffusion_pytorch_model.safetensors"));
  return ae;
}

int64_t FluxAutoencoder::parameter_count(const AutoencoderParams &params) {
  params.validate();
  Weights w;
  int64_t n = 0;
  for (const Slot &s : Layout(params, w).slots) {
    int64_t k = 1;
    for (int64_t d : s.shape) k *= d;
    n += k;
  }
  return n;
}

void FluxAutoencoder::init_weights(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  Weights fresh;
  Layout layout(params_, fresh);
  for (const Slot &s : layout.slots) {
    // A 1-D slot is a GroupNorm's weight or bias, or the bias of the conv
    // before it in the layout.
    const bool is_norm = s.shape.size() == 1 && s.bfl.find("norm") != std::string::npos;
    const bool is_weight = s.bfl.compare(s.bfl.size() - 7, 7, ".weight") == 0;
    at::Tensor v;
    if (is_norm) {
      v = is_weight ? at::ones(s.shape) : at::zeros(s.shape);
    } else {
      // nn.Conv2d's default: kaiming-uniform with a = sqrt(5), i.e. a bound
      // of 1/sqrt(fan_in), for the weight and its bias alike.
      const auto &w = is_weight ? s.shape : (&s - 1)->shape;
      const double bound = 1.0 / std::sqrt(static_cast<double>(w[1] * w[2] * w[3]));
      v = at::rand(s.shape, gen) * (2 * bound) - bound;
    }
    *s.tensor = v.to(device_, dtype_);
  }
  *w_ = std::move(fresh);
  loaded_ = true;
  set_trainable(trainable_);
}

std::vector<at::Tensor> FluxAutoencoder::parameters() const {
  std::vector<at::Tensor> out;
  for (const Slot &s : Layout(params_, *w_).slots) out.push_back(*s.tensor);
  return out;
}

void FluxAutoencoder::set_trainable(bool on) {
  trainable_ = on;
  if (!loaded_) return;
  for (const Slot &s : Layout(params_, *w_).slots) s.tensor->set_requires_grad(on);
}

void FluxAutoencoder::set_latent_scaling(double scale, double shift) {
  AutoencoderParams p = params_;
  p.scale_factor = scale;
  p.shift_factor = shift;
  p.validate("autoencoder latent scaling");
  params_ = p;
}

void FluxAutoencoder::save_diffusers_dir(const std::string &dir, at::ScalarType dtype) const {
  if (!loaded_) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder: save before the weights were set");
  if (g_mkdir_with_parents(dir.c_str(), 0755) != 0)
    fail(COCOEDIT_ERR_IO, dir + ": cannot create the directory: " + g_strerror(errno));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const Slot &s : Layout(params_, *w_).slots) tensors.emplace_back(s.diffusers, s.tensor->detach().cpu());
  write_safetensors(dir + "/diffusion_pytorch_model.safetensors", tensors, dtype, {{"format", "pt"}});
  write_file_atomic(dir + "/config.json", autoencoder_params_to_diffusers_json(params_));
}

void FluxAutoencoder::to(const at::Device &device) {
  Layout layout(params_, *w_);
  if (loaded_)
    for (const Slot &s : layout.slots) *s.tensor = s.tensor->to(device);
  device_ = device;
}

at::Tensor FluxAutoencoder::encode_moments(const at::Tensor &image) const {
  if (!loaded_) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder: encode before the weights were loaded");
  const int64_t f = params_.downsample_factor();
  if (!image.defined() || image.dim() != 4 || image.size(1) != params_.in_channels || !at::isFloatingType(image.scalar_type()))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder: encode needs a floating (B, " + std::to_string(params_.in_channels) +
                                            ", H, W) image");
  if (image.size(0) < 1 || image.size(2) < f || image.size(3) < f || image.size(2) % f || image.size(3) % f)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder: image height and width must be positive multiples of " +
                                            std::to_string(f) + ", got " + std::to_string(image.size(2)) + "x" +
                                            std::to_string(image.size(3)));
  at::AutoGradMode grad(trainable_ && at::GradMode::is_enabled());
  const int64_t g = params_.norm_groups;
  const Coder &e = w_->encoder;
  auto h = conv(e.conv_in, image.to(device_, dtype_), 1, 1);
  for (const Level &level : e.level) {
    for (const ResBlock &b : level.block) h = resblock(b, h, g);
    if (level.resample.weight.defined()) h = downsample(level.resample, h);
  }
  h = mid(e.mid, h, g);
  return conv(e.conv_out, swish(norm(e.norm_out, h, g)), 1, 1);
}

at::Tensor FluxAutoencoder::encode(const at::Tensor &image) const {
  at::AutoGradMode grad(trainable_ && at::GradMode::is_enabled());
  auto mean = encode_moments(image).narrow(1, 0, params_.z_channels);
  return params_.scale_factor * (mean - params_.shift_factor);
}

at::Tensor FluxAutoencoder::decode(const at::Tensor &z) const {
  if (!loaded_) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder: decode before the weights were loaded");
  if (!z.defined() || z.dim() != 4 || z.size(1) != params_.z_channels || z.size(0) < 1 || z.size(2) < 1 ||
      z.size(3) < 1 || !at::isFloatingType(z.scalar_type()))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "autoencoder: decode needs a non-empty floating (B, " +
                                            std::to_string(params_.z_channels) + ", h, w) latent");
  at::AutoGradMode grad(trainable_ && at::GradMode::is_enabled());
  const int64_t g = params_.norm_groups;
  const Coder &d = w_->decoder;
  // BFL: z / scale_factor + shift_factor (a division, as written there).
  auto h = z.to(device_, dtype_) / params_.scale_factor + params_.shift_factor;
  h = mid(d.mid, conv(d.conv_in, h, 1, 1), g);
  for (int i = params_.levels() - 1; i >= 0; i--) {
    const Level &level = d.level[i];
    for (const ResBlock &b : level.block) h = resblock(b, h, g);
    if (level.resample.weight.defined()) h = upsample(level.resample, h);
  }
  return conv(d.conv_out, swish(norm(d.norm_out, h, g)), 1, 1);
}

}  // namespace cocoedit
