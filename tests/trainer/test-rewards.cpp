// test-rewards.cpp — the pixel rewards (trainer/src/rewards.h).
//
//   test-rewards [--tap]     hand-checked cases: values known in closed form
//   test-rewards --dump DIR  writes test images, masks and this code's metrics
//                            for check-pixel-metrics.py, which recomputes them
//                            with scikit-image (an independent implementation)
#include <glib.h>
#include <glib/gstdio.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "error.h"
#include "rewards.h"

using namespace cocoedit;
using namespace cocoedit::train;

static const double kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;

static double at_(const at::Tensor &t, int64_t i) { return t[i].item<double>(); }

static void expect_near(double got, double want, double tol, const char *what) {
  if (!(std::fabs(got - want) <= tol)) g_error("%s: got %.12g, want %.12g (±%g)", what, got, want, tol);
}

static void expect_error(cocoedit_status code, const std::string &fragment, const std::function<void()> &body) {
  try {
    body();
  } catch (const Error &e) {
    if (e.code() != code || std::string(e.what()).find(fragment) == std::string::npos)
      g_error("expected status %d with \"%s\", got %d: %s", code, fragment.c_str(), e.code(), e.what());
    return;
  }
  g_error("expected an error containing \"%s\", got none", fragment.c_str());
}

// A smooth random image batch (B, 3, H, W) in [0, 1] with some texture, so
// that SSIM's local variances are neither zero nor white noise.
static at::Tensor smooth_images(int64_t B, int64_t H, int64_t W) {
  at::Tensor low = at::rand({B, 3, (H + 3) / 4, (W + 3) / 4}, at::kDouble);
  at::Tensor up = at::upsample_bilinear2d(low, {H, W}, false);
  return (0.8 * up + 0.2 * at::rand({B, 3, H, W}, at::kDouble)).clamp(0, 1);
}

// A binary rectangle mask (B, 1, H, W): 1 inside [y0, y1) × [x0, x1).
static at::Tensor rect_mask(int64_t B, int64_t H, int64_t W, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  at::Tensor m = at::zeros({B, 1, H, W}, at::kDouble);
  m.slice(2, y0, y1).slice(3, x0, x1).fill_(1.0);
  return m;
}

// --- hand-checked cases -------------------------------------------------------

// Identical images: PSNR at the cap, SSIM exactly 1, both rewards 1.
static void test_identical() {
  at::manual_seed(1);
  at::Tensor a = smooth_images(2, 24, 20);
  at::Tensor mask = rect_mask(2, 24, 20, 5, 15, 4, 12);
  RegionMetrics m = region_psnr_ssim(a, a.clone(), 1 - mask);
  for (int i = 0; i < 2; i++) {
    expect_near(at_(m.psnr, i), kPsnrCapDb, 0, "identical psnr");
    expect_near(at_(m.ssim, i), 1.0, 1e-12, "identical ssim");
    expect_near(at_(m.area, i), 24 * 20 - 10 * 8, 0, "identical area");
  }
  at::Tensor r = pixel_reward(a, a, mask);
  g_assert_true(r.scalar_type() == at::kDouble && r.dim() == 1 && r.size(0) == 2);
  expect_near(at_(r, 0), 1.0, 1e-12, "identical pixel reward");
  expect_near(at_(reference_reward(a, a, mask), 1), 1.0, 1e-12, "identical reference reward");
}

