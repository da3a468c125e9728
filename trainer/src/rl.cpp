// rl.cpp — stage 2: CoCoEdit region-regularized RL (design/cocoedit-rl.md).
//
// One iteration = one optimizer step:
//   1. draw P prompts (not banned), G rollouts each with the old policy;
//   2. rewards R = w_edit·R_edit + w_pix·R_pix per rollout;
//   3. group-normalised advantages → r ∈ [0, 1], valid groups, bans;
//   4. loss over most solver timesteps and all micro-batches:
//        nft:  L = L_policy(NFT) + L_reg(CoCoEdit) + kl·mean((v_θ − v_ref)²)
//        grpo: L = clipped-ratio loss of SDE step log-probs + kl on step means
//   5. clip, AdamW step; θ_old ← η·θ_old + (1 − η)·θ.
// Each stage is a function below (draw_groups and rollout; score;
// advantages; backward_loss, with nft_loss or grpo_loss; optimizer_step and
// ema_update), and run_rl's loop is that list.
// Full fine-tuning (three models: θ, θ_old, θ_ref) or LoRA (lora.rank > 0):
// one frozen base holds two adapters, θ's and θ_old's, and θ_ref is the base
// with neither active, so memory is one base plus adapters and optimizer
// state.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>

#include "autocast.h"
#include "checkpoint.h"
#include "common.h"
#include "threads.h"
#include "dist.h"
#include "error.h"
#include "losses.h"
#include "lora.h"
#include "mllm-judge.h"
#include "reporter.h"
#include "rewards.h"
#include "run-state.h"
#include "samples.h"
#include "sampler.h"
#include "stages.h"

namespace cocoedit::train {

namespace {

enum : uint64_t { kRollout = 10, kTimesteps = 11, kLossNoise = 12 };

// A policy: a model, and its LoRA adapters when training LoRA.  With LoRA
// the policies share one model; use() switches it to this one's adapters
// (or, for the reference, switches off those of `base_of`), and the last
// use() before a backward is the one a recomputing backward runs with.
struct Policy {
  EditModel model{nullptr};
  std::unique_ptr<Lora> lora;
  Lora *base_of = nullptr;  // the reference of a LoRA run: the adapters to switch off

