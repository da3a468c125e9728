// test-autoencoder.cpp — the FLUX autoencoder and latent packing against
// the golden vectors of BFL's autoencoder.py / sampling.py (tests/golden/ae),
// under both key layouts, plus the tiny Kontext pipeline's diffusers vae/.
//
// Usage: test-autoencoder GOLDEN_AE_DIR [--tap]
#include <glib.h>
#include <glib/gstdio.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include "ae/ae_config.h"
#include "ae/flux_autoencoder.h"
#include "ae/latent_packing.h"
#include "error.h"
#include "safetensors.h"

#include "../golden-util.h"

using namespace cocoedit;

static std::string golden;  // tests/golden/ae

static std::string golden_path(const std::string &name) { return golden + "/" + name; }

static at::Tensor golden_tensor(const std::string &file, const std::string &name) {
  return read_golden(golden_path(file), name);
}

// The README's config: AutoEncoderParams(resolution=64, ch=32, ch_mult=[1,1,1,2],
// num_res_blocks=1, z_channels=16, scale 0.3611, shift 0.1159).
static AutoencoderParams golden_params() {
  return autoencoder_params_from_json(
      R"({"resolution": 64, "in_channels": 3, "ch": 32, "out_ch": 3, "ch_mult": [1, 1, 1, 2],
          "num_res_blocks": 1, "z_channels": 16, "scale_factor": 0.3611, "shift_factor": 0.1159})",
      "golden config");
}

static std::string shape_of(const at::Tensor &t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); i++) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Checks shape and |x − ref| ≤ 1e-4 + 1e-4·|ref| (README fp32 tolerance);
// reports max |Δ|.
static void expect_close(const char *what, const at::Tensor &got, const at::Tensor &ref) {
  if (got.sizes() != ref.sizes())
    g_error("%s: shape %s, expected %s", what, shape_of(got).c_str(), shape_of(ref).c_str());
  auto g = got.to(at::kDouble), r = ref.to(at::kDouble);
  auto diff = (g - r).abs();
  double max_diff = diff.max().item<double>();
  double worst = (diff - (1e-4 + 1e-4 * r.abs())).max().item<double>();
  g_test_message("%s: max |Δ| %.3g (ref max |x| %.3g)", what, max_diff, r.abs().max().item<double>());
  if (!std::isfinite(max_diff) || worst > 0)
    g_error("%s: max |Δ| %.3g exceeds 1e-4 + 1e-4·|ref|", what, max_diff);
}

static void expect_equal(const char *what, const at::Tensor &got, const at::Tensor &ref) {
  if (got.sizes() != ref.sizes())
    g_error("%s: shape %s, expected %s", what, shape_of(got).c_str(), shape_of(ref).c_str());
  double max_diff = (got - ref).abs().max().item<double>();
  g_test_message("%s: max |Δ| %.3g (exact expected)", what, max_diff);
  if (!at::equal(got, ref)) g_error("%s: not bit-identical (max |Δ| %.3g)", what, max_diff);
}

// Encode and decode of the golden inputs with weights from `file`.
static void check_layout(const char *file, AutoencoderKeys want, const char *label) {
  FluxAutoencoder ae(golden_params());
  AutoencoderKeys keys = ae.load(golden_path(file));
  g_assert_true(keys == want);

  at::Tensor image = golden_tensor("inputs.safetensors", "image");
  at::Tensor z = golden_tensor("inputs.safetensors", "z");
  std::string p = std::string(label) + " ";
  expect_close((p + "encoder_raw").c_str(), ae.encode_moments(image), golden_tensor("expected.safetensors", "encoder_raw"));
  at::Tensor enc = ae.encode(image);
  expect_close((p + "encode").c_str(), enc, golden_tensor("expected.safetensors", "encode"));
  expect_close((p + "decode").c_str(), ae.decode(z), golden_tensor("expected.safetensors", "decode"));
  expect_close((p + "decode_of_encode").c_str(), ae.decode(enc),
               golden_tensor("expected.safetensors", "decode_of_encode"));
  expect_close((p + "pack.tokens_of_encode").c_str(), pack_latents(enc),
               golden_tensor("expected.safetensors", "pack.tokens_of_encode"));
}

// The layout's size against the README (827,779) and the design's FLUX.1 count.
static void test_parameter_count() {
  g_assert_cmpint(FluxAutoencoder::parameter_count(golden_params()), ==, 827779);
  g_assert_cmpint(FluxAutoencoder::parameter_count(AutoencoderParams()), ==, 83819683);
}