// A constant offset d on every pixel: MSE = d², PSNR = −20·log10(d).  Two
// constant images: σ's vanish, SSIM = (2μxμy + C1) / (μx² + μy² + C1).
static void test_known_values() {
  at::manual_seed(2);
  at::Tensor a = 0.8 * smooth_images(1, 32, 32);
  at::Tensor ones = at::ones({1, 1, 32, 32}, at::kDouble);
  for (double d : {0.1, 0.01, 0.2}) {
    RegionMetrics m = region_psnr_ssim(a, a + d, ones);
    expect_near(at_(m.psnr, 0), -20 * std::log10(d), 1e-9, "offset psnr");
  }
  // Offset only on the non-edit region; the edit region is scrambled: the
  // non-edit PSNR still sees exactly d.
  at::Tensor mask = rect_mask(1, 32, 32, 8, 20, 8, 24);
  at::Tensor b = at::where(mask > 0, at::rand_like(a), a + 0.1);
  expect_near(at_(region_psnr_ssim(b, a, 1 - mask).psnr, 0), 20.0, 1e-9, "non-edit offset psnr");

  at::Tensor x = at::full({1, 3, 16, 16}, 0.5, at::kDouble), y = at::full({1, 3, 16, 16}, 0.6, at::kDouble);
  RegionMetrics c = region_psnr_ssim(x, y, at::ones({1, 1, 16, 16}, at::kDouble));
  const double want = (2 * 0.5 * 0.6 + kC1) / (0.25 + 0.36 + kC1);
  expect_near(at_(c.ssim, 0), want, 1e-12, "constant ssim");
  expect_near(at_(c.psnr, 0), 20.0, 1e-9, "constant psnr");

  // Reward formula: PSNR 20 dB of 40 → half the PSNR share.
  at::Tensor r = pixel_reward(y, x, at::zeros({1, 1, 16, 16}, at::kDouble));
  expect_near(at_(r, 0), 0.35 * want + 0.65 * 0.5, 1e-12, "pixel reward formula");
  PixelRewardConfig cfg;
  cfg.w_ssim = 1.0;
  cfg.w_psnr = 2.0;
  cfg.psnr_max_db = 10.0;  // 20 dB > 10: the PSNR term clamps at 1
  expect_near(at_(pixel_reward(y, x, at::zeros({1, 1, 16, 16}, at::kDouble), cfg), 0), want + 2.0, 1e-12,
              "pixel reward clamp and weights");
}

// SSIM and PSNR values outside [0, 1] and [0, psnr_max] are clamped in the reward.
static void test_combine_clamps() {
  RegionMetrics m;
  m.psnr = at::tensor({-5.0, 50.0, 30.0}, at::kDouble);
  m.ssim = at::tensor({-0.3, 1.0, 0.5}, at::kDouble);
  at::Tensor r = combine_psnr_ssim(m);
  expect_near(at_(r, 0), 0.0, 1e-15, "clamped low");
  expect_near(at_(r, 1), 1.0, 1e-15, "clamped high");
  expect_near(at_(r, 2), 0.35 * 0.5 + 0.65 * 0.75, 1e-15, "in range");
}

// Changes deep inside the edit region (more than the window radius, 5 px,
// from its border) leave the non-edit reward at exactly 1 but lower the
// reference reward; changes right at the border lower the non-edit SSIM
// (the window sees them) but not the non-edit PSNR.
static void test_region_locality() {
  at::manual_seed(3);
  at::Tensor src = smooth_images(1, 40, 40);
  at::Tensor mask = rect_mask(1, 40, 40, 8, 32, 8, 32);
  at::Tensor deep = rect_mask(1, 40, 40, 14, 26, 14, 26);  // ≥ 6 px inside
  at::Tensor edited = at::where(deep > 0, 1 - src, src);
  expect_near(at_(pixel_reward(edited, src, mask), 0), 1.0, 1e-12, "deep edit, pixel reward");
  g_assert_cmpfloat(at_(reference_reward(edited, src, mask), 0), <, 0.99);

  at::Tensor rim = mask - rect_mask(1, 40, 40, 9, 31, 9, 31);  // the mask's outer ring
  at::Tensor edited2 = at::where(rim > 0, 1 - src, src);
  RegionMetrics m = region_psnr_ssim(edited2, src, 1 - mask);
  expect_near(at_(m.psnr, 0), kPsnrCapDb, 0, "rim edit, non-edit psnr");
  g_assert_cmpfloat(at_(m.ssim, 0), <, 0.999);
}

