// test-text-encoders.cpp — engine/src/text against the golden vectors of the
// reference code (tests/golden/t5, tests/golden/clip; tolerances from their
// READMEs), the tiny Kontext pipeline's text encoder folders, and the
// loaders' refusal of malformed folders.
//
// Usage: test-text-encoders GOLDEN_DIR [--tap]   (GOLDEN_DIR = tests/golden)
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "error.h"
#include "safetensors.h"
#include "text/clip_text.h"
#include "text/hf_component.h"
#include "text/t5_encoder.h"

#include "../golden-util.h"

using namespace cocoedit;

static std::string golden;

// The golden model configs, as their READMEs give them (the golden folders
// hold weights only).
static const char *kT5Config = R"({
  "model_type": "t5", "vocab_size": 32128, "d_model": 64, "d_kv": 16, "d_ff": 96,
  "num_layers": 2, "num_heads": 4, "relative_attention_num_buckets": 32,
  "relative_attention_max_distance": 128, "layer_norm_epsilon": 1e-06,
  "feed_forward_proj": "gated-gelu"})";
static const char *kClipConfig = R"({
  "model_type": "clip_text_model", "vocab_size": 49408, "hidden_size": 64, "intermediate_size": 128,
  "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 77,
  "layer_norm_eps": 1e-05, "hidden_act": "quick_gelu"})";

static std::string path_of(const std::string &a, const std::string &b) {
  return textenc::path_in(a, b);
}

// ---- T5 -------------------------------------------------------------------------

static T5Encoder &t5() {
  static std::unique_ptr<T5Encoder> model = load_t5_encoder(
      t5_config_from_json(kT5Config, "golden t5 config"), path_of(golden, "t5/t5_encoder.safetensors"));
  return *model;
}

static void test_t5_weights() {
  g_assert_cmpint(t5().parameter_count(), ==, 2126272);  // README: 2,126,272 parameters
  g_assert_true(t5().stored_dtype() == at::kBFloat16);   // kept as stored
  g_assert_true(t5().device() == at::Device(at::kCPU));
}

static void test_t5_buckets() {
  const std::string expected(path_of(golden, "t5/expected.safetensors"));
  at::Tensor want = read_golden(expected, "relative_position_bucket_for_rel_-511_to_511");
  at::Tensor rel = at::arange(-511, 512, at::kLong);
  at::Tensor got = t5_relative_position_bucket(rel, true, 32, 128);
  const int64_t mismatches = (got != want).sum().item<int64_t>();
  g_test_message("t5 bucket table: %lld of %lld entries differ (exact match required)",
                 static_cast<long long>(mismatches), static_cast<long long>(want.numel()));
  g_assert_cmpint(mismatches, ==, 0);
}

static void test_t5_position_bias() {
  const std::string expected(path_of(golden, "t5/expected.safetensors"));
  at::Tensor want = read_golden(expected, "position_bias_L40");
  at::Tensor got = t5().position_bias(40, 40, at::kFloat);
  const double d = max_abs_diff(got, want);
  g_test_message("t5 position_bias_L40: max |diff| = %.3g (tolerance 5e-4)", d);
  g_assert_cmpfloat(d, <=, 5e-4);
}

static void test_t5_fp32() {
  const std::string inputs(path_of(golden, "t5/inputs.safetensors"));
  const std::string expected(path_of(golden, "t5/expected.safetensors"));
  for (int i = 0; i < 4; i++) {
    const std::string n = std::to_string(i);
    at::Tensor got = t5().forward(read_golden(inputs, "input_ids_" + n), at::kFloat);
    g_assert_true(got.scalar_type() == at::kFloat);
    const double d = max_abs_diff(got, read_golden(expected, "last_hidden_state_" + n));
    g_test_message("t5 fp32 last_hidden_state_%d: max |diff| = %.3g (tolerance 5e-4)", i, d);
    g_assert_cmpfloat(d, <=, 5e-4);
  }
}

