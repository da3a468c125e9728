// test-losses.cpp — every loss term against values worked out by hand on
// small tensors (design/cocoedit-rl.md gives the equations).
#include <glib.h>

#include <cmath>
#include <cstring>

#include "error.h"
#include "losses.h"
#include "train-config.h"

using namespace cocoedit;
using namespace cocoedit::train;

static void near(double got, double want, double tol = 1e-6) {
  if (std::fabs(got - want) > tol) g_error("got %.9g, want %.9g", got, want);
}

static at::Tensor vec(std::initializer_list<double> v) { return at::tensor(std::vector<double>(v), at::kDouble); }

// R = [[0, 1], [0.5, 0.5]]: group means 0.5, 0.5; batch std (population) 0.353553…
static void test_advantages() {
  auto R = at::tensor(std::vector<double>{0, 1, 0.5, 0.5}, at::kDouble).view({2, 2});
  auto [A, r] = group_advantages(R, R.std(/*unbiased=*/false).item<double>(), 5.0);
  const double s = std::sqrt(0.125) + 1e-4;
  near(A[0][0].item<double>(), -0.5 / s);
  near(A[0][1].item<double>(), 0.5 / s);
  near(A[1][0].item<double>(), 0.0);
  near(r[0][1].item<double>(), 0.5 + 0.5 / s / 10);
  // The clip: (1e-3 − 5e-4) / (std 4.33e-4 + 1e-4) ≈ 0.94, clipped to 0.5.
  auto R2 = at::tensor(std::vector<double>{0, 1e-3, 0, 0}, at::kDouble).view({2, 2});
  auto [A2, r2] = group_advantages(R2, R2.std(/*unbiased=*/false).item<double>(), 0.5);
  near(A2[0][1].item<double>(), 0.5);
  near(r2[0][1].item<double>(), 0.55);
  near(r2[0][0].item<double>(), 0.45);
}

static void test_group_filter() {
  // std 0.5 mean 0.5 → valid; std 0 → invalid; mean 0.95 std 0.05 → invalid (mean too high);
  // std 0.01 mean 0.95 → saturated.
  auto R = at::tensor(std::vector<double>{0, 1, 0.3, 0.3, 0.9, 1.0, 0.94, 0.96}, at::kDouble).view({4, 2});
  auto v = valid_groups(R, 0.02, 0.9);
  g_assert_true(v[0].item<bool>());
  g_assert_false(v[1].item<bool>());
  g_assert_false(v[2].item<bool>());
  g_assert_false(v[3].item<bool>());
  auto sat = saturated_groups(R, 0.02, 0.9);
  g_assert_false(sat[0].item<bool>());
  g_assert_false(sat[1].item<bool>());  // std 0 but mean 0.3: not saturated, just uninformative
  g_assert_false(sat[2].item<bool>());
  g_assert_true(sat[3].item<bool>());
  near(masked_mean(vec({1, 2, 3}), at::tensor(std::vector<uint8_t>{1, 0, 1}).to(at::kBool)).item<double>(), 2.0);
  near(masked_mean(vec({1, 2}), at::zeros({2}, at::kBool)).item<double>(), 0.0);
}