static void test_bfl_layout() { check_layout("ae.safetensors", AutoencoderKeys::bfl, "BFL"); }

static void test_diffusers_layout() {
  check_layout("diffusers_vae.safetensors", AutoencoderKeys::diffusers, "diffusers");
}

static void test_packing() {
  expect_equal("pack.tokens_of_z", pack_latents(golden_tensor("inputs.safetensors", "z")),
               golden_tensor("expected.safetensors", "pack.tokens_of_z"));
  expect_equal("pack.tokens_of_arange", pack_latents(golden_tensor("inputs.safetensors", "z_arange")),
               golden_tensor("expected.safetensors", "pack.tokens_of_arange"));
  // The packing of the reference's own encode, so this one is exact too.
  expect_equal("pack of reference encode", pack_latents(golden_tensor("expected.safetensors", "encode")),
               golden_tensor("expected.safetensors", "pack.tokens_of_encode"));
  at::Tensor tokens = golden_tensor("inputs.safetensors", "tokens");
  expect_equal("unpack.latent", unpack_latents(tokens, 48, 64), golden_tensor("expected.safetensors", "unpack.latent"));
  expect_equal("unpack_tokens(3, 4)", unpack_tokens(tokens, 3, 4), golden_tensor("expected.safetensors", "unpack.latent"));
  expect_equal("pack(unpack(tokens))", pack_latents(unpack_latents(tokens, 48, 64)), tokens);

  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "even", [] { pack_latents(at::zeros({1, 16, 5, 8})); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "grid", [&] { unpack_latents(tokens, 64, 64); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "multiple of 4", [] { unpack_tokens(at::zeros({1, 12, 63}), 3, 4); });
}

// The tiny FLUX.1-Kontext-dev pipeline's vae/ (diffusers layout, config.json).
static void test_kontext_vae() {
  const std::string dir = golden + "/../kontext-pipeline/FLUX.1-Kontext-dev-tiny/vae";
  auto ae = FluxAutoencoder::from_diffusers_dir(dir);
  const AutoencoderParams &p = ae->params();
  g_assert_cmpint(p.ch, ==, 32);
  g_assert_cmpint(p.levels(), ==, 4);
  g_assert_cmpint(p.ch_mult[3], ==, 2);
  g_assert_cmpint(p.num_res_blocks, ==, 1);
  g_assert_cmpint(p.z_channels, ==, 16);
  g_assert_cmpfloat(std::fabs(p.scale_factor - 0.3611), <, 1e-12);
  g_assert_cmpfloat(std::fabs(p.shift_factor - 0.1159), <, 1e-12);

  at::manual_seed(7);
  at::Tensor image = at::rand({2, 3, 64, 48}) * 2 - 1;
  at::Tensor z = ae->encode(image);
  g_assert_true(z.sizes() == at::IntArrayRef({2, 16, 8, 6}));
  g_assert_true(at::isfinite(z).all().item<bool>());
  at::Tensor out = ae->decode(z);
  g_assert_true(out.sizes() == at::IntArrayRef({2, 3, 64, 48}));
  g_assert_true(at::isfinite(out).all().item<bool>());
  at::Tensor tokens = pack_latents(z);
  g_assert_true(tokens.sizes() == at::IntArrayRef({2, 12, 64}));
  g_test_message("kontext vae: latent rms %.3g, image rms %.3g", z.pow(2).mean().sqrt().item<double>(),
                 out.pow(2).mean().sqrt().item<double>());
}

static void test_config_errors() {
  auto parse = [](const std::string &json) { autoencoder_params_from_json(json, "cfg.json"); };
  expect_error(COCOEDIT_ERR_FORMAT, "cfg.json", [&] { parse("{not json"); });
  expect_error(COCOEDIT_ERR_FORMAT, "\"chmult\"", [&] { parse(R"({"chmult": [1, 2]})"); });
  expect_error(COCOEDIT_ERR_FORMAT, "multiple of the 32", [&] { parse(R"({"ch": 48})"); });
  expect_error(COCOEDIT_ERR_FORMAT, "\"ch\" must be an integer", [&] { parse(R"({"ch": "128"})"); });
  expect_error(COCOEDIT_ERR_FORMAT, "ch_mult", [&] { parse(R"({"ch_mult": []})"); });
  // A diffusers config with `changes` made to a valid one (a null value drops the field).
  auto diff = [](std::map<std::string, std::string> changes) {
    std::map<std::string, std::string> f = {
        {"_class_name", "\"AutoencoderKL\""}, {"block_out_channels", "[32, 64]"}, {"layers_per_block", "1"},
        {"latent_channels", "16"}, {"scaling_factor", "0.3611"}, {"shift_factor", "0.1159"},
        {"use_quant_conv", "false"}, {"use_post_quant_conv", "false"}};
    for (const auto &c : changes) f[c.first] = c.second;
    std::string json = "{";
    for (const auto &kv : f)
      if (kv.second != "drop") json += (json.size() > 1 ? ", \"" : "\"") + kv.first + "\": " + kv.second;
    return json + "}";
  };
  AutoencoderParams base = autoencoder_params_from_json(diff({}), "cfg.json");  // the baseline parses
  g_assert_cmpint(base.ch, ==, 32);
  g_assert_cmpint(base.ch_mult[1], ==, 2);
  expect_error(COCOEDIT_ERR_FORMAT, "use_quant_conv", [&] { parse(diff({{"use_quant_conv", "drop"}})); });
  expect_error(COCOEDIT_ERR_FORMAT, "shift_factor", [&] { parse(diff({{"shift_factor", "null"}})); });
  expect_error(COCOEDIT_ERR_FORMAT, "multiples of the first", [&] { parse(diff({{"block_out_channels", "[64, 96]"}})); });
  expect_error(COCOEDIT_ERR_FORMAT, "act_fn", [&] { parse(diff({{"act_fn", "\"gelu\""}})); });
  expect_error(COCOEDIT_ERR_FORMAT, "UpDecoderBlock2D",
               [&] { parse(diff({{"up_block_types", "[\"UpDecoderBlock2D\", \"AttnUpDecoderBlock2D\"]"}})); });
  expect_error(COCOEDIT_ERR_FORMAT, "AutoencoderKL", [&] { parse(diff({{"_class_name", "\"AutoencoderTiny\""}})); });
  expect_error(COCOEDIT_ERR_FORMAT, "latents_mean", [&] { parse(diff({{"latents_mean", "[0.1]"}})); });
  expect_error(COCOEDIT_ERR_IO, "nowhere", [] { load_autoencoder_params("/nowhere/config.json"); });
}

// A temporary safetensors file holding `tensors`.
static std::string temp_file(const std::string &dir, const std::string &name,
                             const std::vector<std::pair<std::string, at::Tensor>> &tensors) {
  std::string path = dir + "/" + name;
  write_safetensors(path, tensors, at::kFloat, {});
  return path;
}

static void test_weight_errors() {
  std::vector<std::pair<std::string, at::Tensor>> all;
  {
    SafetensorsFile f(golden_path("ae.safetensors"));
    for (const auto &e : f.entries()) all.emplace_back(e.name, f.read(e));
  }
  GError *error = nullptr;
  gchar *tmp = g_dir_make_tmp("test-ae-XXXXXX", &error);
  g_assert_no_error(error);
  const std::string dir = tmp;
  g_free(tmp);

  auto missing = all;
  std::string dropped = missing[5].first;
  missing.erase(missing.begin() + 5);
  std::string p_missing = temp_file(dir, "missing.safetensors", missing);
  expect_error(COCOEDIT_ERR_FORMAT, "missing tensor \"" + dropped + "\"",
               [&] { FluxAutoencoder(golden_params()).load(p_missing); });

  auto extra = all;
  extra.emplace_back("encoder.quant_conv.weight", at::zeros({2, 2}));
  std::string p_extra = temp_file(dir, "extra.safetensors", extra);
  expect_error(COCOEDIT_ERR_FORMAT, "unexpected tensor \"encoder.quant_conv.weight\"",
               [&] { FluxAutoencoder(golden_params()).load(p_extra); });

  std::string p_other = temp_file(dir, "other.safetensors", {{"model.embed.weight", at::zeros({4})}});
  expect_error(COCOEDIT_ERR_FORMAT, "model.embed.weight", [&] { FluxAutoencoder(golden_params()).load(p_other); });

  auto mixed = all;
  mixed.emplace_back("encoder.down_blocks.0.resnets.0.norm1.weight", at::zeros({32}));
  std::string p_mixed = temp_file(dir, "mixed.safetensors", mixed);
  expect_error(COCOEDIT_ERR_FORMAT, "mixes", [&] { FluxAutoencoder(golden_params()).load(p_mixed); });

  // The right file for another config: the first wrong shape is named.
  AutoencoderParams wider = golden_params();
  wider.ch_mult = {1, 2, 2, 2};
  expect_error(COCOEDIT_ERR_FORMAT, "has shape", [&] { FluxAutoencoder(wider).load(golden_path("ae.safetensors")); });
  expect_error(COCOEDIT_ERR_IO, "nowhere", [] { FluxAutoencoder(golden_params()).load("/nowhere/ae.safetensors"); });

  for (const char *name : {"missing", "extra", "other", "mixed"}) g_remove((dir + "/" + name + ".safetensors").c_str());
  g_rmdir(dir.c_str());

  FluxAutoencoder ae(golden_params());
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "before the weights", [&] { ae.encode(at::zeros({1, 3, 16, 16})); });
  ae.load(golden_path("ae.safetensors"));
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "multiples of 8", [&] { ae.encode(at::zeros({1, 3, 20, 16})); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "(B, 3, H, W)", [&] { ae.encode(at::zeros({3, 16, 16})); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "(B, 16, h, w)", [&] { ae.decode(at::zeros({1, 4, 2, 2})); });
}

// A trained autoencoder's folder: init_weights is seeded, save_diffusers_dir
// writes what from_diffusers_dir reads back to the same numbers (config with
// its latent scaling included), and training mode records gradients.
static void test_train_save_load() {
  AutoencoderParams p = golden_params();
  FluxAutoencoder a(p), b(p);
  a.init_weights(7);
  b.init_weights(7);
  auto x = at::rand({1, 3, 16, 16}) * 2 - 1;
  expect_equal("the same seed gives the same weights", a.decode(a.encode(x)), b.decode(b.encode(x)));
  b.init_weights(8);
  g_assert_false(at::equal(a.encode(x), b.encode(x)));

  a.set_latent_scaling(0.5, 0.25);
  gchar *dir = g_dir_make_tmp("cocoedit-ae-XXXXXX", nullptr);
  const std::string out = std::string(dir) + "/vae";
  a.save_diffusers_dir(out, at::kFloat);
  auto back = FluxAutoencoder::from_diffusers_dir(out);
  g_assert_cmpfloat(back->params().scale_factor, ==, 0.5);
  g_assert_cmpfloat(back->params().shift_factor, ==, 0.25);
  expect_equal("a saved folder encodes as the original", back->encode(x), a.encode(x));
  expect_equal("a saved folder decodes as the original", back->decode(a.encode(x)), a.decode(a.encode(x)));

  // A second load copies into the same tensors (an optimizer keeps them).
  auto held = back->parameters();
  back->init_weights(9);
  held = back->parameters();
  back->load(out + "/diffusion_pytorch_model.safetensors");
  g_assert_true(held[0].data_ptr() == back->parameters()[0].data_ptr());
  expect_equal("a reload restores the weights", back->encode(x), a.encode(x));

  g_assert_false(a.encode(x).requires_grad());
  a.set_trainable(true);
  auto loss = a.decode(a.encode_moments(x).narrow(1, 0, p.z_channels)).pow(2).mean();
  loss.backward();
  g_assert_true(a.parameters()[0].grad().defined());
  g_assert_cmpfloat(a.parameters()[0].grad().abs().sum().item<double>(), >, 0.0);
  {
    at::AutoGradMode no_grad(false);  // inference inside a training program records nothing
    g_assert_false(a.encode(x).requires_grad());
  }
  g_free(dir);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  if (argc < 2) {
    g_printerr("usage: %s GOLDEN_AE_DIR [--tap]\n", argv[0]);
    return 2;
  }
  golden = argv[1];
  at::set_num_threads(2);
  g_test_add_func("/ae/parameter-count", test_parameter_count);
  g_test_add_func("/ae/bfl-layout", test_bfl_layout);
  g_test_add_func("/ae/diffusers-layout", test_diffusers_layout);
  g_test_add_func("/ae/packing", test_packing);
  g_test_add_func("/ae/kontext-tiny-vae", test_kontext_vae);
  g_test_add_func("/ae/config-errors", test_config_errors);
  g_test_add_func("/ae/weight-errors", test_weight_errors);
  g_test_add_func("/ae/train-save-load", test_train_save_load);
  return g_test_run();
}