static void test_t5_bf16() {
  const std::string inputs(path_of(golden, "t5/inputs.safetensors"));
  const std::string expected(path_of(golden, "t5/expected.safetensors"));
  for (int i = 0; i < 4; i++) {
    const std::string n = std::to_string(i);
    at::Tensor got = t5().forward(read_golden(inputs, "input_ids_" + n), at::kBFloat16);
    g_assert_true(got.scalar_type() == at::kBFloat16);
    at::Tensor want = read_golden(expected, "last_hidden_state_bf16_" + n);
    const double d = max_abs_diff(got, want), r = rms_diff(got, want);
    g_test_message("t5 bf16 last_hidden_state_bf16_%d: max |diff| = %.3g (tolerance 0.3), rms = %.3g (tolerance 0.05)",
                   i, d, r);
    g_assert_cmpfloat(d, <=, 0.3);
    g_assert_cmpfloat(r, <=, 0.05);
  }
}

// With a mask over the padding, the real tokens of the 512-padded input see
// what they see unpadded (the bias depends on relative positions only); an
// all-ones mask changes nothing.
static void test_t5_mask() {
  const std::string inputs(path_of(golden, "t5/inputs.safetensors"));
  at::Tensor ids = read_golden(inputs, "input_ids_0");
  const int64_t real = (ids != 0).sum().item<int64_t>();
  g_assert_cmpint(real, >, 1);
  g_assert_cmpint(real, <, 512);
  at::Tensor mask = (ids != 0).to(at::kLong);
  at::Tensor masked = t5().forward(ids, at::kFloat, mask).slice(1, 0, real);
  at::Tensor unpadded = t5().forward(ids.slice(1, 0, real), at::kFloat);
  const double d = max_abs_diff(masked, unpadded);
  g_test_message("t5 masked padded vs unpadded: max |diff| = %.3g (bound 1e-4)", d);
  g_assert_cmpfloat(d, <=, 1e-4);
  at::Tensor ones = at::ones_like(ids);
  g_assert_cmpfloat(max_abs_diff(t5().forward(ids, at::kFloat, ones), t5().forward(ids, at::kFloat)), ==, 0.0);
  // Without the mask the padding changes the real tokens' states (why BFL's
  // padding to exactly 512 matters).
  g_assert_cmpfloat(max_abs_diff(t5().forward(ids, at::kFloat).slice(1, 0, real), unpadded), >, 1e-3);
}