// One sample, one pixel, one channel so every number can be checked by hand:
// x_t = 1, t = 0.5, x0 = 0, v_θ = 1, v_old = 0.5, β = 1:
//   v⁺ = 1, v⁻ = 2·0.5 − 1 = 0;  x̂0⁺ = 1 − 0.5 = 0.5, x̂0⁻ = 1;
//   w⁺ = 0.5, w⁻ = 1;  L⁺ = 0.25 / 0.5 = 0.5, L⁻ = 1 / 1 = 1.
static void test_nft() {
  auto one = [](double v) { return at::full({1, 1, 1, 1}, v, at::kDouble); };
  auto terms = nft_terms(one(1), one(0.5), one(1), one(0), vec({0.5}), 1.0);
  near(terms.x0_pos.item<double>(), 0.5);
  near(terms.x0_neg.item<double>(), 1.0);
  near(terms.loss_pos.item<double>(), 0.5);
  near(terms.loss_neg.item<double>(), 1.0);
  near(adaptive_weight(one(0.5), one(0)).item<double>(), 0.5);
  near(adaptive_weight(one(0), one(0)).item<double>(), 1e-5);  // the floor
  // L = 5 · (r·L⁺ + (1 − r)·L⁻) / β with r = 0.8: 5 · (0.4 + 0.2) = 3.
  auto valid = at::ones({1}, at::kBool);
  near(nft_policy_loss(terms, vec({0.8}), valid, 1.0, 5.0).item<double>(), 3.0);
  // β = 0.5: v⁺ = 0.75, v⁻ = 1.5·0.5 − 0.5 = 0.25 → x̂0⁺ = 0.625, x̂0⁻ = 0.875;
  // L⁺ = 0.625² / 0.625 = 0.625, L⁻ = 0.875; L = 5·(0.8·0.625 + 0.2·0.875)/0.5 = 6.75.
  auto t2 = nft_terms(one(1), one(0.5), one(1), one(0), vec({0.5}), 0.5);
  near(nft_policy_loss(t2, vec({0.8}), valid, 0.5, 5.0).item<double>(), 6.75);
  // The adaptive weight carries no gradient: d L⁺ / d v_θ = −2·t·(x̂0⁺ − x0)·β / w⁺
  auto v = one(1).set_requires_grad(true);
  nft_terms(v, one(0.5), one(1), one(0), vec({0.5}), 1.0).loss_pos.sum().backward();
  near(v.grad().item<double>(), -2 * 0.5 * 0.5 / 0.5);
}

static void test_erosion_and_ring() {
  // A 7×7 grid whose left 3 columns are the edit region.
  auto m = at::zeros({1, 1, 7, 7}, at::kDouble);
  m.narrow(3, 0, 3).fill_(1);
  auto e = erode(m, 1);
  // Radius 1 shrinks the edit region by one column (the border does not erode).
  for (int x = 0; x < 7; x++) near(e[0][0][3][x].item<double>(), x < 2 ? 1.0 : 0.0);
  auto W = region_weights(m, 1, 0.2);
  // Columns: 0–1 eroded edit, 2–3 ring (edit border + keep border), 4–6 eroded keep.
  const double want_pos[7] = {0, 0, 0.2, 0.2, 1, 1, 1};
  const double want_neg[7] = {1, 1, 0.2, 0.2, 0, 0, 0};
  for (int x = 0; x < 7; x++) {
    near(W.pos[0][0][3][x].item<double>(), want_pos[x]);
    near(W.neg[0][0][3][x].item<double>(), want_neg[x]);
  }
  near(erode(m, 0).sum().item<double>(), m.sum().item<double>());
  // mask_to_grid: an 8×8 mask with patch 4 → 2×2 by nearest neighbour.
  auto big = at::zeros({1, 1, 8, 8}, at::kDouble);
  big.narrow(3, 0, 4).fill_(1);
  auto g = mask_to_grid(big, 4);
  g_assert_cmpint(g.size(2), ==, 2);
  near(g[0][0][0][0].item<double>(), 1);
  near(g[0][0][0][1].item<double>(), 0);
}

static void test_distance_and_hinges() {
  // W = 1 on the left half of a 2×2 grid over a 4×4 image (patch 2);
  // a − b = 0.1 on the left half, 0.5 on the right: d = 0.01 (the right half is not weighted).
  auto w = at::zeros({1, 1, 2, 2}, at::kDouble);
  w.narrow(3, 0, 1).fill_(1);
  auto a = at::zeros({1, 3, 4, 4}, at::kDouble), b = at::zeros({1, 3, 4, 4}, at::kDouble);
  a.narrow(3, 0, 2).fill_(0.1);
  a.narrow(3, 2, 2).fill_(0.5);
  near(weighted_distance(w, a, b).item<double>(), 0.01);
  near(hinge_keep(vec({0.01}), 1e-3).item<double>(), 0.009);
  near(hinge_keep(vec({1e-4}), 1e-3).item<double>(), 0.0);
  near(hinge_change(vec({0.01}), 3e-2).item<double>(), 0.02);
  near(hinge_change(vec({0.5}), 3e-2).item<double>(), 0.0);
  // L_reg = mean_valid(r·λ⁺·L_keep) + mean_valid((1 − r)·λ⁻·L_change), the invalid sample ignored:
  // r = [0.8, 0.3 (invalid)], L_keep = [0.5, 9], L_change = [0.25, 9], λ± = 0.02:
  // 0.8·0.02·0.5 + 0.2·0.02·0.25 = 0.008 + 0.001 = 0.009.
  auto valid = at::tensor(std::vector<uint8_t>{1, 0}).to(at::kBool);
  near(region_regularizer(vec({0.5, 9}), vec({0.25, 9}), vec({0.8, 0.3}), valid, 0.02, 0.02).item<double>(), 0.009);
}

