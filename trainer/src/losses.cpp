// losses.cpp — see losses.h for the equations.
#include "losses.h"

#include <algorithm>

namespace cocoedit::train {

namespace {

// (N,) → (N, 1, 1, 1), to scale images per sample.
at::Tensor per_sample(const at::Tensor &x) { return x.view({-1, 1, 1, 1}); }

at::Tensor mean_per_sample(const at::Tensor &x) { return x.flatten(1).mean(1); }

}  // namespace

at::Tensor noisy(const at::Tensor &x0, const at::Tensor &eps, const at::Tensor &t) {
  return (1 - per_sample(t)) * x0 + per_sample(t) * eps;
}

at::Tensor flow_matching_loss(const at::Tensor &v, const at::Tensor &x0, const at::Tensor &eps) {
  return (v.to(at::kFloat) - (eps - x0)).pow(2).mean();
}

at::Tensor weighted_flow_matching_loss(const at::Tensor &v, const at::Tensor &x0, const at::Tensor &eps,
                                       const at::Tensor &w) {
  auto err = (v.to(at::kFloat) - (eps - x0)).pow(2).mean(1, true);
  auto we = w.to(at::kFloat).expand_as(err);
  return (we * err).sum() / we.sum().clamp_min(1e-12);
}

at::Tensor logit_normal_t(const at::Tensor &normal, double mean, double std, double shift) {
  auto u = at::sigmoid(normal * std + mean);
  return shift * u / (1 + (shift - 1) * u);
}

std::pair<at::Tensor, at::Tensor> group_advantages(const at::Tensor &rewards, double batch_std, double clip) {
  auto centred = rewards - rewards.mean(1, true);
  auto adv = (centred / (batch_std + 1e-4)).clamp(-clip, clip);
  return {adv, 0.5 + adv / 10.0};
}

at::Tensor valid_groups(const at::Tensor &rewards, double std_min, double mean_max) {
  return (rewards.std(1, /*unbiased=*/false) > std_min) & (rewards.mean(1) < mean_max);
}

at::Tensor saturated_groups(const at::Tensor &rewards, double std_min, double mean_max) {
  return (rewards.std(1, /*unbiased=*/false) <= std_min) & (rewards.mean(1) >= mean_max);
}

at::Tensor masked_mean(const at::Tensor &x, const at::Tensor &valid) {
  auto w = valid.to(x.scalar_type());
  return (x * w).sum() / w.sum().clamp_min(1.0);
}

at::Tensor adaptive_weight(const at::Tensor &x0_hat, const at::Tensor &x0) {
  return mean_per_sample((x0_hat - x0).abs()).detach().clamp_min(1e-5);
}

NftTerms nft_terms(const at::Tensor &v_theta, const at::Tensor &v_old, const at::Tensor &x_t, const at::Tensor &x0,
                   const at::Tensor &t, double beta) {
  auto v_pos = beta * v_theta + (1 - beta) * v_old;
  auto v_neg = (1 + beta) * v_old - beta * v_theta;
  NftTerms out;
  out.x0_pos = x_t - per_sample(t) * v_pos;
  out.x0_neg = x_t - per_sample(t) * v_neg;
  out.loss_pos = mean_per_sample((out.x0_pos - x0).pow(2)) / adaptive_weight(out.x0_pos, x0);
  out.loss_neg = mean_per_sample((out.x0_neg - x0).pow(2)) / adaptive_weight(out.x0_neg, x0);
  return out;
}

at::Tensor nft_policy_loss(const NftTerms &terms, const at::Tensor &r, const at::Tensor &valid, double beta,
                           double scale) {
  return scale * masked_mean(r * terms.loss_pos + (1 - r) * terms.loss_neg, valid) / beta;
}

at::Tensor erode(const at::Tensor &m, int64_t radius) {
  if (radius == 0) return m;
  const int64_t k = 2 * radius + 1;
  return 1 - at::max_pool2d(1 - m, {k, k}, {1, 1}, {radius, radius});
}

RegionWeights region_weights(const at::Tensor &mask_grid, int64_t radius, double ring_weight) {
  auto keep = erode(1 - mask_grid, radius);
  auto edit = erode(mask_grid, radius);
  auto ring = 1 - (keep + edit).clamp(0, 1);
  return {(keep + ring_weight * ring).clamp(0, 1), (edit + ring_weight * ring).clamp(0, 1)};
}

at::Tensor mask_to_grid(const at::Tensor &mask, int64_t patch) {
  return at::upsample_nearest2d(mask, {mask.size(2) / patch, mask.size(3) / patch});
}

at::Tensor weighted_distance(const at::Tensor &w_grid, const at::Tensor &a, const at::Tensor &b) {
  auto w = at::upsample_nearest2d(w_grid, {a.size(2), a.size(3)});
  auto sq = (a - b).pow(2).mean(1, true);
  return (w * sq).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1e-8);
}

at::Tensor hinge_keep(const at::Tensor &d_pos, double tau_pos) { return at::relu(d_pos - tau_pos); }

at::Tensor hinge_change(const at::Tensor &d_neg, double tau_neg) { return at::relu(tau_neg - d_neg); }

at::Tensor region_regularizer(const at::Tensor &l_keep, const at::Tensor &l_change, const at::Tensor &r,
                              const at::Tensor &valid, double lambda_pos, double lambda_neg) {
  return masked_mean(r * lambda_pos * l_keep, valid) + masked_mean((1 - r) * lambda_neg * l_change, valid);
}

at::Tensor kl_to_reference(const at::Tensor &v_theta, const at::Tensor &v_ref) {
  return mean_per_sample((v_theta - v_ref).pow(2));
}

double old_policy_eta(int64_t step, double rate, double max) {
  return std::min(rate * static_cast<double>(step), max);
}

at::Tensor grpo_policy_loss(const at::Tensor &logp_new, const at::Tensor &logp_old, const at::Tensor &adv,
                            const at::Tensor &valid, double clip) {
  auto ratio = at::exp(logp_new - logp_old);
  auto unclipped = ratio * adv;
  auto clipped = ratio.clamp(1 - clip, 1 + clip) * adv;
  return -masked_mean(at::minimum(unclipped, clipped), valid);
}

at::Tensor grpo_kl(const at::Tensor &mean_theta, const at::Tensor &mean_ref, double std) {
  return mean_per_sample((mean_theta - mean_ref).pow(2)) / (2 * std * std);
}

}  // namespace cocoedit::train