static void test_t5_bad_input() {
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "vocabulary",
               [] { t5().forward(at::full({1, 4}, 32128, at::kLong), at::kFloat); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "vocabulary",
               [] { t5().forward(at::full({1, 4}, -1, at::kLong), at::kFloat); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "[batch, length]",
               [] { t5().forward(at::zeros({4}, at::kLong), at::kFloat); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "integer",
               [] { t5().forward(at::zeros({1, 4}, at::kFloat), at::kFloat); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "dtype",
               [] { t5().forward(at::zeros({1, 4}, at::kLong), at::kHalf); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "mask",
               [] { t5().forward(at::zeros({1, 4}, at::kLong), at::kFloat, at::ones({1, 5})); });
}

static void test_t5_config_errors() {
  auto with = [](const std::string &from, const std::string &to) {
    std::string s = kT5Config;
    size_t at = s.find(from);
    g_assert_true(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  T5Config c = t5_config_from_json(kT5Config, "t5");
  g_assert_cmpint(c.inner_dim(), ==, 64);
  g_assert_false(c.pytorch_tanh_gelu);
  expect_error(COCOEDIT_ERR_FORMAT, "JSON", [] { t5_config_from_json("{", "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "\"d_model\" is missing",
               [&] { t5_config_from_json(with("\"d_model\": 64,", ""), "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "\"d_kv\" must be an integer",
               [&] { t5_config_from_json(with("\"d_kv\": 16", "\"d_kv\": \"16\""), "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "num_heads",
               [&] { t5_config_from_json(with("\"num_heads\": 4", "\"num_heads\": 0"), "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "feed_forward_proj",
               [&] { t5_config_from_json(with("\"gated-gelu\"", "\"relu\""), "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "model_type",
               [&] { t5_config_from_json(with("\"t5\"", "\"bert\""), "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "dense_act_fn",
               [&] { t5_config_from_json(with("\"model_type\": \"t5\",", "\"dense_act_fn\": \"relu\","), "cfg"); });
  expect_error(COCOEDIT_ERR_FORMAT, "relative_attention_max_distance",
               [&] { t5_config_from_json(with("\"relative_attention_max_distance\": 128",
                                              "\"relative_attention_max_distance\": 8"), "cfg"); });
  g_assert_true(t5_config_from_json(with("\"model_type\": \"t5\",", "\"dense_act_fn\": \"gelu_pytorch_tanh\","),
                                    "cfg").pytorch_tanh_gelu);
}

// ---- CLIP -----------------------------------------------------------------------

static ClipTextModel &clip() {
  static std::unique_ptr<ClipTextModel> model = load_clip_text(
      clip_text_config_from_json(kClipConfig, "golden clip config"), path_of(golden, "clip/clip_text.safetensors"));
  return *model;
}

static void check_clip(at::ScalarType dtype, double tolerance) {
  const std::string inputs(path_of(golden, "clip/inputs.safetensors"));
  const std::string expected(path_of(golden, "clip/expected.safetensors"));
  const std::string tag = dtype == at::kFloat ? "" : "bf16_";
  for (int i = 0; i < 5; i++) {
    const std::string n = std::to_string(i);
    ClipTextOutput out = clip().forward(read_golden(inputs, "input_ids_" + n), dtype);
    g_assert_true(out.last_hidden_state.scalar_type() == dtype);
    const double dl = max_abs_diff(out.last_hidden_state, read_golden(expected, "last_hidden_state_" + tag + n));
    const double dp = max_abs_diff(out.pooled, read_golden(expected, "pooler_output_" + tag + n));
    g_test_message("clip %s last_hidden_state_%s%d: max |diff| = %.3g; pooler_output_%s%d: max |diff| = %.3g "
                   "(tolerance %g)", dtype == at::kFloat ? "fp32" : "bf16", tag.c_str(), i, dl, tag.c_str(), i,
                   dp, tolerance);
    g_assert_cmpfloat(dl, <=, tolerance);
    g_assert_cmpfloat(dp, <=, tolerance);
  }
}

static void test_clip_weights() {
  g_assert_cmpint(clip().parameter_count(), ==, 3234112);  // README: 3,234,112 parameters
  g_assert_true(clip().stored_dtype() == at::kBFloat16);
}

static void test_clip_fp32() { check_clip(at::kFloat, 1e-4); }
static void test_clip_bf16() { check_clip(at::kBFloat16, 0.1); }

// Both pooling rules pick the README's first-EOS positions.
static void test_clip_pool_rules() {
  const std::string inputs(path_of(golden, "clip/inputs.safetensors"));
  const int64_t eos_at[5] = {6, 14, 1, 76, 21};
  std::string legacy_json = kClipConfig;
  legacy_json.insert(1, "\"eos_token_id\": 2, ");
  ClipTextConfig legacy_config = clip_text_config_from_json(legacy_json, "legacy");
  g_assert_cmpint(legacy_config.eos_token_id, ==, 2);
  g_assert_cmpint(clip().config().eos_token_id, ==, 49407);
  auto legacy = load_clip_text(legacy_config, path_of(golden, "clip/clip_text.safetensors"));
  for (int i = 0; i < 5; i++) {
    at::Tensor ids = read_golden(inputs, "input_ids_" + std::to_string(i));
    g_assert_cmpint(clip().pooled_positions(ids).item<int64_t>(), ==, eos_at[i]);
    g_assert_cmpint(legacy->pooled_positions(ids).item<int64_t>(), ==, eos_at[i]);
  }
}

static void test_clip_errors() {
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "more than the 77",
               [] { clip().forward(at::zeros({1, 78}, at::kLong), at::kFloat); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "vocabulary",
               [] { clip().forward(at::full({1, 3}, 49408, at::kLong), at::kFloat); });
  std::string s = kClipConfig;
  expect_error(COCOEDIT_ERR_FORMAT, "num_attention_heads", [&] {
    std::string t = s;
    t.replace(t.find("\"num_attention_heads\": 4"), 24, "\"num_attention_heads\": 5");
    clip_text_config_from_json(t, "cfg");
  });
  expect_error(COCOEDIT_ERR_FORMAT, "hidden_act", [&] {
    std::string t = s;
    t.replace(t.find("quick_gelu"), 10, "relu");
    clip_text_config_from_json(t, "cfg");
  });
  expect_error(COCOEDIT_ERR_FORMAT, "model_type", [&] {
    std::string t = s;
    t.replace(t.find("clip_text_model"), 15, "clip");
    clip_text_config_from_json(t, "cfg");
  });
  // A config that does not fit the weights: the first difference is named.
  expect_error(COCOEDIT_ERR_FORMAT, "text_model.embeddings.position_embedding.weight", [&] {
    std::string t = s;
    t.replace(t.find("\"max_position_embeddings\": 77"), 29, "\"max_position_embeddings\": 76");
    load_clip_text(clip_text_config_from_json(t, "cfg"), path_of(golden, "clip/clip_text.safetensors"));
  });
}

// ---- the tiny Kontext pipeline's folders ----------------------------------------

static void test_kontext_clip_folder() {
  const std::string dir = path_of(golden, "kontext-pipeline/FLUX.1-Kontext-dev-tiny/text_encoder");
  auto model = load_clip_text(dir);
  const int64_t D = model->config().hidden_size;
  g_assert_cmpint(D, ==, 24);
  g_assert_cmpint(model->config().eos_token_id, ==, 2);  // the legacy argmax rule
  at::Tensor ids = at::full({1, 77}, 49407, at::kLong);
  ids[0][0] = 49406;
  ids[0][1] = 320;
  ids[0][2] = 1125;
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    ClipTextOutput out = model->forward(ids, dtype);
    g_assert_true(out.last_hidden_state.sizes() == at::IntArrayRef({1, 77, D}));
    g_assert_true(out.pooled.sizes() == at::IntArrayRef({1, D}));
    g_assert_true(at::isfinite(out.last_hidden_state).all().item<bool>());
    g_assert_true(at::isfinite(out.pooled).all().item<bool>());
    g_assert_cmpint(model->pooled_positions(ids).item<int64_t>(), ==, 3);
    g_assert_cmpfloat(max_abs_diff(out.pooled[0], out.last_hidden_state[0][3]), ==, 0.0);
  }
  g_test_message("kontext text_encoder (CLIP): loads, [1, 77, %lld] and pooled [1, %lld], finite",
                 static_cast<long long>(D), static_cast<long long>(D));
}

static void test_kontext_t5_folder() {
  const std::string dir = path_of(golden, "kontext-pipeline/FLUX.1-Kontext-dev-tiny/text_encoder_2");
  auto model = load_t5_encoder(dir);  // sharded: model.safetensors.index.json
  const int64_t D = model->config().d_model;
  g_assert_cmpint(D, ==, 32);
  at::Tensor ids = at::zeros({1, 512}, at::kLong);
  ids[0][0] = 37;
  ids[0][1] = 1712;
  ids[0][2] = 1;
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    at::Tensor out = model->forward(ids, dtype);
    g_assert_true(out.sizes() == at::IntArrayRef({1, 512, D}));
    g_assert_true(out.scalar_type() == dtype);
    g_assert_true(at::isfinite(out).all().item<bool>());
  }
  g_test_message("kontext text_encoder_2 (T5, 2 shards): loads, [1, 512, %lld], finite", static_cast<long long>(D));
}

// ---- malformed folders ----------------------------------------------------------

static void write_text(const std::string &path, const std::string &text) {
  g_assert_true(g_file_set_contents(path.c_str(), text.data(), static_cast<gssize>(text.size()), nullptr));
}

static void test_loader_refuses() {
  gchar *tmp = g_dir_make_tmp("cocoedit-text-XXXXXX", nullptr);
  g_assert_nonnull(tmp);
  const std::string dir = tmp;
  g_free(tmp);
  write_text(path_of(dir, "config.json"), kT5Config);

  // The golden weights split into two shards behind an index.
  SafetensorsFile src(path_of(golden, "t5/t5_encoder.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> a, b;
  std::string rest;  // the index entries of every tensor but shared.weight
  for (const auto &e : src.entries()) {
    const bool first = e.name == "shared.weight";
    (first ? a : b).push_back({e.name, src.read(e)});
    if (!first) rest += ", \"" + e.name + "\": \"s2.safetensors\"";
  }
  g_assert_cmpuint(a.size(), ==, 1);
  const std::string map = "\"shared.weight\": \"s1.safetensors\"" + rest;
  write_safetensors(path_of(dir, "s1.safetensors"), a, at::kBFloat16, {});
  write_safetensors(path_of(dir, "s2.safetensors"), b, at::kBFloat16, {});
  const std::string index = path_of(dir, "model.safetensors.index.json");
  write_text(index, "{\"weight_map\": {" + map + "}}");
  auto ok = load_t5_encoder(dir);
  g_assert_true(ok->forward(at::ones({1, 3}, at::kLong), at::kFloat).sizes() == at::IntArrayRef({1, 3, 64}));

  // Shard names that leave the folder.
  for (const char *evil : {"../s1.safetensors", "sub/s1.safetensors", "..", ""}) {
    std::string m = map;
    m.replace(m.find("s1.safetensors"), 14, evil);
    write_text(index, "{\"weight_map\": {" + m + "}}");
    expect_error(COCOEDIT_ERR_FORMAT, "not a file name in the folder", [&] { load_t5_encoder(dir); });
  }
  write_text(index, "{\"weight_map\": []}");
  expect_error(COCOEDIT_ERR_FORMAT, "weight_map", [&] { load_t5_encoder(dir); });
  // The index puts shared.weight in the wrong shard.
  {
    std::string m = map;
    m.replace(m.find("s1.safetensors"), 14, "s2.safetensors");
    write_text(index, "{\"weight_map\": {" + m + "}}");
    expect_error(COCOEDIT_ERR_FORMAT, "shared.weight", [&] { load_t5_encoder(dir); });
  }
  // A shard without a tensor the config needs.
  write_safetensors(path_of(dir, "s1.safetensors"), {}, at::kBFloat16, {});
  write_text(index, "{\"weight_map\": {" + rest.substr(1) + "}}");
  expect_error(COCOEDIT_ERR_FORMAT, "lack tensor \"shared.weight\"", [&] { load_t5_encoder(dir); });
  // A tensor of the wrong shape, and one the model does not have.
  write_safetensors(path_of(dir, "s1.safetensors"), {{"shared.weight", at::zeros({32128, 63})}}, at::kBFloat16, {});
  write_text(index, "{\"weight_map\": {" + map + "}}");
  expect_error(COCOEDIT_ERR_FORMAT, "[32128, 63]", [&] { load_t5_encoder(dir); });
  write_safetensors(path_of(dir, "s1.safetensors"), {{"shared.weight", a[0].second}, {"lm_head.weight", at::zeros({2})}},
                    at::kBFloat16, {});
  expect_error(COCOEDIT_ERR_FORMAT, "not listed in the index", [&] { load_t5_encoder(dir); });
  // No weights at all, and no folder.
  for (const char *f : {"model.safetensors.index.json", "s1.safetensors", "s2.safetensors"})
    g_remove(path_of(dir, f).c_str());
  expect_error(COCOEDIT_ERR_IO, "neither model.safetensors", [&] { load_t5_encoder(dir); });
  g_remove(path_of(dir, "config.json").c_str());
  expect_error(COCOEDIT_ERR_IO, "config.json", [&] { load_t5_encoder(dir); });
  g_rmdir(dir.c_str());
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  if (argc < 2) {
    g_printerr("usage: %s GOLDEN_DIR [--tap]\n", argv[0]);
    return 2;
  }
  golden = argv[1];
  at::set_num_threads(2);
  g_test_add_func("/text/t5/weights", test_t5_weights);
  g_test_add_func("/text/t5/buckets", test_t5_buckets);
  g_test_add_func("/text/t5/position-bias", test_t5_position_bias);
  g_test_add_func("/text/t5/fp32", test_t5_fp32);
  g_test_add_func("/text/t5/bf16", test_t5_bf16);
  g_test_add_func("/text/t5/mask", test_t5_mask);
  g_test_add_func("/text/t5/bad-input", test_t5_bad_input);
  g_test_add_func("/text/t5/config-errors", test_t5_config_errors);
  g_test_add_func("/text/clip/weights", test_clip_weights);
  g_test_add_func("/text/clip/fp32", test_clip_fp32);
  g_test_add_func("/text/clip/bf16", test_clip_bf16);
  g_test_add_func("/text/clip/pool-rules", test_clip_pool_rules);
  g_test_add_func("/text/clip/errors", test_clip_errors);
  g_test_add_func("/text/kontext/clip-folder", test_kontext_clip_folder);
  g_test_add_func("/text/kontext/t5-folder", test_kontext_t5_folder);
  g_test_add_func("/text/loader/refuses", test_loader_refuses);
  return g_test_run();
}
