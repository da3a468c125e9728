// latent_packing.h — FLUX's 2×2 packing of autoencoder latents into
// transformer tokens and back (BFL sampling.py prepare()/unpack(),
// diffusers _pack_latents/_unpack_latents):
//
//   pack:   b c (h 2) (w 2) -> b (h w) (c 2 2)
//   unpack: the inverse.
//
// Both are pure permutations (exact).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace cocoedit {

// z (B, C, H, W) with H and W even → tokens (B, H/2·W/2, 4·C), row-major
// over the 2×2 cells; each token is channel-major over its cell.
at::Tensor pack_latents(const at::Tensor &z);

// tokens (B, grid_h·grid_w, 4·C) → (B, C, 2·grid_h, 2·grid_w).
at::Tensor unpack_tokens(const at::Tensor &tokens, int64_t grid_h, int64_t grid_w);

// BFL's unpack(x, height, width) with the pixel size: the token grid is
// ⌈height/16⌉ × ⌈width/16⌉ (8× autoencoder, then 2× packing).
at::Tensor unpack_latents(const at::Tensor &tokens, int64_t height, int64_t width);

}  // namespace cocoedit
