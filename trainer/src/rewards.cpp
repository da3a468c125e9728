// rewards.cpp — region PSNR/SSIM and the pixel rewards; see rewards.h.
#include "rewards.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "error.h"

namespace cocoedit::train {

namespace {

// SSIM constants (Wang et al. 2004) for a data range of 1.
constexpr double kC1 = 0.01 * 0.01;
constexpr double kC2 = 0.03 * 0.03;
// Gaussian window: σ = 1.5, truncated at 3.5σ as scipy.ndimage does, which
// gives radius int(3.5·1.5 + 0.5) = 5, i.e. the classic 11 taps.
constexpr double kSigma = 1.5;
constexpr int64_t kRadius = 5;

std::string shape_str(const at::Tensor &t) {
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); i++) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

[[noreturn]] void bad(const std::string &what) { fail(COCOEDIT_ERR_INVALID_ARGUMENT, what); }

// Checks an image batch (B, C, H, W) of floating point; `what` names it.
void check_images(const at::Tensor &x, const char *what, int64_t channels) {
  if (!x.defined()) bad(std::string(what) + " is undefined");
  if (x.dim() != 4 || (channels > 0 && x.size(1) != channels))
    bad(std::string(what) + " must be (B, " + (channels > 0 ? std::to_string(channels) : "C") +
        ", H, W), got " + shape_str(x));
  if (!at::isFloatingType(x.scalar_type())) bad(std::string(what) + " must be floating point");
  if (x.numel() == 0) bad(std::string(what) + " is empty: " + shape_str(x));
}

// Checks that a and b are the same shape on the same device.
void check_pair(const at::Tensor &a, const at::Tensor &b, const char *na, const char *nb) {
  if (a.sizes() != b.sizes())
    bad(std::string(na) + " and " + nb + " differ in shape: " + shape_str(a) + " vs " + shape_str(b));
  if (a.device() != b.device())
    bad(std::string(na) + " and " + nb + " are on different devices: " + a.device().str() + " vs " +
        b.device().str());
}

// Checks a weight/mask (B or 1, 1, H, W) against images (B, 3, H, W).
void check_weight(const at::Tensor &w, const at::Tensor &images, const char *what) {
  if (!w.defined()) bad(std::string(what) + " is undefined");
  if (w.dim() != 4 || w.size(1) != 1 || (w.size(0) != images.size(0) && w.size(0) != 1) ||
      w.size(2) != images.size(2) || w.size(3) != images.size(3))
    bad(std::string(what) + " must be (B, 1, H, W) or (1, 1, H, W) matching the images " + shape_str(images) +
        ", got " + shape_str(w));
  if (!at::isFloatingType(w.scalar_type()) && w.scalar_type() != at::kBool)
    bad(std::string(what) + " must be floating point or bool");
}

// Index of the mirrored ("symmetric", scipy's mode='reflect': d c b a | a b c d)
// source pixel for each of n + 2r padded positions, valid for any n ≥ 1
// (reflections repeat with period 2n).
at::Tensor mirror_index(int64_t n, int64_t r, const at::Device &device) {
  at::Tensor i = at::arange(-r, n + r, at::TensorOptions().dtype(at::kLong));
  at::Tensor j = at::remainder(i, 2 * n);              // in [0, 2n)
  j = at::where(j >= n, 2 * n - 1 - j, j);             // fold the mirrored half back
  return j.to(device);
}

// Normalised 1-D Gaussian taps g_k = exp(−k² / 2σ²) / Σ, k = −r..r.
std::vector<double> gaussian_taps() {
  std::vector<double> g;
  double sum = 0;
  for (int64_t k = -kRadius; k <= kRadius; k++) {
    g.push_back(std::exp(-double(k * k) / (2.0 * kSigma * kSigma)));
    sum += g.back();
  }
  for (double &v : g) v /= sum;
  return g;
}

// Σ_k g_k · x[..., i + k] along `dim` for the n outputs of a padded x: a
// "valid" 1-D convolution written as 11 shifted multiply-adds, which on the
// CPU is several times faster than conv2d in float64 (no im2col copies) and
// runs unchanged on any device.
at::Tensor conv1d_valid(const at::Tensor &x, int64_t dim, int64_t n, const std::vector<double> &g) {
  at::Tensor out = x.narrow(dim, 0, n) * g[0];
  for (size_t k = 1; k < g.size(); k++) out.add_(x.narrow(dim, k, n), g[k]);
  return out;
}

// x mirror-padded by r along `dim` ("symmetric", as scipy's mode='reflect':
// d c b a | a b c d).  Flipped edge slices when the image is at least r wide,
// an index gather (reflections repeat with period 2n) for tiny images.
at::Tensor mirror_pad(const at::Tensor &x, int64_t dim, int64_t r) {
  const int64_t n = x.size(dim);
  if (n >= r) return at::cat({x.narrow(dim, 0, r).flip(dim), x, x.narrow(dim, n - r, r).flip(dim)}, dim);
  return x.index_select(dim, mirror_index(n, r, x.device()));
}

// G ∗ x for x (..., H, W): mirror-pad by the radius, then two valid 1-D
// convolutions (the Gaussian is separable).  Same size out.
at::Tensor gaussian_blur(const at::Tensor &x) {
  static const std::vector<double> g = gaussian_taps();
  const int64_t H = x.size(-2), W = x.size(-1);
  at::Tensor p = conv1d_valid(mirror_pad(x, -1, kRadius), -1, W, g);  // along W: (..., H, W)
  return conv1d_valid(mirror_pad(p, -2, kRadius), -2, H, g);          // along H: (..., H, W)
}

// The SSIM map of one chunk, float64 (B, C, H, W) in and out.
at::Tensor ssim_map_chunk(const at::Tensor &x, const at::Tensor &y) {
  at::Tensor ux = gaussian_blur(x), uy = gaussian_blur(y);
  at::Tensor vx = gaussian_blur(x * x) - ux * ux;  // population variances (Wang et al.)
  at::Tensor vy = gaussian_blur(y * y) - uy * uy;
  at::Tensor vxy = gaussian_blur(x * y) - ux * uy;
  at::Tensor num = (2 * ux * uy + kC1) * (2 * vxy + kC2);
  at::Tensor den = (ux * ux + uy * uy + kC1) * (vx + vy + kC2);
  return num / den;
}

// Samples per chunk: on the CPU each float64 temporary of a chunk (C
// channels of a padded image) stays near 8 MiB: small buffers are recycled by
// malloc and stay in cache, large ones are fresh mmaps, page-faulted in on
// every use, which made whole-batch processing several times slower.  On a
// GPU, larger chunks (256 MiB) keep the kernels few and busy.
int64_t chunk_size(int64_t C, int64_t H, int64_t W, const at::Device &device) {
  const double budget = (device.is_cpu() ? 8.0 : 256.0) * 1024 * 1024;
  const double per_sample = double(C) * (H + 2 * kRadius) * (W + 2 * kRadius) * 8;
  return std::max<int64_t>(1, static_cast<int64_t>(budget / per_sample));
}

// Σ_p w_p · v_p / Σ_p w_p per sample from the two sums; `empty` where Σ w = 0.
at::Tensor weighted_mean(const at::Tensor &sum_wv, const at::Tensor &area, double empty) {
  return at::where(area > 0, sum_wv / area.clamp_min(1e-300), at::full_like(sum_wv, empty));
}

}  // namespace

