// losses.h — every loss term of the trainer, one small function each, with
// its equation (design/cocoedit-rl.md has the derivations and settings).
//
// Shapes: images and velocities (N, 3, H, W); masks (N, 1, H, W) in [0, 1]
// with 1 = edit region; per-sample values (N,); t (N,) in [0, 1].
#pragma once

#include <ATen/ATen.h>

namespace cocoedit::train {

// ---- supervised flow matching -------------------------------------------------

// x_t = (1 − t)·x0 + t·ε
at::Tensor noisy(const at::Tensor &x0, const at::Tensor &eps, const at::Tensor &t);

// L_fm = mean((v − (ε − x0))²)
at::Tensor flow_matching_loss(const at::Tensor &v, const at::Tensor &x0, const at::Tensor &eps);

// The same with per-position weights w (B, 1, H, W), e.g. 1 + α·mask to
// spend the loss where the edit is:  Σ w·‖v − (ε − x0)‖² / (C · Σ w).
at::Tensor weighted_flow_matching_loss(const at::Tensor &v, const at::Tensor &x0, const at::Tensor &eps,
                                       const at::Tensor &w);

// t = shift·u / (1 + (shift − 1)·u), u = sigmoid(n), n ~ N(mean, std²)
// (logit-normal time sampling with the resolution shift).
at::Tensor logit_normal_t(const at::Tensor &normal, double mean, double std, double shift);

// ---- rewards to advantages ------------------------------------------------------

// A = clip((R − mean_group(R)) / (std_batch + 1e-4), −c, c); r = 0.5 + A/10.
// R is (P, G); std_batch is the population std of the whole batch's rewards
// (every rank's: reward_std_over_ranks in rl.cpp); returns (A, r), both (P, G).
std::pair<at::Tensor, at::Tensor> group_advantages(const at::Tensor &rewards, double batch_std, double clip);

// A group is valid when std_group(R) > std_min and mean_group(R) < mean_max.  (P,) bool
at::Tensor valid_groups(const at::Tensor &rewards, double std_min, double mean_max);

// Saturated groups (std ≤ std_min and mean ≥ mean_max): their prompts get banned.  (P,) bool
at::Tensor saturated_groups(const at::Tensor &rewards, double std_min, double mean_max);

// mean of x over the samples where valid (N,) is true; 0 when none is.
at::Tensor masked_mean(const at::Tensor &x, const at::Tensor &valid);

// ---- DiffusionNFT ----------------------------------------------------------------

struct NftTerms {
  at::Tensor x0_pos, x0_neg;    // x̂0⁺, x̂0⁻ (N, 3, H, W)
  at::Tensor loss_pos, loss_neg;  // L⁺, L⁻ (N,)
};

// v⁺ = β·v_θ + (1 − β)·v_old,  v⁻ = (1 + β)·v_old − β·v_θ,  x̂0^± = x_t − t·v^±,
// w^± = stopgrad(mean |x̂0^± − x0|) floored at 1e-5,  L^± = mean((x̂0^± − x0)²) / w^±
NftTerms nft_terms(const at::Tensor &v_theta, const at::Tensor &v_old, const at::Tensor &x_t,
                   const at::Tensor &x0, const at::Tensor &t, double beta);

// The adaptive weight alone: w = stopgrad(mean |x̂0 − x0|), floored at 1e-5.  (N,)
at::Tensor adaptive_weight(const at::Tensor &x0_hat, const at::Tensor &x0);

// L_policy = scale · mean_valid(r·L⁺ + (1 − r)·L⁻) / β
at::Tensor nft_policy_loss(const NftTerms &terms, const at::Tensor &r, const at::Tensor &valid, double beta,
                           double scale);

// ---- CoCoEdit's region regularizer ------------------------------------------------

// erode(M) = 1 − maxpool_{(2ρ+1)×(2ρ+1)}(1 − M), on (N, 1, h, w).
at::Tensor erode(const at::Tensor &m, int64_t radius);

struct RegionWeights {
  at::Tensor pos, neg;  // W⁺, W⁻ (N, 1, h, w) on the patch grid
};

// M_ne = 1 − mask, M_e = mask (nearest-resized to the grid),
// ring = 1 − clamp(erode(M_ne) + erode(M_e), 0, 1),
// W⁺ = clamp(erode(M_ne) + ring_w·ring, 0, 1),  W⁻ = clamp(erode(M_e) + ring_w·ring, 0, 1).
RegionWeights region_weights(const at::Tensor &mask_grid, int64_t radius, double ring_weight);

// The mask on the model's patch grid: nearest-neighbour resize to (H/p, W/p).
at::Tensor mask_to_grid(const at::Tensor &mask, int64_t patch);

// d = Σ W·(a − b)² / Σ W, with W on the patch grid spread over its pixels and
// (a − b)² averaged over channels.  (N,)
at::Tensor weighted_distance(const at::Tensor &w_grid, const at::Tensor &a, const at::Tensor &b);

// L_ner⁺ = ReLU(d⁺ − τ⁺): a high-reward sample's non-edit region should stay put.
at::Tensor hinge_keep(const at::Tensor &d_pos, double tau_pos);

// L_er⁻ = ReLU(τ⁻ − d⁻): a low-reward sample's edit region should move away from the source.
at::Tensor hinge_change(const at::Tensor &d_neg, double tau_neg);

// L_reg = mean_valid(r·λ⁺·L_ner⁺) + mean_valid((1 − r)·λ⁻·L_er⁻)
at::Tensor region_regularizer(const at::Tensor &l_keep, const at::Tensor &l_change, const at::Tensor &r,
                              const at::Tensor &valid, double lambda_pos, double lambda_neg);

// ---- reference and old policy ------------------------------------------------------

// KL surrogate: mean((v_θ − v_ref)²) per sample.  (N,)
at::Tensor kl_to_reference(const at::Tensor &v_theta, const at::Tensor &v_ref);

// η = min(rate·step, max): θ_old ← η·θ_old + (1 − η)·θ.
double old_policy_eta(int64_t step, double rate, double max);

// ---- Flow-GRPO --------------------------------------------------------------------------

// −mean_valid(min(ρ·A, clip(ρ, 1 − ε, 1 + ε)·A)), ρ = exp(log p_θ − log p_old)
at::Tensor grpo_policy_loss(const at::Tensor &logp_new, const at::Tensor &logp_old, const at::Tensor &adv,
                            const at::Tensor &valid, double clip);

// β_KL·‖μ_θ − μ_ref‖² / (2σ²), averaged over pixels.  (N,)
at::Tensor grpo_kl(const at::Tensor &mean_theta, const at::Tensor &mean_ref, double std);

}  // namespace cocoedit::train