static void test_kl_eta_grpo_fm() {
  auto a = at::full({1, 3, 2, 2}, 0.5, at::kDouble), b = at::zeros({1, 3, 2, 2}, at::kDouble);
  near(kl_to_reference(a, b).item<double>(), 0.25);
  near(old_policy_eta(0, 0.001, 0.5), 0.0);
  near(old_policy_eta(100, 0.001, 0.5), 0.1);
  near(old_policy_eta(10000, 0.001, 0.5), 0.5);
  // ρ = e^{0.1} ≈ 1.105 with A = 1 and clip 1e-4: min(1.105, 1.0001) → −1.0001.
  auto valid = at::ones({1}, at::kBool);
  near(grpo_policy_loss(vec({0.1}), vec({0.0}), vec({1.0}), valid, 1e-4).item<double>(), -1.0001);
  // A < 0: min(ρA, clip(ρ)A) = ρA = −1.105…
  near(grpo_policy_loss(vec({0.1}), vec({0.0}), vec({-1.0}), valid, 1e-4).item<double>(), std::exp(0.1));
  near(grpo_kl(a, b, 0.5).item<double>(), 0.25 / (2 * 0.25));
  // Flow matching: v = ε − x0 exactly gives 0; off by 1 everywhere gives 1.
  auto x0 = at::zeros({2, 3, 2, 2}, at::kDouble), eps = at::ones({2, 3, 2, 2}, at::kDouble);
  near(flow_matching_loss(eps - x0, x0, eps).item<double>(), 0.0);
  near(flow_matching_loss(eps, x0 + 1, eps + 1 - 1).item<double>(), 1.0);
  near(noisy(x0, eps, vec({0.25, 1.0}))[0][0][0][0].item<double>(), 0.25);
  // Logit-normal with shift 1 at n = 0: sigmoid(0) = 0.5; shift 3: 1.5 / 2 = 0.75.
  near(logit_normal_t(vec({0.0}), 0, 1, 1.0).item<double>(), 0.5);
  near(logit_normal_t(vec({0.0}), 0, 1, 3.0).item<double>(), 0.75);
}

static void test_config() {
  auto c = load_train_config("", {"rl.beta=0.5", "lora.targets=[\"qkv\"]", "run.out_dir=/tmp/x"});
  near(c.rl_beta, 0.5);
  g_assert_cmpint(c.lora_targets.size(), ==, 1);
  g_assert_cmpstr(c.run_out_dir.c_str(), ==, "/tmp/x");
  auto back = train_config_from_json(train_config_to_json(c), "round trip");
  near(back.rl_beta, 0.5);
  g_assert_cmpstr(back.lora_targets[0].c_str(), ==, "qkv");
  auto expect_bad = [](std::vector<std::string> sets, const char *fragment) {
    try {
      load_train_config("", sets);
    } catch (const Error &e) {
      if (!std::strstr(e.what(), fragment)) g_error("message \"%s\" lacks \"%s\"", e.what(), fragment);
      return;
    }
    g_error("no error for %s", sets[0].c_str());
  };
  expect_bad({"rl.bta=0.5"}, "rl.bta");        // a typo is an error, not a silent default
  expect_bad({"rl.beta=\"high\""}, "rl.beta");  // wrong type
  expect_bad({"rl.loss=ppo"}, "rl.loss");
  expect_bad({"rl.beta"}, "section.key=value");
  expect_bad({"rl.train_timesteps=20"}, "rl.train_timesteps");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/losses/advantages", test_advantages);
  g_test_add_func("/losses/group-filter", test_group_filter);
  g_test_add_func("/losses/nft", test_nft);
  g_test_add_func("/losses/erosion-ring", test_erosion_and_ring);
  g_test_add_func("/losses/distance-hinges", test_distance_and_hinges);
  g_test_add_func("/losses/kl-eta-grpo-fm", test_kl_eta_grpo_fm);
  g_test_add_func("/losses/config", test_config);
  return g_test_run();
}
