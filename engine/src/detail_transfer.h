// detail_transfer.h — full-resolution detail for a model that works below the
// crop's size (and, for a latent model, through a lossy autoencoder).
//
// The model sees the source at working size, through its codec: r = the
// source as the model's space can hold it (decode(encode(src)) at working
// size), y = the model's result.  What that path loses is the detail
// D = S − up(r) of the full-size source S.  Where the result keeps the
// source's structure (unchanged, or a colour or tone change of the same
// object), that detail belongs to the result too; where the model painted
// new content (a removal, a new object), it does not:
//
//   out = up(y) + k · D,   k = max(k_same, k_struct)            per pixel
//   k_same   = exp(−mean_w |y − r|² / τ²)                      (unchanged)
//   k_struct = clamp((|ρ_w(Y(y), Y(r))| − 0.5) / 0.3, 0, 1)    (same structure)
//
// with mean_w and ρ_w the local mean and the correlation of luminance Y over
// a 7×7 window at working size, τ = 0.05 (images in [0, 1]).
#pragma once

#include <ATen/ATen.h>

namespace cocoedit {

// source (1, 3, H, W), held and result (1, 3, h, w), all in [0, 1] on the
// same device → (1, 3, H, W) in [0, 1].  With h = H, w = W and held equal
// to source it returns `result` unchanged.
at::Tensor transfer_detail(const at::Tensor &source, const at::Tensor &held, const at::Tensor &result);

// The per-pixel weight k at working size (1, 1, h, w), for tests and docs.
at::Tensor detail_weight(const at::Tensor &held, const at::Tensor &result);

}  // namespace cocoedit
