// region.cpp — crop, resize and composite (see region.h).
#include "region.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.h"

namespace cocoedit {

namespace {

// The largest side we accept: beyond this, width × height × 16 bytes
// overflows what any caller can hold anyway.
constexpr int kMaxSide = 1 << 16;

const uint8_t *row_ptr(const cocoedit_image &img, int y) {
  return static_cast<const uint8_t *>(img.data) + static_cast<size_t>(y) * img.stride;
}

// Mask value in [0, 1] at (x, y).
float mask_at(const cocoedit_image &m, int x, int y) {
  const uint8_t *row = row_ptr(m, y);
  if (m.format == COCOEDIT_GRAY8) return row[x] / 255.0f;
  float v;
  std::memcpy(&v, row + 4 * static_cast<size_t>(x), sizeof v);
  if (!(v > 0.0f)) return 0.0f;  // also NaN → keep
  return std::min(v, 1.0f);
}

}  // namespace

size_t pixel_size(cocoedit_pixel_format f) {
  switch (f) {
    case COCOEDIT_RGBA8: return 4;
    case COCOEDIT_RGBA_F32: return 16;
    case COCOEDIT_GRAY8: return 1;
    case COCOEDIT_GRAY_F32: return 4;
  }
  return 0;
}

void check_image(const cocoedit_image *img, bool is_mask, const char *what) {
  const std::string w(what);
  if (!img) fail(COCOEDIT_ERR_INVALID_ARGUMENT, w + " is NULL");
  const bool gray = img->format == COCOEDIT_GRAY8 || img->format == COCOEDIT_GRAY_F32;
  const bool rgba = img->format == COCOEDIT_RGBA8 || img->format == COCOEDIT_RGBA_F32;
  if (is_mask ? !gray : !rgba)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT,
         w + (is_mask ? " must be GRAY8 or GRAY_F32" : " must be RGBA8 or RGBA_F32"));
  if (img->width < 1 || img->height < 1 || img->width > kMaxSide || img->height > kMaxSide)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, w + " has a size of " + std::to_string(img->width) + "x" +
                                            std::to_string(img->height) + " (each side must be 1.." +
                                            std::to_string(kMaxSide) + ")");
  if (!img->data) fail(COCOEDIT_ERR_INVALID_ARGUMENT, w + " has no pixel data");
  if (img->stride < static_cast<size_t>(img->width) * pixel_size(img->format))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, w + "'s stride is smaller than a row of pixels");
}

Rect mask_bounds(const cocoedit_image *mask, int width, int height) {
  if (!mask) return {0, 0, width, height};
  int x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (int y = 0; y < height; y++) {
    for (int x = 0; x < width; x++) {
      if (mask_at(*mask, x, y) > 0.0f) {
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
    }
  }
  if (x1 < 0) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "the mask is empty: no pixel may change");
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

Rect expand_rect(const Rect &r, int margin, int width, int height) {
  if (margin < 0) margin = std::max(r.width, r.height) / 4;
  const int x0 = std::max(0, r.x - margin), y0 = std::max(0, r.y - margin);
  const int x1 = std::min(width, r.x + r.width + margin), y1 = std::min(height, r.y + r.height + margin);
  return {x0, y0, x1 - x0, y1 - y0};
}

std::pair<int, int> working_dims(int width, int height, int long_side, int multiple) {
  const double scale = static_cast<double>(long_side) / std::max(width, height);
  auto fit = [&](int side) {
    const int n = static_cast<int>(std::lround(side * scale / multiple));
    return std::max(1, n) * multiple;
  };
  return {fit(width), fit(height)};
}

at::Tensor read_rgb(const cocoedit_image &img, const Rect &r) {
  at::Tensor out = at::empty({3, r.height, r.width}, at::kFloat);
  auto a = out.accessor<float, 3>();
  for (int y = 0; y < r.height; y++) {
    const uint8_t *row = row_ptr(img, r.y + y);
    for (int x = 0; x < r.width; x++) {
      for (int c = 0; c < 3; c++) {
        float v;
        if (img.format == COCOEDIT_RGBA8) {
          v = row[4 * static_cast<size_t>(r.x + x) + c] / 255.0f;
        } else {
          std::memcpy(&v, row + 16 * static_cast<size_t>(r.x + x) + 4 * c, sizeof v);
          v = std::isfinite(v) ? std::clamp(v, 0.0f, 1.0f) : 0.0f;
        }
        a[c][y][x] = v;
      }
    }
  }
  return out.unsqueeze(0);
}

at::Tensor read_mask(const cocoedit_image *mask, const Rect &r) {
  if (!mask) return at::ones({1, 1, r.height, r.width});
  at::Tensor out = at::empty({r.height, r.width}, at::kFloat);
  auto a = out.accessor<float, 2>();
  for (int y = 0; y < r.height; y++)
    for (int x = 0; x < r.width; x++) a[y][x] = mask_at(*mask, r.x + x, r.y + y);
  return out.view({1, 1, r.height, r.width});
}

at::Tensor resize(const at::Tensor &x, int height, int width) {
  if (x.size(2) == height && x.size(3) == width) return x;
  const bool shrink = height < x.size(2) || width < x.size(3);
  if (shrink) return at::_upsample_bilinear2d_aa(x, {height, width}, false);
  return at::upsample_bilinear2d(x, {height, width}, false);
}

void composite(const cocoedit_image &src, const cocoedit_image *mask, const at::Tensor &edited, const Rect &r,
               cocoedit_image &out) {
  // Everything that can fail (allocates) comes before the first write, so
  // that an error leaves the caller's output untouched.
  at::Tensor e = edited.squeeze(0).clamp(0.0, 1.0).contiguous();
  auto a = e.accessor<float, 3>();
  const size_t row_bytes = static_cast<size_t>(src.width) * pixel_size(src.format);
  if (out.data != src.data)
    for (int y = 0; y < src.height; y++)
      std::memcpy(static_cast<uint8_t *>(out.data) + y * out.stride, row_ptr(src, y), row_bytes);

  for (int y = 0; y < r.height; y++) {
    const uint8_t *srow = row_ptr(src, r.y + y);
    uint8_t *orow = static_cast<uint8_t *>(out.data) + static_cast<size_t>(r.y + y) * out.stride;
    for (int x = 0; x < r.width; x++) {
      const float m = mask ? mask_at(*mask, r.x + x, r.y + y) : 1.0f;
      if (m <= 0.0f) continue;  // the source's bytes, already copied
      const size_t px = static_cast<size_t>(r.x + x);
      for (int c = 0; c < 3; c++) {
        if (src.format == COCOEDIT_RGBA8) {
          const float s = srow[4 * px + c];
          const float v = s + m * (a[c][y][x] * 255.0f - s);
          orow[4 * px + c] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        } else {
          float s;
          std::memcpy(&s, srow + 16 * px + 4 * c, sizeof s);
          if (!std::isfinite(s)) s = 0.0f;
          const float v = s + m * (a[c][y][x] - s);
          std::memcpy(orow + 16 * px + 4 * c, &v, sizeof v);
        }
      }
    }
  }
}

}  // namespace cocoedit
