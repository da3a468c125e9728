// sampler.cpp — schedules, guidance, solvers and SDE steps (see sampler.h).
#include "sampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "error.h"

namespace cocoedit {

double resolution_shift(const EditModelImpl &model, int64_t height, int64_t width) {
  const ModelConfig &config = model.config;
  const double ref = static_cast<double>(model.token_count(config.image_size, config.image_size));
  const double n_tokens = static_cast<double>(model.token_count(height, width));
  const double s = config.time_shift * std::sqrt(n_tokens / ref);
  return std::clamp(s, 1.0, 16.0);
}

std::vector<double> sigma_schedule(int steps, double shift, double strength, double sigma_min) {
  if (steps < 1) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "steps must be at least 1");
  if (!(strength > 0.0 && strength <= 1.0)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "strength must be in (0, 1]");
  std::vector<double> sigmas;
  for (int i = 0; i <= steps; i++) {
    // Uniform in t from `strength` down to `sigma_min`, then shifted.
    const double t = strength + (sigma_min - strength) * i / steps;
    sigmas.push_back(shift * t / (1.0 + (shift - 1.0) * t));
  }
  return sigmas;
}

at::Tensor starting_point(const at::Tensor &noise, const at::Tensor &source, const std::vector<double> &sigmas) {
  if (sigmas.empty() || sigmas[0] >= 1.0) return noise;
  return (1.0 - sigmas[0]) * source + sigmas[0] * noise;
}

Conditioning condition_on(EditModelImpl &model, const at::Tensor &source, const at::Tensor &mask,
                          const std::vector<std::string> &prompts, const Guidance &g) {
  const ModelConfig &c = model.config;
  Conditioning cond;
  cond.source = model.codec.encode(source);
  if (c.mask_channel) cond.mask = model.codec.mask(mask);
  cond.text = model.encode_text(tokenize(prompts, c.text_max_bytes));
  if (g.text != 1.0 || g.image != 1.0) cond.empty_text = model.encode_text(tokenize({""}, c.text_max_bytes));
  return cond;
}

at::Tensor guided_velocity(EditModelImpl &model, const at::Tensor &x, double t, const Conditioning &cond,
                           const Guidance &g) {
  const int64_t B = x.size(0);
  auto tt = at::full({B}, t, x.options().dtype(at::kFloat));
  std::optional<at::Tensor> emb;
  if (model.config.guidance_embed) emb = at::full({B}, g.embedded, tt.options());

  auto v_full = model.forward(x, cond.source, cond.mask, tt, cond.text, emb);
  const bool use_text = g.text != 1.0, use_image = g.image != 1.0;
  if (!use_text && !use_image) return v_full;
  if ((use_text || use_image) && !cond.empty_text)
    fail(COCOEDIT_ERR_INTERNAL, "guidance needs the empty instruction's encoding");
  auto v_img = model.forward(x, cond.source, cond.mask, tt, *cond.empty_text, emb);
  if (!use_image) return v_img + g.text * (v_full - v_img);
  auto v_none = model.forward(x, std::nullopt, cond.mask, tt, *cond.empty_text, emb);
  return v_none + g.image * (v_img - v_none) + g.text * (v_full - v_img);
}

at::Tensor euler_step(const at::Tensor &x, const at::Tensor &v, double sigma, double sigma_next) {
  return x + (sigma_next - sigma) * v;
}

SdeStep sde_step(const at::Tensor &x, const at::Tensor &v, double sigma, double sigma_next, double a,
                 double sigma_one, const std::optional<at::Tensor> &noise, const std::optional<at::Tensor> &x_next) {
  const double t = sigma;
  const double below_one = t >= 1.0 ? sigma_one : t;
  if (!(below_one < 1.0 && t > 0.0))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "sde_step: σ must be in (0, 1), or 1 with σ_1 < 1");
  const double dt = sigma_next - sigma;
  const double st = a * std::sqrt(t / (1.0 - below_one));
  SdeStep out;
  out.mean = x * (1.0 + st * st * dt / (2.0 * t)) + v * (1.0 + st * st * (1.0 - t) / (2.0 * t)) * dt;
  out.std = st * std::sqrt(-dt);
  if (x_next) {
    out.x_next = *x_next;
  } else {
    if (!noise) fail(COCOEDIT_ERR_INTERNAL, "sde_step needs noise or x_next");
    out.x_next = out.mean + out.std * *noise;
  }
  // log N(x_next; μ, std²), averaged over all pixels of each sample.
  auto d = (out.x_next.detach() - out.mean).to(at::kFloat);
  auto lp = -d.pow(2) / (2.0 * out.std * out.std) - std::log(out.std) - 0.5 * std::log(2.0 * M_PI);
  out.log_prob = lp.flatten(1).mean(1);
  return out;
}

Solver solver_from_name(const std::string &name, const std::string &what) {
  if (name == "euler") return Solver::kEuler;
  if (name == "dpm2") return Solver::kDpm2M;
  fail(COCOEDIT_ERR_INVALID_ARGUMENT, what + ": unknown solver \"" + name + "\" (euler or dpm2)");
}

// λ = log(α/σ) with α = 1 − σ: −∞ at σ = 1, +∞ at σ = 0.
static double log_snr(double sigma) { return std::log1p(-sigma) - std::log(sigma); }

at::Tensor solve(at::Tensor x, const std::vector<double> &sigmas, const VelocityField &velocity, Solver solver,
                 const StepCallback &on_step) {
  const int n = static_cast<int>(sigmas.size()) - 1;
  at::Tensor d_prev;
  double h_prev = INFINITY;
  for (int i = 0; i < n; i++) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    auto v = velocity(x, s);
    if (s_next <= 0.0 || solver == Solver::kEuler) {
      x = euler_step(x, v, s, s_next);
    } else {
      // DPM-Solver++(2M) on the data prediction; the step from σ = 1 has an
      // infinite h, so the first two steps are first order (that is, Euler).
      const double h = log_snr(s_next) - log_snr(s);
      auto d = x - s * v;
      at::Tensor d_use = d;
      if (d_prev.defined() && std::isfinite(h_prev)) {
        const double r = h_prev / h;
        d_use = (1.0 + 0.5 / r) * d - (0.5 / r) * d_prev;
      }
      // (1 − σ_next)·(1 − e^(−h)) = (1 − σ_next) − σ_next·(1 − σ)/σ
      x = (s_next / s) * x + ((1.0 - s_next) - s_next * (1.0 - s) / s) * d_use;
      d_prev = d;
      h_prev = h;
    }
    if (on_step && !on_step(i + 1, n)) fail(COCOEDIT_ERR_CANCELLED, "cancelled");
  }
  if (sigmas.back() > 0) x = x - sigmas.back() * velocity(x, sigmas.back());
  return x;
}

at::Tensor sample(EditModelImpl &model, at::Tensor x, const std::vector<double> &sigmas, const Conditioning &cond,
                  const Guidance &g, const StepCallback &on_step, Solver solver) {
  return solve(
      x, sigmas, [&](const at::Tensor &xt, double sigma) { return guided_velocity(model, xt, sigma, cond, g); },
      solver, on_step);
}

at::Tensor seeded_noise(uint64_t seed, at::IntArrayRef shape, const at::Device &device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::normal(0.0, 1.0, shape, gen).to(device);
}

}  // namespace cocoedit
