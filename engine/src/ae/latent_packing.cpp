// latent_packing.cpp — 2×2 latent packing (see latent_packing.h).
#include "ae/latent_packing.h"

#include <string>

#include "error.h"

namespace cocoedit {

at::Tensor pack_latents(const at::Tensor &z) {
  if (!z.defined() || z.dim() != 4)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "pack_latents: the latent must be (B, C, H, W)");
  const int64_t B = z.size(0), C = z.size(1), H = z.size(2), W = z.size(3);
  if (H % 2 || W % 2)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "pack_latents: latent height and width must be even, got " +
                                            std::to_string(H) + "x" + std::to_string(W));
  return z.reshape({B, C, H / 2, 2, W / 2, 2}).permute({0, 2, 4, 1, 3, 5}).reshape({B, (H / 2) * (W / 2), C * 4});
}

at::Tensor unpack_tokens(const at::Tensor &tokens, int64_t gh, int64_t gw) {
  if (!tokens.defined() || tokens.dim() != 3)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "unpack_tokens: the tokens must be (B, L, D)");
  const int64_t B = tokens.size(0), L = tokens.size(1), D = tokens.size(2);
  if (gh < 1 || gw < 1 || L != gh * gw)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "unpack_tokens: " + std::to_string(L) + " tokens do not fill a " +
                                            std::to_string(gh) + "x" + std::to_string(gw) + " grid");
  if (D % 4)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "unpack_tokens: the token width " + std::to_string(D) +
                                            " is not a multiple of 4 (2x2 cells)");
  const int64_t C = D / 4;
  return tokens.reshape({B, gh, gw, C, 2, 2}).permute({0, 3, 1, 4, 2, 5}).reshape({B, C, gh * 2, gw * 2});
}

at::Tensor unpack_latents(const at::Tensor &tokens, int64_t height, int64_t width) {
  if (height < 1 || width < 1)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "unpack_latents: the pixel size must be positive");
  return unpack_tokens(tokens, (height + 15) / 16, (width + 15) / 16);
}

}  // namespace cocoedit