at::Tensor ssim_map(const at::Tensor &a, const at::Tensor &b) {
  check_images(a, "ssim_map: a", 0);
  check_images(b, "ssim_map: b", 0);
  check_pair(a, b, "ssim_map: a", "ssim_map: b");
  at::Tensor x = a.to(at::kDouble), y = b.to(at::kDouble);
  const int64_t n = chunk_size(x.size(1), x.size(2), x.size(3), x.device());
  if (x.size(0) <= n) return ssim_map_chunk(x, y);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += n) {
    const int64_t e = std::min(x.size(0), i + n);
    parts.push_back(ssim_map_chunk(x.slice(0, i, e), y.slice(0, i, e)));
  }
  return at::cat(parts, 0);
}

RegionMetrics region_psnr_ssim(const at::Tensor &a, const at::Tensor &b, const at::Tensor &weight) {
  check_images(a, "region_psnr_ssim: a", 3);
  check_images(b, "region_psnr_ssim: b", 3);
  check_pair(a, b, "region_psnr_ssim: a", "region_psnr_ssim: b");
  check_weight(weight, a, "region_psnr_ssim: weight");
  const int64_t B = a.size(0), H = a.size(2), W = a.size(3);
  at::Tensor w_all = weight.to(a.device()).expand({B, 1, H, W});

  // Per-sample weighted sums, a chunk of samples at a time (see chunk_size):
  //   area = Σ_p w_p,  sse = Σ_p w_p · (1/3)·Σ_c (a−b)²,  sss = Σ_p w_p · (1/3)·Σ_c S_cp
  std::vector<at::Tensor> area, sse, sss;
  const int64_t n = chunk_size(3, H, W, a.device());
  for (int64_t i = 0; i < B; i += n) {
    const int64_t e = std::min(B, i + n);
    at::Tensor x = a.slice(0, i, e).to(at::kDouble), y = b.slice(0, i, e).to(at::kDouble);
    at::Tensor w = w_all.slice(0, i, e).to(at::kDouble);
    area.push_back(w.sum({1, 2, 3}));
    sse.push_back(((x - y).pow(2).mean(1, /*keepdim=*/true) * w).sum({1, 2, 3}));
    sss.push_back((ssim_map_chunk(x, y).mean(1, /*keepdim=*/true) * w).sum({1, 2, 3}));
  }
  RegionMetrics m;
  m.area = at::cat(area);

  // MSE over weighted pixels and the 3 channels; PSNR = 10·log10(1/MSE), capped.
  // An empty region has MSE 0 by definition, so it lands on the cap.
  at::Tensor mse = weighted_mean(at::cat(sse), m.area, 0.0);
  m.psnr = at::clamp_max(10.0 * at::log10(1.0 / mse), kPsnrCapDb);  // 1/0 = inf → cap

  // Region SSIM: the channel-averaged SSIM map, averaged over weighted pixels.
  m.ssim = weighted_mean(at::cat(sss), m.area, 1.0);
  return m;
}

