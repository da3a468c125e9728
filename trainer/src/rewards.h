// rewards.h — the pixel rewards of CoCoEdit RL (design/cocoedit-rl.md, step 3):
// PSNR and SSIM restricted to a region, the non-edit "pixel similarity" reward
// against the source, and the "reference" reward of the edit region against a
// ground-truth target.
//
// Conventions, shared with the rest of the trainer:
//   images  (B, 3, H, W) floating point in [0, 1], any device;
//   masks   (B, 1, H, W) in [0, 1], 1 = edit region, 0 = keep (GIMP's polarity);
//   weights (B, 1, H, W) or (1, 1, H, W), >= 0: how much each pixel counts.
// Every result is a (B,) float64 tensor on the images' device.  The metrics are
// computed in float64 whatever the input dtype, so that they agree with an
// independent float64 implementation (scikit-image) to ~1e-9.
//
// What differs from the authors' code (training/flow_grpo/psnr_scorer.py), on
// purpose, see design/cocoedit-rl.md:
//   - PSNR is the true one: the MSE is averaged over pixels AND channels.  Theirs
//     divides the 3-channel sum by the pixel count (MSE ×3, PSNR −4.77 dB).
//   - SSIM is the standard SSIM map of the whole image (scikit-image's
//     structural_similarity(gaussian_weights=True, sigma=1.5,
//     use_sample_covariance=False, data_range=1)) averaged over the region.
//     Theirs recomputes local statistics from masked pixels normalised by a box
//     count, which is neither a Gaussian window nor the standard SSIM.
//   - A soft mask is used as a weight, not thresholded at 0.5.
//   - An empty region (all weights 0) scores as identical (PSNR cap, SSIM 1);
//     theirs scores 0.  Within a group the mask is shared, so this constant does
//     not move the advantages either way; `area` tells a report to say "n/a".
#pragma once

#include <ATen/ATen.h>

namespace cocoedit::train {

// PSNR of two identical regions (MSE = 0), and the ceiling of every PSNR:
// 100 dB is an MSE of 1e-10, far below one 8-bit step (1/255² ≈ 1.5e-5).
constexpr double kPsnrCapDb = 100.0;

struct RegionMetrics {
  at::Tensor psnr;  // (B,) dB, ≥ 0 for images in [0, 1], ≤ kPsnrCapDb; kPsnrCapDb when area == 0
  at::Tensor ssim;  // (B,) in [−1, 1]; 1 when area == 0
  at::Tensor area;  // (B,) sum of the weights (pixels); 0 = empty region
};

// PSNR and SSIM of `a` against `b` over the pixels weighted by `weight`:
//   MSE  = Σ_p w_p · Σ_c (a_cp − b_cp)² / (3 · Σ_p w_p)
//   PSNR = min(10 · log10(1 / MSE), kPsnrCapDb)            (data range 1)
//   SSIM = Σ_p w_p · (1/3 · Σ_c S_cp) / Σ_p w_p
// where S is the SSIM map of each channel over the whole image (see ssim_map).
// NaN in the inputs gives NaN out (not hidden: the trainer skips such steps).
// Throws cocoedit::Error(COCOEDIT_ERR_INVALID_ARGUMENT) on bad shapes.
RegionMetrics region_psnr_ssim(const at::Tensor &a, const at::Tensor &b, const at::Tensor &weight);

// The SSIM map (B, C, H, W) float64 of two image batches (B, C, H, W), per channel:
//   μ = G∗x, σ² = G∗x² − μ², σ_xy = G∗(xy) − μ_x·μ_y   (G: 11×11 Gaussian, σ=1.5,
//                                                       borders mirrored "dcba|abcd")
//   S = (2μ_xμ_y + C1)(2σ_xy + C2) / ((μ_x² + μ_y² + C1)(σ_x² + σ_y² + C2)),
//   C1 = 0.01², C2 = 0.03².
at::Tensor ssim_map(const at::Tensor &a, const at::Tensor &b);

struct PixelRewardConfig {
  double w_ssim = 0.35;       // weight of the region SSIM, clamped to [0, 1]
  double w_psnr = 0.65;       // weight of PSNR / psnr_max_db, clamped to [0, 1]
  double psnr_max_db = 40.0;  // the PSNR that earns the full PSNR share
};

// R = w_ssim · clamp(SSIM, 0, 1) + w_psnr · clamp(PSNR / psnr_max_db, 0, 1),
// the shared formula of both rewards below, from metrics already computed.
at::Tensor combine_psnr_ssim(const RegionMetrics &m, const PixelRewardConfig &cfg = {});

// Pixel similarity reward (content consistency): `result` against `source` on
// the non-edit region (weight 1 − mask).  (B,) float64, in [0, 1] when the
// weights sum to at most 1.
at::Tensor pixel_reward(const at::Tensor &result, const at::Tensor &source, const at::Tensor &mask,
                        const PixelRewardConfig &cfg = {});

// Reference reward (instruction following, for data with a target): `result`
// against the ground-truth `target` on the edit region (weight = mask).
at::Tensor reference_reward(const at::Tensor &result, const at::Tensor &target, const at::Tensor &mask,
                            const PixelRewardConfig &cfg = {});

}  // namespace cocoedit::train