// Empty regions: no NaN, PSNR cap, SSIM 1, area 0.
static void test_empty_region() {
  at::manual_seed(4);
  at::Tensor a = smooth_images(2, 16, 16), b = smooth_images(2, 16, 16);
  RegionMetrics m = region_psnr_ssim(a, b, at::zeros({2, 1, 16, 16}, at::kDouble));
  for (int i = 0; i < 2; i++) {
    expect_near(at_(m.psnr, i), kPsnrCapDb, 0, "empty psnr");
    expect_near(at_(m.ssim, i), 1.0, 0, "empty ssim");
    expect_near(at_(m.area, i), 0.0, 0, "empty area");
  }
  // A mask covering everything leaves no non-edit region: pixel reward 1 (nothing
  // to preserve), while a partial mask in the other sample scores below 1.
  at::Tensor mask = at::ones({2, 1, 16, 16}, at::kDouble);
  mask[1].slice(1, 0, 4).fill_(0.0);
  at::Tensor r = pixel_reward(a, b, mask);
  g_assert_false(at::isnan(r).any().item<bool>());
  expect_near(at_(r, 0), 1.0, 0, "full mask pixel reward");
  g_assert_cmpfloat(at_(r, 1), <, 0.9);
}

// Soft weights: scaling all weights changes nothing; a (1, 1, H, W) weight
// broadcasts over the batch; bool masks work; float32 matches float64.
static void test_weights_and_dtypes() {
  at::manual_seed(5);
  at::Tensor a = smooth_images(3, 20, 28), b = (a + 0.05 * at::randn_like(a)).clamp(0, 1);
  at::Tensor w = at::rand({1, 1, 20, 28}, at::kDouble);
  RegionMetrics m1 = region_psnr_ssim(a, b, w);
  RegionMetrics m2 = region_psnr_ssim(a, b, 0.25 * w.expand({3, 1, 20, 28}));
  g_assert_true(at::allclose(m1.psnr, m2.psnr, 0, 1e-10) && at::allclose(m1.ssim, m2.ssim, 0, 1e-12));

  at::Tensor bin = w > 0.5;
  RegionMetrics mb = region_psnr_ssim(a, b, bin);
  RegionMetrics md = region_psnr_ssim(a, b, bin.to(at::kDouble));
  g_assert_true(at::equal(mb.psnr, md.psnr) && at::equal(mb.ssim, md.ssim));

  // float32 inputs are converted, not computed in float32: only the input
  // rounding (~6e-8) separates them.
  RegionMetrics mf = region_psnr_ssim(a.to(at::kFloat), b.to(at::kFloat), w.to(at::kFloat));
  g_assert_true(mf.psnr.scalar_type() == at::kDouble);
  g_assert_true(at::allclose(mf.psnr, m1.psnr, 0, 1e-4) && at::allclose(mf.ssim, m1.ssim, 0, 1e-5));
}

// Large batches are processed in chunks: same map as one sample at a time.
static void test_chunking() {
  at::manual_seed(6);
  // On the CPU, 256×256 RGB goes 4 samples per chunk: chunks of 4 + 2.
  at::Tensor a = smooth_images(6, 256, 256), b = smooth_images(6, 256, 256);
  at::Tensor all = ssim_map(a, b);
  for (int64_t i : {0, 3, 4, 5}) {
    at::Tensor one = ssim_map(a.slice(0, i, i + 1), b.slice(0, i, i + 1));
    g_assert_true(at::equal(all.slice(0, i, i + 1), one));
  }
}

// NaN in a result is reported, not hidden.
static void test_nan_propagates() {
  at::Tensor a = at::full({1, 3, 12, 12}, 0.5, at::kDouble), b = a.clone();
  b[0][1][3][3] = NAN;
  at::Tensor r = pixel_reward(b, a, at::zeros({1, 1, 12, 12}, at::kDouble));
  g_assert_true(std::isnan(at_(r, 0)));
}