at::Tensor combine_psnr_ssim(const RegionMetrics &m, const PixelRewardConfig &cfg) {
  if (!(cfg.psnr_max_db > 0) || !std::isfinite(cfg.psnr_max_db))
    bad("pixel reward: psnr_max_db must be a positive number, got " + std::to_string(cfg.psnr_max_db));
  if (!(cfg.w_ssim >= 0) || !(cfg.w_psnr >= 0) || !std::isfinite(cfg.w_ssim) || !std::isfinite(cfg.w_psnr))
    bad("pixel reward: w_ssim and w_psnr must be finite and >= 0, got " + std::to_string(cfg.w_ssim) + " and " +
        std::to_string(cfg.w_psnr));
  // R = w_ssim·clamp(SSIM, 0, 1) + w_psnr·clamp(PSNR / PSNR_max, 0, 1)
  // (at::clamp keeps NaN, so a broken sample stays visible to the trainer.)
  return cfg.w_ssim * at::clamp(m.ssim, 0.0, 1.0) + cfg.w_psnr * at::clamp(m.psnr / cfg.psnr_max_db, 0.0, 1.0);
}

at::Tensor pixel_reward(const at::Tensor &result, const at::Tensor &source, const at::Tensor &mask,
                        const PixelRewardConfig &cfg) {
  check_images(result, "pixel_reward: result", 3);
  check_weight(mask, result, "pixel_reward: mask");
  // Non-edit region: weight 1 − mask.
  at::Tensor keep = 1.0 - mask.to(result.device(), at::kDouble);
  return combine_psnr_ssim(region_psnr_ssim(result, source, keep), cfg);
}

at::Tensor reference_reward(const at::Tensor &result, const at::Tensor &target, const at::Tensor &mask,
                            const PixelRewardConfig &cfg) {
  check_images(result, "reference_reward: result", 3);
  check_weight(mask, result, "reference_reward: mask");
  // Edit region: weight = mask.
  return combine_psnr_ssim(region_psnr_ssim(result, target, mask), cfg);
}

}  // namespace cocoedit::train