  void use() {
    if (lora) lora->activate();
    else if (base_of) base_of->deactivate();
  }
  std::vector<at::Tensor> trainable() const { return lora ? lora->parameters() : model->parameters(); }
};

struct Rollouts {
  at::Tensor x0;          // (N, C, h, w) the clean results in the model's space
  at::Tensor pixels;      // (N, 3, S, S) the same decoded, in [−1, 1]
  // Flow-GRPO only: the SDE trajectory and the old policy's step log-probs.
  std::vector<at::Tensor> xs;     // K + 1 states
  std::vector<at::Tensor> logps;  // K of (N,)
};

std::optional<at::Tensor> model_mask(EditModelImpl &m, const at::Tensor &mask) {
  if (!m.config.mask_channel) return std::nullopt;
  return mask;
}

Rollouts rollout(Policy &old, const Batch &b, const std::vector<double> &sigmas, const TrainConfig &c, int64_t step,
                 int rank, const at::Device &device) {
  torch::NoGradGuard no_grad;
  old.use();
  EditModelImpl &m = *old.model;
  const int64_t N = b.source.size(0), S = b.source.size(2), mb = c.rl_micro_batch;
  const auto shape = m.space_shape(N, S, S);
  auto noise = step_normal(c, step, rank, kRollout, shape, device);
  Rollouts r;
  const bool sde = c.rl_policy == PolicyLoss::kGrpo;
  const Solver solver = solver_from_name(c.rl_rollout_solver, "rl.rollout_solver");
  const int K = static_cast<int>(sigmas.size()) - 1;
  std::vector<at::Tensor> x0s;
  std::vector<std::vector<at::Tensor>> xs(K + 1), lps(K);
  for (int64_t i = 0; i < N; i += mb) {
    const int64_t n = std::min(mb, N - i);
    Guidance g;
    g.text = c.rl_rollout_guidance;
    Conditioning cond =
        condition_on(m, b.source.narrow(0, i, n) * 2 - 1, b.mask.narrow(0, i, n), prompts_of(b, i, n), g);
    at::Tensor x = noise.narrow(0, i, n);
    if (!sde) {
      x0s.push_back(sample(m, x, sigmas, cond, g, nullptr, solver));
      continue;
    }
    // Flow-GRPO: SDE steps with fresh noise, keeping states and log-probs.
    xs[0].push_back(x);
    for (int k = 0; k < K; k++) {
      auto v = guided_velocity(m, x, sigmas[k], cond, g);
      auto eps = step_normal(c, step, rank, 1000 + k, m.space_shape(n, S, S), device);
      auto st = sde_step(x, v, sigmas[k], sigmas[k + 1], c.rl_grpo_noise, sigmas[1], eps);
      x = st.x_next;
      xs[k + 1].push_back(x);
      lps[k].push_back(st.log_prob);
    }
    x0s.push_back(sigmas.back() > 0 ? x - sigmas.back() * guided_velocity(m, x, sigmas.back(), cond, g) : x);
  }
  // Pixels are clamped to the image range; latents have none.
  r.x0 = at::cat(x0s);
  if (!m.codec.latent()) r.x0 = r.x0.clamp(-1, 1);
  r.pixels = m.codec.decode(r.x0).clamp(-1, 1);
  if (sde) {
    for (auto &v : xs) r.xs.push_back(at::cat(v));
    for (auto &v : lps) r.logps.push_back(at::cat(v));
  }
  return r;
}

// Draws P prompts from the stream, skipping banned ones, and repeats each G times.
Batch draw_groups(SampleSource &data, RunState &state, const TrainConfig &c, const at::Device &device) {
  std::set<std::string> banned(state.banned.begin(), state.banned.end());
  std::vector<Sample> picked;
  int64_t scanned = 0;
  while (static_cast<int64_t>(picked.size()) < c.rl_prompts) {
    auto got = data.get(state.data_pos, static_cast<int>(c.rl_prompts - picked.size()));
    state.data_pos += got.size();
    scanned += static_cast<int64_t>(got.size());
    for (auto &s : got)
      if (!banned.count(s.id)) picked.push_back(std::move(s));
    if (data.size() > 0 && scanned > static_cast<int64_t>(data.size()) * 2 && picked.empty())
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "every prompt of the dataset is banned (saturated): nothing left to learn");
  }
  std::vector<Sample> grouped;
  for (const auto &s : picked)
    for (int64_t g = 0; g < c.rl_group; g++) grouped.push_back(s);
  return stack(grouped, device);
}

// The weights of R_pix's SSIM and PSNR parts (also the reference editing reward's).
PixelRewardConfig pixel_reward_config(const TrainConfig &c) {
  return {c.reward_pixel_w_ssim, c.reward_pixel_w_psnr, c.reward_pixel_psnr_max};
}

at::Tensor edit_reward(const TrainConfig &c, const Batch &b, const at::Tensor &result, MllmJudge *judge) {
  const int64_t N = result.size(0);
  if (c.reward_edit == "none") return at::zeros({N}, result.options().dtype(at::kDouble));
  if (c.reward_edit == "reference") {
    if (!b.target.defined()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "reward.edit = reference needs data with targets");
    return reference_reward(result, b.target, b.mask, pixel_reward_config(c));
  }
  std::vector<JudgeRequest> reqs;
  for (int64_t i = 0; i < N; i++) reqs.push_back(JudgeRequest{b.prompts[i], b.source[i].cpu(), result[i].cpu()});
  auto scores = judge->score(reqs);
  return at::tensor(scores, at::kDouble).to(result.device());
}

// The population std of every rank's rewards: ranks exchange ΣR, ΣR² and n.
double reward_std_over_ranks(const at::Tensor &R, Dist &dist) {
  at::Tensor stats = at::stack({R.sum(), R.pow(2).sum(), at::scalar_tensor(static_cast<double>(R.numel()))}).to(at::kDouble);
  dist.all_reduce_sum(stats);
  const double cnt = stats[2].item<double>(), mean = stats[0].item<double>() / cnt;
  return std::sqrt(std::max(0.0, stats[1].item<double>() / cnt - mean * mean));
}

// ---- 2. rewards --------------------------------------------------------------------

struct Scores {
  at::Tensor result;        // (N, 3, S, S) the rollouts in [0, 1]
  at::Tensor edit, pixel;   // (N,) R_edit, R_pix
  at::Tensor R;             // (P, G) w_edit·R_edit + w_pix·R_pix
};

Scores score(const TrainConfig &c, const Batch &b, const Rollouts &roll, MllmJudge *judge) {
  Scores sc;
  sc.result = (roll.pixels + 1) / 2;
  sc.pixel = pixel_reward(sc.result, b.source, b.mask, pixel_reward_config(c));
  sc.edit = edit_reward(c, b, sc.result, judge);
  sc.R = (c.reward_w_edit * sc.edit + c.reward_w_pixel * sc.pixel).to(at::kFloat).view({c.rl_prompts, c.rl_group});
  return sc;
}

// ---- 3. advantages -----------------------------------------------------------------

struct Advantages {
  at::Tensor adv;       // (N,) A, for Flow-GRPO
  at::Tensor r;         // (N,) r = 0.5 + A/10 ∈ [0, 1], for NFT
  at::Tensor valid_g;   // (P,) groups that teach something
  at::Tensor valid;     // (N,) their rows
  double n_valid = 0;
};

// Group-normalised advantages over the global batch, the valid groups, and
// the prompts of saturated groups banned from later steps.
Advantages advantages(const TrainConfig &c, const at::Tensor &R, const Batch &b, Dist &dist, RunState &state,
                      const at::Device &device) {
  const int64_t G = c.rl_group;
  Advantages a;
  auto [adv, r] = group_advantages(R, reward_std_over_ranks(R, dist), c.rl_adv_clip);
  a.adv = adv.flatten().to(device);
  a.r = r.flatten().to(device);
  a.valid_g = valid_groups(R, c.rl_group_std_min, c.rl_group_mean_max);
  a.valid = a.valid_g.repeat_interleave(G).to(device);
  if (c.rl_ban_saturated) {
    auto sat = saturated_groups(R, c.rl_group_std_min, c.rl_group_mean_max);
    for (int64_t i = 0; i < c.rl_prompts; i++)
      if (sat[i].item<bool>()) state.banned.push_back(b.ids[i * G]);
  }
  a.n_valid = a.valid.sum().item<double>();
  return a;
}

// ---- 4. the loss -------------------------------------------------------------------

// The step's loss terms as logged: each micro-batch adds its share.
struct LossTerms {
  double policy = 0, reg = 0, kl = 0, d_keep = 0, d_change = 0;
  double total() const { return policy + reg + kl; }
};

// One (solver step, micro-batch) of the loss: σ_k, rows [i, i + n), and its
// share of the step's mean over valid rows and trained timesteps.
struct Slice {
  int k;
  int64_t i, n;
  at::Tensor valid;
  double share;
};

// Velocities of θ (with gradient), θ_old and θ_ref at the same point x_t.
struct Velocities {
  at::Tensor v, v_old, v_ref;
};

// Where the policies are compared.  NFT: the rollout's result noised again
// at σ_k with fresh noise, x_t = (1 − σ_k)·x0 + σ_k·ε; Flow-GRPO: the
// rollout's own SDE state at step k.
at::Tensor loss_point(const TrainConfig &c, EditModelImpl &m, const Rollouts &roll, const Slice &s, const at::Tensor &t,
                      int64_t step, int rank, const at::Device &device) {
  if (c.rl_policy != PolicyLoss::kNft) return roll.xs[s.k].narrow(0, s.i, s.n);
  const int64_t S = c.data_size;
  auto eps = step_normal(c, step, rank, kLossNoise * 1000 + s.k * 97 + s.i, m.space_shape(s.n, S, S), device);
  return noisy(roll.x0.narrow(0, s.i, s.n), eps, t);
}

// NFT with CoCoEdit's region regularizer (design/cocoedit-rl.md):
//   L = L_policy(v_θ, v_old; r) + L_reg(x̂0⁺, x̂0⁻; W⁺, W⁻, r) + kl·mean((v_θ − v_ref)²)
// L_reg keeps the non-edit region of the positive branch on the rollout
// (hinge on d⁺ = ‖W⁺(x̂0⁺ − x0)‖) and pushes the edit region of the negative
// branch away from the source (hinge on d⁻ = ‖W⁻(x̂0⁻ − src)‖).
at::Tensor nft_loss(const TrainConfig &c, const Velocities &vel, const at::Tensor &x_t, const at::Tensor &x0,
                    const at::Tensor &t, const at::Tensor &src, const RegionWeights *W, const at::Tensor &r,
                    const Slice &s, LossTerms &sum) {
  auto terms = nft_terms(vel.v, vel.v_old, x_t, x0, t, c.rl_beta);
  at::Tensor loss = nft_policy_loss(terms, r, s.valid, c.rl_beta, c.rl_loss_scale);
  sum.policy += loss.item<double>() * s.share;
  if (W) {
    auto dp = weighted_distance(W->pos.narrow(0, s.i, s.n), terms.x0_pos, x0);
    auto dn = weighted_distance(W->neg.narrow(0, s.i, s.n), terms.x0_neg, src);
    auto reg = region_regularizer(hinge_keep(dp, c.rl_tau_pos), hinge_change(dn, c.rl_tau_neg), r, s.valid,
                                  c.rl_lambda_pos, c.rl_lambda_neg);
    loss = loss + reg;
    sum.reg += reg.item<double>() * s.share;
    sum.d_keep += masked_mean(dp.detach(), s.valid).item<double>() * s.share;
    sum.d_change += masked_mean(dn.detach(), s.valid).item<double>() * s.share;
  }
  auto kl = c.rl_kl_weight * masked_mean(kl_to_reference(vel.v, vel.v_ref), s.valid);
  sum.kl += kl.item<double>() * s.share;
  return loss + kl;
}

// Flow-GRPO: the clipped ratio of θ's and θ_old's log-probabilities of the
// rollout's SDE step x_t → x_next, weighted by A, plus kl·‖μ_θ − μ_ref‖²/σ²
// on the step means.
at::Tensor grpo_loss(const TrainConfig &c, const Velocities &vel, const at::Tensor &x_t, const Rollouts &roll,
                     const std::vector<double> &sigmas, const at::Tensor &adv, const Slice &s, LossTerms &sum) {
  const int k = s.k;
  auto x_next = roll.xs[k + 1].narrow(0, s.i, s.n);
  auto now = sde_step(x_t, vel.v, sigmas[k], sigmas[k + 1], c.rl_grpo_noise, sigmas[1], std::nullopt, x_next);
  at::Tensor loss = grpo_policy_loss(now.log_prob, roll.logps[k].narrow(0, s.i, s.n), adv, s.valid, c.rl_grpo_clip);
  sum.policy += loss.item<double>() * s.share;
  if (c.rl_grpo_kl > 0) {
    auto mean_ref = sde_step(x_t, vel.v_ref, sigmas[k], sigmas[k + 1], c.rl_grpo_noise, sigmas[1], std::nullopt, x_next).mean;
    auto kl = c.rl_grpo_kl * masked_mean(grpo_kl(now.mean, mean_ref, now.std), s.valid);
    loss = loss + kl;
    sum.kl += kl.item<double>() * s.share;
  }
  return loss;
}

// The three policies of the method.
struct Policies {
  Policy &policy;  // θ, trained
  Policy &old;     // θ_old, lagging
  Policy &ref;     // θ_ref, the frozen base
};

// Backpropagates the step's loss, the mean over valid rows and over
// rl.train_timesteps solver steps drawn at random, micro-batch by
// micro-batch (gradients accumulate); returns its terms.
LossTerms backward_loss(const TrainConfig &c, Policies &p, const Batch &b, const Rollouts &roll,
                        const Advantages &a, const std::vector<double> &sigmas, int64_t step, int rank,
                        const at::Device &device) {
  EditModelImpl &m = *p.policy.model;
  const ModelConfig &mc = m.config;
  const int64_t N = b.source.size(0);
  const int K = static_cast<int>(sigmas.size()) - 1, T = static_cast<int>(c.rl_train_timesteps);
  LossTerms sum;
  auto order = at::randperm(K, at::make_generator<at::CPUGeneratorImpl>(derive_seed(c.run_seed, step, rank, kTimesteps)));
  // The loss works in the model's space: encoded source, mask at its size.
  const auto mask_s = m.codec.mask(b.mask);
  std::optional<RegionWeights> W;
  if (c.rl_regularizer) W = region_weights(mask_to_grid(mask_s, mc.patch_size), c.rl_erode_radius, c.rl_ring_weight);
  auto src = m.codec.encode(b.source * 2 - 1);
  // The frozen models' encodings of each micro-batch's instructions do not
  // change during the step: encode them once, not per timestep.  With LoRA
  // the three policies share one frozen text encoder (only the transformer
  // is adapted): one encoding serves all three.
  const bool one_text_encoder = p.policy.lora != nullptr;
  std::vector<TextContext> old_text, ref_text;
  {
    torch::NoGradGuard ng;
    for (int64_t i = 0; i < N; i += c.rl_micro_batch) {
      const auto prompts = prompts_of(b, i, std::min<int64_t>(c.rl_micro_batch, N - i));
      old_text.push_back(p.old.model->encode_text(tokenize(prompts, mc.text_max_bytes)));
      ref_text.push_back(one_text_encoder ? old_text.back()
                                          : p.ref.model->encode_text(tokenize(prompts, mc.text_max_bytes)));
    }
  }
  for (int ti = 0; ti < T; ti++) {
    const int k = static_cast<int>(order[ti].item<int64_t>());
    for (int64_t i = 0; i < N; i += c.rl_micro_batch) {
      const int64_t n = std::min<int64_t>(c.rl_micro_batch, N - i);
      Slice s{k, i, n, a.valid.narrow(0, i, n), 0.0};
      const double n_valid_mb = s.valid.sum().item<double>();
      if (n_valid_mb == 0) continue;
      s.share = n_valid_mb / a.n_valid / T;
      auto mask = model_mask(m, mask_s.narrow(0, i, n));
      auto src_mb = src.narrow(0, i, n);
      auto t = at::full({n}, sigmas[k], src.options());
      auto x_t = loss_point(c, m, roll, s, t, step, rank, device);
      const size_t mb = static_cast<size_t>(i / c.rl_micro_batch);
      Velocities vel;
      {
        torch::NoGradGuard ng;
        p.old.use();
        vel.v_old = p.old.model->forward(x_t, src_mb, mask, t, old_text[mb]);
        p.ref.use();
        vel.v_ref = p.ref.model->forward(x_t, src_mb, mask, t, ref_text[mb]);
      }
      p.policy.use();
      {
        AutocastScope amp(device.type(), use_autocast(c, device));
        vel.v = m.forward(x_t, src_mb, mask, t,
                          one_text_encoder ? old_text[mb]
                                           : m.encode_text(tokenize(prompts_of(b, i, n), mc.text_max_bytes)))
                    .to(at::kFloat);
      }
      at::Tensor loss = c.rl_policy == PolicyLoss::kNft
                            ? nft_loss(c, vel, x_t, roll.x0.narrow(0, i, n), t, src_mb, W ? &*W : nullptr,
                                       a.r.narrow(0, i, n), s, sum)
                            : grpo_loss(c, vel, x_t, roll, sigmas, a.adv.narrow(0, i, n), s, sum);
      (loss * s.share).backward();
    }
  }
  return sum;
}

// ---- 5. the optimizer step and the logs ------------------------------------------

// Clips and applies the averaged gradients; returns the gradient norm
// (0 when no group was valid: nothing to learn from this batch).
double optimizer_step(const TrainConfig &c, torch::optim::AdamW &opt, std::vector<at::Tensor> &params,
                      const Advantages &a, int64_t step) {
  if (a.n_valid <= 0) return 0;
  const double grad_norm = torch::nn::utils::clip_grad_norm_(params, c.optim_grad_clip);
  set_learning_rate(opt, learning_rate(c, step));
  opt.step();
  return grad_norm;
}

void log_step(Reporter &rep, const TrainConfig &c, const RunState &state, const Batch &b, const Scores &sc,
              const Advantages &a, const LossTerms &sum, double grad_norm, double eta, bool main) {
  auto ne = region_psnr_ssim(sc.result, b.source, 1 - b.mask);
  rep.log(state.step, {{"reward", sc.R.mean().item<double>()},
                       {"reward_edit", sc.edit.mean().item<double>()},
                       {"reward_pixel", sc.pixel.mean().item<double>()},
                       {"nonedit_psnr", ne.psnr.mean().item<double>()},
                       {"nonedit_ssim", ne.ssim.mean().item<double>()},
                       {"valid_groups", a.valid_g.to(at::kFloat).mean().item<double>()},
                       {"loss", sum.total()},
                       {"loss_policy", sum.policy},
                       {"loss_reg", sum.reg},
                       {"loss_kl", sum.kl},
                       {"d_keep", sum.d_keep},
                       {"d_change", sum.d_change},
                       {"grad_norm", grad_norm},
                       {"eta", eta},
                       {"banned", static_cast<double>(state.banned.size())}});
  if (main && (state.step % c.log_samples_every == 0 || state.step == c.optim_steps)) {
    const int64_t N = b.source.size(0), G = c.rl_group;
    std::vector<std::vector<at::Tensor>> rows;
    std::vector<std::string> labels;
    for (int64_t i = 0; i < std::min<int64_t>(N, 4 * G); i += G) {
      rows.push_back({b.source[i].cpu(), sc.result[i].cpu(), sc.result[i + 1].cpu(), b.mask[i].cpu()});
      labels.push_back(b.prompts[i]);
    }
    rep.grid("rollouts-" + std::to_string(state.step), rows, {"source", "rollout 1", "rollout 2", "mask"}, labels);
  }
}

}  // namespace

