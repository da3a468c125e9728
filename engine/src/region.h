// region.h — from a whole image and a mask to the model's working crop and
// back: crop the mask's bounding box plus context, resize (aspect kept, a
// multiple of the patch size), and composite the result with the soft mask.
//
// Only the crop is ever converted to tensors, so memory follows the
// selection, not the image.  Pixels where the mask is 0 are copied byte for
// byte; alpha is always the source's.
#pragma once

#include <ATen/ATen.h>

#include "cocoedit.h"

namespace cocoedit {

struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

// Bytes per pixel of a format (0 for an unknown one).
size_t pixel_size(cocoedit_pixel_format format);

// Checks that `img` is a usable view; `what` names it in the error.
void check_image(const cocoedit_image *img, bool is_mask, const char *what);

// Bounding box of the pixels with a mask value > 0; the whole image without
// a mask.  Throws COCOEDIT_ERR_INVALID_ARGUMENT for an all-zero mask.
Rect mask_bounds(const cocoedit_image *mask, int width, int height);

// `r` grown by `margin` on every side (a quarter of its long side when
// negative), clipped to width × height.
Rect expand_rect(const Rect &r, int margin, int width, int height);

// The working size for a crop: long side `long_side`, aspect kept, each
// side a multiple of `multiple` (at least one multiple).
std::pair<int, int> working_dims(int width, int height, int long_side, int multiple);

// The crop's RGB as (1, 3, h, w) float in [0, 1] and its mask as (1, 1, h, w)
// (ones without a mask).
at::Tensor read_rgb(const cocoedit_image &img, const Rect &r);
at::Tensor read_mask(const cocoedit_image *mask, const Rect &r);

// Bilinear resize with antialiasing when shrinking, (B, C, H, W) → (B, C, h, w).
at::Tensor resize(const at::Tensor &x, int height, int width);

// Writes the result: copies `source` into `output` (unless they alias), then
// blends `edited` (1, 3, r.height, r.width) in [0, 1] into r with `mask`.
void composite(const cocoedit_image &source, const cocoedit_image *mask, const at::Tensor &edited,
               const Rect &r, cocoedit_image &output);

}  // namespace cocoedit
