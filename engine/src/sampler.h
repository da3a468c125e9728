// sampler.h — turning noise into an edited image with the flow model.
//
// One implementation serves the engine and the trainer: the deterministic
// solvers (Euler, which the plug-in runs, and DPM-Solver++(2M) for RL
// rollouts), and the stochastic (SDE) step with its
// Gaussian log-probability that Flow-GRPO rollouts need.
//
// Conventions (design/cocoedit-rl.md): x_t = (1 − t)·x0 + t·ε, the model
// predicts v = ε − x0, t = σ runs from 1 (noise) to 0 (image).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model.h"

namespace cocoedit {

// The schedule's shift for a height×width picture: the config's shift holds
// at its own working size and grows with the square root of the token count
// (more pixels need more noise to hide the image, the same reasoning as
// FLUX's resolution-dependent shift), clamped to [1, 16].
double resolution_shift(const EditModelImpl &model, int64_t height, int64_t width);

// σ_0 = strength > σ_1 > ... > σ_steps = 0: a uniform grid in t shifted by
// s·t / (1 + (s − 1)·t).  `strength` < 1 starts the edit part-way, from the
// noised source (an img2img-style "preserve" control).
std::vector<double> sigma_schedule(int steps, double shift, double strength = 1.0,
                                   double sigma_min = 0.0);

// Where sampling starts: the noise itself at σ_0 = 1, or, when the schedule
// starts part-way (strength < 1), the encoded source noised to σ_0, as
// x_t = (1 − t)·x0 + t·ε does (img2img: the edit keeps the source's layout
// and tones, which suits recolouring).  One function for engine and eval.
at::Tensor starting_point(const at::Tensor &noise, const at::Tensor &source, const std::vector<double> &sigmas);

// Guidance settings of one sampling run.
struct Guidance {
  double text = 1.0;      // instruction CFG scale (1 = off)
  double image = 1.0;     // source-image CFG scale (1 = off)
  double embedded = 2.5;  // value fed to a guidance-distilled model
};

// Everything the velocity depends on besides x_t and t.
// Images are in the model's space (its codec's: pixels or latents).
struct Conditioning {
  at::Tensor source;              // (B, C, h, w): the encoded source
  std::optional<at::Tensor> mask; // (B, 1, h, w) in [0, 1]
  TextContext text;               // the instruction
  std::optional<TextContext> empty_text;  // "" — needed when guidance.text != 1
};

// The conditioning of a batch: `source` (B, 3, H, W) pixels in [−1, 1] and
// `mask` (B, 1, H, W), both put into the model's space by its codec (the
// mask is given to the model only when its config has a mask channel)
// and one instruction per sample; the empty instruction is encoded too when
// `g` needs it (batch 1: the model broadcasts it).
Conditioning condition_on(EditModelImpl &model, const at::Tensor &source, const at::Tensor &mask,
                          const std::vector<std::string> &prompts, const Guidance &g);

// Velocity with classifier-free guidance: with image guidance (as in
// InstructPix2Pix), v = v∅∅ + g_img·(v_img − v∅∅) + g_txt·(v_full − v_img);
// with text guidance only, v = v_img + g_txt·(v_full − v_img).
at::Tensor guided_velocity(EditModelImpl &model, const at::Tensor &x, double t,
                           const Conditioning &cond, const Guidance &g);

// One deterministic Euler step: x + (σ_next − σ)·v.
at::Tensor euler_step(const at::Tensor &x, const at::Tensor &v, double sigma, double sigma_next);

// One Flow-GRPO SDE step (σ_t = a·sqrt(t / (1 − t)), dt = σ_next − σ < 0):
//   μ = x·(1 + σ_t²·dt / (2t)) + v·(1 + σ_t²·(1 − t) / (2t))·dt
//   x_next = μ + σ_t·sqrt(−dt)·ε
// At t = 1 the noise level would be infinite; as in Flow-GRPO it is
// a·sqrt(1 / (1 − σ_1)), with σ_1 (`sigma_one`) the schedule's second σ.
// `noise` is ε; when `x_next` is given, its log-probability is computed
// instead of a new sample (the ratio of PPO-style losses).
struct SdeStep {
  at::Tensor x_next;
  at::Tensor mean;
  double std = 0.0;
  at::Tensor log_prob;  // (B,) mean over pixels of the Gaussian log-density
};
SdeStep sde_step(const at::Tensor &x, const at::Tensor &v, double sigma, double sigma_next,
                 double a, double sigma_one, const std::optional<at::Tensor> &noise,
                 const std::optional<at::Tensor> &x_next = std::nullopt);

// Returns false to stop: solve() then throws COCOEDIT_ERR_CANCELLED.
using StepCallback = std::function<bool(int step, int n_steps)>;
// The velocity field being integrated: v(x, σ).
using VelocityField = std::function<at::Tensor(const at::Tensor &x, double sigma)>;

// Deterministic solvers of dx/dσ = v.  Written with the data prediction
// D = x − σ·v and λ = log((1 − σ)/σ), h = λ_next − λ:
//   Euler (= DPM-Solver++ first order for this schedule):
//     x_next = (σ_next/σ)·x + (1 − σ_next)·(1 − e^(−h))·D
//   DPM-Solver++(2M) (Lu et al. 2022), the authors' rollout solver: the same
//     update with D replaced by (1 + 1/(2r))·D − 1/(2r)·D_prev, r = h_prev/h;
//     first order where h_prev is infinite (the step from σ = 1) and on the
//     last step to σ = 0 (which lands on D).
enum class Solver { kEuler, kDpm2M };
// "euler" or "dpm2"; throws COCOEDIT_ERR_INVALID_ARGUMENT naming `what` otherwise.
Solver solver_from_name(const std::string &name, const std::string &what);

// Integrates from `x_start` (noise, or the noised source when strength < 1)
// over `sigmas`; a schedule that stops above σ = 0 ends with the one-step
// estimate of x0.  Returns the clean image estimate.
at::Tensor solve(at::Tensor x_start, const std::vector<double> &sigmas, const VelocityField &velocity,
                 Solver solver, const StepCallback &on_step = nullptr);

// solve() with the model's guided velocity.
at::Tensor sample(EditModelImpl &model, at::Tensor x_start, const std::vector<double> &sigmas,
                  const Conditioning &cond, const Guidance &g, const StepCallback &on_step = nullptr,
                  Solver solver = Solver::kEuler);

// Seeded standard-normal noise made on the CPU and moved to `device`, so that
// the same seed gives the same noise on every machine and thread count.
at::Tensor seeded_noise(uint64_t seed, at::IntArrayRef shape, const at::Device &device);

}  // namespace cocoedit