void run_rl(const TrainConfig &c, bool resume) {
  const at::Device device = pick_device(c.run_device);
  configure_threads(static_cast<int>(c.run_threads));
  if (c.model_init.empty()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "rl needs model.init: the SFT checkpoint to start from");
  Dist dist(device);

  // θ (trainable), θ_old (lagged), θ_ref (frozen base).
  Policy policy, old, ref;
  policy.model = initial_model(c, device);
  if (c.lora_rank > 0) {
    // One base: θ and θ_old are adapters on it (equal at the start), θ_ref the base alone.
    LoraSpec spec{static_cast<int>(c.lora_rank), c.lora_alpha, c.lora_targets};
    old.model = ref.model = policy.model;
    policy.lora = std::make_unique<Lora>(*policy.model, spec, c.run_seed);
    old.lora = std::make_unique<Lora>(*policy.model, spec, c.run_seed);
    ref.base_of = policy.lora.get();
  } else {
    ref.model = frozen_copy(*policy.model, device);
    old.model = frozen_copy(*policy.model, device);
  }
  auto params = policy.trainable();
  auto opt = make_optimizer(c, params);
  SampleSource data(c, dist.rank(), dist.world());
  std::unique_ptr<MllmJudge> judge;
  if (c.reward_edit == "mllm") {
    MllmConfig mc;
    mc.url = c.reward_mllm_url;
    mc.model = c.reward_mllm_model;
    mc.use_logprobs = c.reward_mllm_logprobs;
    mc.concurrency = static_cast<int>(c.reward_mllm_concurrency);
    mc.timeout_s = c.reward_mllm_timeout;
    judge = std::make_unique<MllmJudge>(mc);
  }

  CheckpointParts parts;
  parts.optimizer = &opt;
  if (policy.lora) {
    parts.loras = {{"lora", policy.lora.get()}, {"lora-old", old.lora.get()}};
  } else {
    parts.models = {{"model", policy.model.get()}, {"old", old.model.get()}};
  }
  RunState state;
  if (resume) {
    const std::string ck = find_checkpoint(c.run_out_dir);
    if (!ck.empty()) {
      state = load_checkpoint(ck, parts);
      say(dist.rank(), "resumed from " + ck + " at step " + std::to_string(state.step));
    }
  }
  dist.broadcast(params);

  EditModelImpl &m = *policy.model;
  const int64_t S = c.data_size;
  if (S % m.pixels_per_token())
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.size must be a multiple of the model's token size in pixels");
  const auto sigmas = sigma_schedule(static_cast<int>(c.rl_rollout_steps), resolution_shift(m, S, S), 1.0,
                                     c.rl_rollout_sigma_min);
  Reporter rep(c, dist.main(), "rl", c.optim_steps, state.step);
  if (dist.main())
    say(0, "rl (" + c.rl_loss + (c.rl_regularizer ? " + region regularizer" : "") + "): " +
               std::to_string(m.parameter_count()) + " parameters" +
               (policy.lora ? ", LoRA rank " + std::to_string(c.lora_rank) : std::string(", full fine-tuning")) +
               ", P=" + std::to_string(c.rl_prompts) + " G=" + std::to_string(c.rl_group) + ", data: " + data.describe());
  Policies policies{policy, old, ref};

  while (state.step < c.optim_steps) {
    const int64_t step = state.step;
    // 1. prompts, and G rollouts of each by the old policy
    Batch b = draw_groups(data, state, c, device);
    Rollouts roll = rollout(old, b, sigmas, c, step, dist.rank(), device);
    // 2. rewards
    Scores sc = score(c, b, roll, judge.get());
    if (!at::isfinite(sc.R).all().item<bool>()) {
      skip_nonfinite_step(state, c, dist.rank(), "reward");
      continue;
    }
    // 3. advantages
    Advantages a = advantages(c, sc.R, b, dist, state, device);
    // 4. the loss, backpropagated
    opt.zero_grad();
    LossTerms sum;
    if (a.n_valid > 0) sum = backward_loss(c, policies, b, roll, a, sigmas, step, dist.rank(), device);
    dist.average_gradients(params);
    if (!std::isfinite(sum.total()) || !gradients_finite(params)) {
      opt.zero_grad();
      skip_nonfinite_step(state, c, dist.rank(), "loss or gradient");
      continue;
    }
    state.nonfinite_in_row = 0;
    // 5. the optimizer step; θ_old ← η·θ_old + (1 − η)·θ
    const double grad_norm = optimizer_step(c, opt, params, a, step);
    const double eta = old_policy_eta(step, c.rl_eta_rate, c.rl_eta_max);
    ema_update(old.trainable(), params, eta);
    state.step++;

    log_step(rep, c, state, b, sc, a, sum, grad_norm, eta, dist.main());
    checkpoint_if_due(c, state, parts, dist);
  }
  rep.finish();
  say(dist.rank(), "weights fingerprint " + weights_fingerprint(params));
  if (dist.main()) {
    // The product: an engine model directory (LoRA merged in) and, for
    // LoRA runs, the adapter file on its own.
    if (policy.lora) {
      policy.lora->save(c.run_out_dir + "/lora.safetensors");
      torch::NoGradGuard ng;
      EditModel merged = frozen_copy(m, device);
      merge_lora_file(*merged, c.run_out_dir + "/lora.safetensors", 1.0);
      save_model(*merged, c.run_out_dir + "/model", 15u << 20);
    } else {
      save_model(m, c.run_out_dir + "/model", 15u << 20);
    }
    say(0, "rl: wrote " + c.run_out_dir + "/model");
  }
}

}  // namespace cocoedit::train