static void test_bad_input() {
  at::Tensor a = at::rand({2, 3, 16, 16}), m = at::zeros({2, 1, 16, 16});
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "(B, 3, H, W)", [&] { pixel_reward(at::rand({2, 4, 16, 16}), a, m); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "(B, 3, H, W)", [&] { pixel_reward(at::rand({3, 16, 16}), a, m); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "differ in shape", [&] { pixel_reward(a, at::rand({2, 3, 16, 15}), m); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "mask", [&] { pixel_reward(a, a, at::zeros({2, 3, 16, 16})); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "mask", [&] { reference_reward(a, a, at::zeros({3, 1, 16, 16})); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "floating point",
               [&] { pixel_reward(at::zeros({2, 3, 16, 16}, at::kByte), a, m); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "undefined", [&] { pixel_reward(a, at::Tensor(), m); });
  PixelRewardConfig cfg;
  cfg.psnr_max_db = 0;
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "psnr_max_db", [&] { pixel_reward(a, a, m, cfg); });
  cfg = PixelRewardConfig();
  cfg.w_ssim = -1;
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "w_ssim", [&] { pixel_reward(a, a, m, cfg); });
}

// The same numbers on a GPU as on the CPU (skipped without one).
static void test_cuda() {
  if (!at::hasCUDA()) {
    g_test_skip("no CUDA device");
    return;
  }
  at::manual_seed(7);
  at::Tensor a = smooth_images(2, 64, 48), b = (a + 0.1 * at::randn_like(a)).clamp(0, 1);
  at::Tensor m = rect_mask(2, 64, 48, 10, 40, 5, 30);
  at::Tensor rc = pixel_reward(a, b, m);
  at::Tensor rg = pixel_reward(a.cuda().to(at::kFloat), b.cuda().to(at::kFloat), m.cuda());
  g_assert_true(rg.is_cuda());
  g_assert_true(at::allclose(rg.cpu(), rc, 0, 1e-5));
  at::Tensor tg = reference_reward(a.cuda(), b.cuda(), m.cuda());
  g_assert_true(at::allclose(tg.cpu(), reference_reward(a, b, m), 0, 1e-10));
}

// --- dump for check-pixel-metrics.py -----------------------------------------

// Writes a float64 tensor as a .npy file (format version 1.0).
static void write_npy(const std::string &path, const at::Tensor &t) {
  at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < c.dim(); i++) shape += std::to_string(c.size(i)) + (c.dim() == 1 || i + 1 < c.dim() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t unpadded = 10 + header.size() + 1;  // magic(6) version(2) len(2) header '\n'
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char *>(c.data_ptr<double>()), c.numel() * sizeof(double));
  GError *err = nullptr;
  if (!g_file_set_contents(path.c_str(), out.data(), out.size(), &err)) g_error("%s", err->message);
}

static std::string json_array(const at::Tensor &t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.size(0); i++) {
    char buf[40];
    g_ascii_formatd(buf, sizeof buf, "%.17g", at_(t, i));
    s += (i ? ", " : "") + std::string(buf);
  }
  return s + "]";
}

// Cases of several sizes and mask kinds; each written as DIR/NAME-{a,b,mask}.npy,
// the metrics in DIR/results.json.
static int dump(const std::string &dir) {
  struct Case {
    std::string name;
    at::Tensor a, b, mask;
  };
  at::manual_seed(1234);
  std::vector<Case> cases;
  auto noisy = [](const at::Tensor &a, double s) { return (a + s * at::randn_like(a)).clamp(0, 1); };
  {  // binary rectangle, mild noise everywhere and a different edit region
    at::Tensor a = smooth_images(2, 32, 48), m = rect_mask(2, 32, 48, 6, 22, 10, 30);
    at::Tensor b = at::where(m > 0, smooth_images(2, 32, 48), noisy(a, 0.03));
    cases.push_back({"rect", a, b, m});
  }
  {  // soft Gaussian blob, a brightness change plus noise
    at::Tensor a = smooth_images(1, 64, 64);
    at::Tensor yy = at::arange(64, at::kDouble).view({64, 1}), xx = at::arange(64, at::kDouble).view({1, 64});
    at::Tensor m = at::exp(-((yy - 30).pow(2) + (xx - 36).pow(2)) / (2 * 10.0 * 10.0)).view({1, 1, 64, 64});
    cases.push_back({"soft", a, noisy((a * 1.1 + 0.02).clamp(0, 1), 0.02), m});
  }
  {  // random speckle mask on an odd size, strong noise
    at::Tensor a = smooth_images(3, 17, 23);
    at::Tensor m = (at::rand({3, 1, 17, 23}, at::kDouble) > 0.7).to(at::kDouble);
    cases.push_back({"speckle", a, noisy(a, 0.15), m});
  }
  {  // the smallest image scikit-image accepts for an 11×11 window, a one-pixel mask
    at::Tensor a = smooth_images(1, 11, 11), m = rect_mask(1, 11, 11, 0, 1, 10, 11);
    cases.push_back({"tiny", a, noisy(a, 0.05), m});
  }
  {  // smaller than the window (4×7 < 11×11): the mirror padding repeats;
     // scikit-image refuses such images, the check uses scipy's filter directly
    at::Tensor a = smooth_images(2, 4, 7);
    cases.push_back({"small", a, noisy(a, 0.1), rect_mask(2, 4, 7, 1, 3, 2, 5)});
  }
  {  // blur vs sharp: structure changes, not just noise; images touching 0 and 1
    at::Tensor a = (smooth_images(2, 40, 30) * 1.6 - 0.3).clamp(0, 1);
    at::Tensor b = at::avg_pool2d(a, 5, 1, 2, false, false);
    cases.push_back({"blur", a, b, rect_mask(2, 40, 30, 0, 40, 0, 12)});
  }
  {  // empty and full masks: the other region is the whole image
    at::Tensor a = smooth_images(2, 24, 24);
    at::Tensor m = at::zeros({2, 1, 24, 24}, at::kDouble);
    m[1].fill_(1.0);
    cases.push_back({"empty-full", a, noisy(a, 0.08), m});
  }

  std::string json = "{\n  \"psnr_cap_db\": " + std::to_string(kPsnrCapDb) + ",\n  \"cases\": [\n";
  PixelRewardConfig cfg;
  for (size_t i = 0; i < cases.size(); i++) {
    const Case &c = cases[i];
    write_npy(dir + "/" + c.name + "-a.npy", c.a);
    write_npy(dir + "/" + c.name + "-b.npy", c.b);
    write_npy(dir + "/" + c.name + "-mask.npy", c.mask);
    RegionMetrics ne = region_psnr_ssim(c.a, c.b, 1 - c.mask), ed = region_psnr_ssim(c.a, c.b, c.mask);
    json += "    {\"name\": \"" + c.name + "\",\n";
    json += "     \"ne_psnr\": " + json_array(ne.psnr) + ", \"ne_ssim\": " + json_array(ne.ssim) + ",\n";
    json += "     \"edit_psnr\": " + json_array(ed.psnr) + ", \"edit_ssim\": " + json_array(ed.ssim) + ",\n";
    json += "     \"pixel_reward\": " + json_array(pixel_reward(c.a, c.b, c.mask, cfg)) + ",\n";
    json += "     \"reference_reward\": " + json_array(reference_reward(c.a, c.b, c.mask, cfg)) + "}";
    json += i + 1 < cases.size() ? ",\n" : "\n";
  }
  json += "  ]\n}\n";
  GError *err = nullptr;
  if (!g_file_set_contents((dir + "/results.json").c_str(), json.data(), json.size(), &err))
    g_error("%s", err->message);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && std::strcmp(argv[1], "--dump") == 0) return dump(argv[2]);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/rewards/identical", test_identical);
  g_test_add_func("/rewards/known-values", test_known_values);
  g_test_add_func("/rewards/combine-clamps", test_combine_clamps);
  g_test_add_func("/rewards/region-locality", test_region_locality);
  g_test_add_func("/rewards/empty-region", test_empty_region);
  g_test_add_func("/rewards/weights-and-dtypes", test_weights_and_dtypes);
  g_test_add_func("/rewards/chunking", test_chunking);
  g_test_add_func("/rewards/nan-propagates", test_nan_propagates);
  g_test_add_func("/rewards/bad-input", test_bad_input);
  g_test_add_func("/rewards/cuda", test_cuda);
  return g_test_run();
}
