// detail_transfer.cpp — see detail_transfer.h for the equations.
#include "detail_transfer.h"

#include "region.h"

namespace cocoedit {

namespace {

constexpr int64_t kWindow = 7;
constexpr double kTau = 0.05;
constexpr double kVarFloor = 1e-4;  // (0.01)²: flat windows have no structure to compare

at::Tensor local_mean(const at::Tensor &x) {
  return at::avg_pool2d(x, {kWindow, kWindow}, {1, 1}, {kWindow / 2, kWindow / 2}, false, false);
}

at::Tensor luminance(const at::Tensor &rgb) {
  return 0.299 * rgb.narrow(1, 0, 1) + 0.587 * rgb.narrow(1, 1, 1) + 0.114 * rgb.narrow(1, 2, 1);
}

}  // namespace

at::Tensor detail_weight(const at::Tensor &held, const at::Tensor &result) {
  auto k_same = at::exp(-local_mean((result - held).pow(2).mean(1, true)) / (kTau * kTau));
  auto a = luminance(result), b = luminance(held);
  auto ma = local_mean(a), mb = local_mean(b);
  auto cov = local_mean(a * b) - ma * mb;
  auto va = (local_mean(a * a) - ma * ma).clamp_min(0), vb = (local_mean(b * b) - mb * mb).clamp_min(0);
  auto rho = cov / at::sqrt((va + kVarFloor) * (vb + kVarFloor));
  auto k_struct = ((rho.abs() - 0.5) / 0.3).clamp(0.0, 1.0);
  return at::maximum(k_same, k_struct);
}

at::Tensor transfer_detail(const at::Tensor &source, const at::Tensor &held, const at::Tensor &result) {
  const int H = static_cast<int>(source.size(2)), W = static_cast<int>(source.size(3));
  auto k = resize(detail_weight(held, result), H, W);
  auto detail = source - resize(held, H, W);
  return (resize(result, H, W) + k * detail).clamp(0.0, 1.0);
}

}  // namespace cocoedit
