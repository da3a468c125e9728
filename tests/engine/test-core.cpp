// test-core.cpp — the engine's C++ core: checkpoint validation, LoRA,
// sampler steps, tokenizer.  (The C API has its own test, in C.)
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "autocast.h"
#include "checkpoint.h"
#include "error.h"
#include "folder_io.h"
#include "lora.h"
#include "memory.h"
#include "safetensors.h"
#include "sampler.h"

using namespace cocoedit;

static std::string config_path;

// A safetensors file from a header string and `data_bytes` bytes of data.
static std::string st_bytes(const std::string &header, size_t data_bytes, uint64_t claimed_len = 0) {
  std::string out(8, '\0');
  uint64_t n = claimed_len ? claimed_len : header.size();
  for (int i = 0; i < 8; i++) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + std::string(data_bytes, '\x01');
}

// Runs `body` and checks that it throws cocoedit::Error with `code` and a
// message containing `fragment`.
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

static void parse(const std::string &bytes) {
  SafetensorsFile::from_bytes(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), "test.safetensors");
}

static void test_malformed_safetensors() {
  const std::string good = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  parse(st_bytes(good, 16));  // the baseline parses
  expect_error(COCOEDIT_ERR_FORMAT, "test.safetensors", [] { parse("abc"); });
  expect_error(COCOEDIT_ERR_FORMAT, "header", [&] { parse(st_bytes(good, 16, 1000)); });
  expect_error(COCOEDIT_ERR_FORMAT, "header", [&] { parse(st_bytes(good, 16, 1ull << 40)); });
  expect_error(COCOEDIT_ERR_FORMAT, "JSON", [] { parse(st_bytes("{not json", 0)); });
  expect_error(COCOEDIT_ERR_FORMAT, "\"a\"",
               [] { parse(st_bytes(R"({"a":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}})", 16)); });
  // I64's 8 bytes an element are checked against the span like any dtype.
  expect_error(COCOEDIT_ERR_FORMAT, "\"a\"",
               [] { parse(st_bytes(R"({"a":{"dtype":"I64","shape":[3],"data_offsets":[0,16]}})", 16)); });
  // Shape that does not match the byte count.
  expect_error(COCOEDIT_ERR_FORMAT, "\"a\"",
               [] { parse(st_bytes(R"({"a":{"dtype":"F32","shape":[3,2],"data_offsets":[0,16]}})", 16)); });
  // Offsets past the end of the file (truncated data).
  expect_error(COCOEDIT_ERR_FORMAT, "\"a\"", [&] { parse(st_bytes(good, 8)); });
  // Overlapping tensors.
  expect_error(COCOEDIT_ERR_FORMAT, "overlap", [] {
    parse(st_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                   R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", 24));
  });
  // Negative or absurd shapes, reversed offsets.
  expect_error(COCOEDIT_ERR_FORMAT, "\"a\"",
               [] { parse(st_bytes(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16)); });
  expect_error(COCOEDIT_ERR_FORMAT, "\"a\"",
               [] { parse(st_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})", 16)); });
}

static std::string tmpdir() {
  gchar *d = g_dir_make_tmp("cocoedit-core-XXXXXX", nullptr);
  std::string s(d);
  g_free(d);
  return s;
}

static void rm_rf(const std::string &dir) {
  GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
  if (!d) return;
  while (const char *n = g_dir_read_name(d)) g_remove((dir + "/" + n).c_str());
  g_dir_close(d);
  g_rmdir(dir.c_str());
}

static std::string read_text(const std::string &path) {
  gchar *text = nullptr;
  if (!g_file_get_contents(path.c_str(), &text, nullptr, nullptr)) return "(missing)";
  std::string s(text);
  g_free(text);
  return s;
}

static void expect_text(const std::string &path, const std::string &want) {
  const std::string got = read_text(path);
  if (got != want) g_error("%s holds \"%s\", expected \"%s\"", path.c_str(), got.c_str(), want.c_str());
}

// A folder replaced whole: a write that fails part-way leaves the old
// version (all files of it, none of the new), and no ".saving" folder;
// files the new version does not write are carried over when asked.
static void test_replace_folder() {
  const std::string parent = tmpdir(), dir = parent + "/model";
  auto put = [](const std::string &d, const std::string &name, const std::string &text) {
    write_file_atomic(d + "/" + name, text);
  };
  replace_folder(dir, [&](const std::string &fresh) {
    put(fresh, "model-00001-of-00002.safetensors", "old 1");
    put(fresh, "model-00002-of-00002.safetensors", "old 2");
  });
  put(dir, "README.md", "card");
  expect_error(COCOEDIT_ERR_IO, "disk full", [&] {
    replace_folder(dir, [&](const std::string &fresh) {
      put(fresh, "model-00001-of-00002.safetensors", "new 1");
      fail(COCOEDIT_ERR_IO, "disk full");
    });
  });
  expect_text(dir + "/model-00001-of-00002.safetensors", "old 1");
  expect_text(dir + "/model-00002-of-00002.safetensors", "old 2");
  g_assert_false(g_file_test((dir + ".saving").c_str(), G_FILE_TEST_EXISTS));
  replace_folder(
      dir, [&](const std::string &fresh) { put(fresh, "model.safetensors", "new"); },
      [](const std::string &name) { return name == "README.md"; });
  expect_text(dir + "/model.safetensors", "new");
  expect_text(dir + "/README.md", "card");
  g_assert_false(g_file_test((dir + "/model-00001-of-00002.safetensors").c_str(), G_FILE_TEST_EXISTS));
  // A symbolic link inside is removed, never followed.
  const std::string outside = tmpdir();
  put(outside, "keep", "me");
  g_assert_cmpint(symlink(outside.c_str(), (dir + "/link").c_str()), ==, 0);
  remove_tree(dir);
  g_assert_false(g_file_test(dir.c_str(), G_FILE_TEST_EXISTS));
  expect_text(outside + "/keep", "me");
  remove_tree(outside);
  remove_tree(parent);
}

static void test_checkpoint_mismatch() {
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 1, at::kCPU);
  const std::string dir = tmpdir();
  save_model(*m, dir, 0);

  // Same weights, a config with another width: every shape is checked.
  ModelConfig wider = c;
  wider.hidden_size = 96;
  wider.axes_dim = {16, 16, 16};
  write_file_atomic(dir + "/config.json", config_to_json(wider));
  expect_error(COCOEDIT_ERR_FORMAT, "has shape", [&] { load_model(dir, at::kCPU); });

  // A config with one block more: the weights lack its tensors.
  ModelConfig deeper = c;
  deeper.depth_single += 1;
  write_file_atomic(dir + "/config.json", config_to_json(deeper));
  expect_error(COCOEDIT_ERR_FORMAT, "lack", [&] { load_model(dir, at::kCPU); });

  // One block fewer: a tensor the architecture does not have.
  ModelConfig shallower = c;
  shallower.depth_single -= 1;
  shallower.depth_double += 0;
  write_file_atomic(dir + "/config.json", config_to_json(shallower));
  expect_error(COCOEDIT_ERR_FORMAT, "not part", [&] { load_model(dir, at::kCPU); });

  // A config that is not valid.
  write_file_atomic(dir + "/config.json", R"({"architecture":"cocoedit-kontext","hidden_size":"wide"})");
  expect_error(COCOEDIT_ERR_FORMAT, "hidden_size", [&] { load_model(dir, at::kCPU); });
  write_file_atomic(dir + "/config.json", R"({"architecture":"sdxl"})");
  expect_error(COCOEDIT_ERR_FORMAT, "architecture", [&] { load_model(dir, at::kCPU); });

  // Truncated weights.
  write_file_atomic(dir + "/config.json", config_to_json(c));
  {
    gchar *data = nullptr;
    gsize len = 0;
    g_assert_true(g_file_get_contents((dir + "/model.safetensors").c_str(), &data, &len, nullptr));
    write_file_atomic(dir + "/model.safetensors", std::string(data, len / 2));
    g_free(data);
  }
  expect_error(COCOEDIT_ERR_FORMAT, "model.safetensors", [&] { load_model(dir, at::kCPU); });

  // An index that points outside the model directory.
  write_file_atomic(dir + "/model.safetensors.index.json",
                    R"({"weight_map":{"img_in.weight":"../model.safetensors"}})");
  expect_error(COCOEDIT_ERR_FORMAT, "not a file name", [&] { load_model(dir, at::kCPU); });
  rm_rf(dir);
}

// A model folder cannot lead the engine to other files: a weight file or a
// config that is a symlink out of the folder is refused, as are config files
// that are not regular files or claim an absurd size; a Hugging Face cache
// snapshot (links into ../../blobs) still loads.
static void test_folder_containment() {
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 1, at::kCPU);
  const std::string root = tmpdir();
  const std::string repo = root + "/models--org--tiny", blobs = repo + "/blobs", snap = repo + "/snapshots/abc123";
  g_assert_cmpint(g_mkdir_with_parents(blobs.c_str(), 0700), ==, 0);
  g_assert_cmpint(g_mkdir_with_parents(snap.c_str(), 0700), ==, 0);
  save_model(*m, blobs, 0);
  g_assert_cmpint(g_rename((blobs + "/model.safetensors").c_str(), (blobs + "/1f2e").c_str()), ==, 0);
  g_assert_cmpint(g_rename((blobs + "/config.json").c_str(), (blobs + "/9a8b").c_str()), ==, 0);
  g_assert_cmpint(symlink("../../blobs/1f2e", (snap + "/model.safetensors").c_str()), ==, 0);
  g_assert_cmpint(symlink("../../blobs/9a8b", (snap + "/config.json").c_str()), ==, 0);
  g_assert_nonnull(load_model(snap, at::kCPU).get());

  // The same links in a plain folder lead outside it.
  const std::string plain = root + "/plain", blob_dir = root + "/blobs";
  g_assert_cmpint(g_mkdir_with_parents(plain.c_str(), 0700), ==, 0);
  g_assert_cmpint(g_rename(blobs.c_str(), blob_dir.c_str()), ==, 0);
  write_file_atomic(plain + "/config.json", config_to_json(c));
  g_assert_cmpint(symlink("../blobs/1f2e", (plain + "/model.safetensors").c_str()), ==, 0);
  expect_error(COCOEDIT_ERR_FORMAT, "leads outside the model folder", [&] { load_model(plain, at::kCPU); });
  // An index naming a shard that is such a link, and an index that is one.
  write_file_atomic(plain + "/model.safetensors.index.json", R"({"weight_map":{"img_in.weight":"model.safetensors"}})");
  expect_error(COCOEDIT_ERR_FORMAT, "leads outside the model folder", [&] { load_model(plain, at::kCPU); });
  g_remove((plain + "/model.safetensors.index.json").c_str());
  write_file_atomic(blob_dir + "/index", R"({"weight_map":{"img_in.weight":"x.safetensors"}})");
  g_assert_cmpint(symlink("../blobs/index", (plain + "/model.safetensors.index.json").c_str()), ==, 0);
  expect_error(COCOEDIT_ERR_FORMAT, "leads outside the model folder", [&] { load_model(plain, at::kCPU); });
  g_remove((plain + "/model.safetensors.index.json").c_str());

  // A config.json that is a FIFO (reading would block) or a huge sparse file.
  g_remove((plain + "/config.json").c_str());
  g_assert_cmpint(mkfifo((plain + "/config.json").c_str(), 0600), ==, 0);
  expect_error(COCOEDIT_ERR_IO, "not a regular file", [&] { load_model(plain, at::kCPU); });
  g_remove((plain + "/config.json").c_str());
  {
    FILE *f = fopen((plain + "/config.json").c_str(), "wb");
    g_assert_nonnull(f);
    g_assert_cmpint(ftruncate(fileno(f), off_t(8) << 30), ==, 0);  // 8 GiB, no blocks
    fclose(f);
  }
  expect_error(COCOEDIT_ERR_FORMAT, "larger than", [&] { load_model(plain, at::kCPU); });
  // A config nested past json-glib's depth limit, and a small checkpoint
  // whose config claims a transformer of 10^11 parameters: refused before
  // anything is allocated.
  g_remove((plain + "/model.safetensors").c_str());
  save_model(*m, plain, 0);
  write_file_atomic(plain + "/config.json", "{\"a\":" + std::string(100000, '[') + "}");
  expect_error(COCOEDIT_ERR_FORMAT, "not valid JSON", [&] { load_model(plain, at::kCPU); });
  ModelConfig huge = c;
  huge.hidden_size = 8192;
  huge.num_heads = 64;
  huge.axes_dim = {32, 48, 48};
  huge.depth_double = 128;
  huge.depth_single = 256;
  write_file_atomic(plain + "/config.json", config_to_json(huge));
  expect_error(COCOEDIT_ERR_FORMAT, "describes a transformer of", [&] { load_model(plain, at::kCPU); });
  g_remove((plain + "/config.json").c_str());
  g_remove((plain + "/model.safetensors").c_str());
  rm_rf(plain);
  rm_rf(blob_dir);
  rm_rf(snap);
  g_rmdir((repo + "/snapshots").c_str());
  g_rmdir(repo.c_str());
  g_rmdir(root.c_str());
}

// The reader takes the integer and F64 tensors of test vectors, but no
// model loader takes them as weights.
static void test_non_float_weights() {
  const std::string dir = tmpdir();
  const std::vector<std::pair<const char *, at::ScalarType>> kinds = {
      {"I64", at::kLong}, {"I32", at::kInt}, {"U8", at::kByte}, {"F64", at::kDouble}};
  for (const auto &k : kinds) {
    const at::Tensor want = at::arange(6, at::TensorOptions().dtype(k.second)).reshape({2, 3});
    const std::string header = std::string(R"({"w":{"dtype":")") + k.first + R"(","shape":[2,3],"data_offsets":[0,)" +
                               std::to_string(want.nbytes()) + "]}}";
    std::string bytes = st_bytes(header, 0);
    bytes.append(static_cast<const char *>(want.data_ptr()), want.nbytes());
    write_file_atomic(dir + "/model.safetensors", bytes);
    SafetensorsFile f(dir + "/model.safetensors");
    const TensorEntry *e = f.find("w");
    g_assert_nonnull(e);
    g_assert_cmpstr(dtype_name(e->dtype), ==, k.first);
    g_assert_true(at::equal(f.read(*e), want));
    expect_error(COCOEDIT_ERR_FORMAT, std::string("has dtype ") + k.first,
                 [&] { load_weights(dir, {{"w", {2, 3}}}); });
    g_test_message("%s tensor read back exactly and refused as a weight", k.first);
  }
  rm_rf(dir);
}

// Half-precision checkpoints load back within their precision.
static void test_dtypes() {
  for (const char *dtype : {"float16", "bfloat16"}) {
    ModelConfig c = config_from_file(config_path);
    c.dtype = dtype;
    EditModel m = create_model(c, 2, at::kCPU);
    const std::string dir = tmpdir();
    save_model(*m, dir, 100 * 1024);
    EditModel back = load_model(dir, at::kCPU);
    auto a = m->named_parameters(), b = back->named_parameters();
    for (const auto &item : a) {
      const auto &x = item.value();
      const auto &y = b[item.key()];
      const double tol = std::strcmp(dtype, "float16") == 0 ? 1e-3 : 1e-2;
      g_assert_true(at::allclose(x, y, tol, tol));
    }
    rm_rf(dir);
  }
}

static Conditioning conditioning(EditModelImpl &m, int64_t H, int64_t W, const std::string &prompt) {
  Conditioning cond;
  cond.source = seeded_noise(11, {1, 3, H, W}, at::kCPU).tanh();
  cond.mask = at::ones({1, 1, H, W});
  cond.text = m.encode_text(tokenize({prompt}, m.config.text_max_bytes));
  return cond;
}

// A LoRA trained in the trainer's way (unmerged adapters) and merged from
// its file at load time give the same velocity; two adapters share one base.
static void test_lora() {
  at::InferenceMode guard(false);
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 3, at::kCPU);
  const size_t n_params = m->parameters().size();
  Lora lora(*m, LoraSpec{4, 8.0, kCocoeditLoraTargets}, 5);
  // The authors' targets: 8 modules per double block, q/k/v per single block.
  g_assert_cmpuint(lora.named_parameters().size(), ==, 2 * (8 * c.depth_double + 3 * c.depth_single));
  {
    torch::NoGradGuard ng;
    for (auto &p : lora.parameters()) p.normal_(0.0, 0.05);
  }
  // The adapters sit beside the weights: no parameter of the model is added or trainable.
  g_assert_cmpuint(m->parameters().size(), ==, n_params);
  for (const auto &p : m->parameters()) g_assert_false(p.requires_grad());
  lora.activate();
  auto cond = conditioning(*m, 16, 24, "make it blue");
  auto x = seeded_noise(1, {1, 3, 16, 24}, at::kCPU);
  auto t = at::full({1}, 0.5);
  auto v_lora = m->forward(x, cond.source, cond.mask, t, cond.text).detach();
  // Gradients reach the adapters.
  m->forward(x, cond.source, cond.mask, t, cond.text).pow(2).mean().backward();
  g_assert_true(lora.parameters()[1].grad().defined());
  g_assert_cmpfloat(lora.parameters()[1].grad().abs().sum().item<double>(), >, 0.0);

  const std::string dir = tmpdir();
  lora.save(dir + "/lora.safetensors");
  {
    // A diffusers LoRA file: module keys, shapes and lora_adapter_metadata.
    SafetensorsFile f(dir + "/lora.safetensors");
    const TensorEntry *q = f.find("transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight");
    g_assert_nonnull(q);
    g_assert_cmpint(q->shape[0], ==, c.hidden_size);
    g_assert_nonnull(f.find("transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight"));
    g_assert_null(f.find("transformer.single_transformer_blocks.0.proj_mlp.lora_A.weight"));
    g_assert_true(f.metadata().at("lora_adapter_metadata").find("\"transformer.lora_alpha\"") != std::string::npos);
  }
  EditModel merged = create_model(c, 3, at::kCPU);
  merge_lora_file(*merged, dir + "/lora.safetensors", 1.0);
  auto cond2 = conditioning(*merged, 16, 24, "make it blue");
  auto v_merged = merged->forward(x, cond2.source, cond2.mask, t, cond2.text).detach();
  g_assert_true(at::allclose(v_lora, v_merged, 1e-4, 1e-4));

  // Without the adapters the velocity differs, and is the plain model's.
  lora.deactivate();
  auto v_base = m->forward(x, cond.source, cond.mask, t, cond.text).detach();
  g_assert_false(at::allclose(v_lora, v_base, 1e-4, 1e-4));
  EditModel plain = create_model(c, 3, at::kCPU);
  auto cond3 = conditioning(*plain, 16, 24, "make it blue");
  g_assert_true(at::equal(v_base, plain->forward(x, cond3.source, cond3.mask, t, cond3.text).detach()));

  // A second adapter on the same base: each activate() gives its own velocity.
  Lora second(*m, LoraSpec{4, 8.0, {"attn.to_q", "proj_mlp"}}, 6);
  {
    torch::NoGradGuard ng;
    for (auto &p : second.parameters()) p.normal_(0.0, 0.05);
  }
  second.activate();
  auto v_second = m->forward(x, cond.source, cond.mask, t, cond.text).detach();
  g_assert_false(at::allclose(v_second, v_lora, 1e-4, 1e-4));
  lora.activate();
  g_assert_true(at::equal(v_lora, m->forward(x, cond.source, cond.mask, t, cond.text).detach()));
  // One Lora switches off the other's adapter too (rl's reference while θ_old's is active).
  second.activate();
  lora.deactivate();
  g_assert_true(at::equal(v_base, m->forward(x, cond.source, cond.mask, t, cond.text).detach()));

  // Only the transformer's modules, by diffusers names: a target that
  // matches none (a BFL name, the text encoder's) is refused.
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "matches no module",
               [&] { Lora text(*m, LoraSpec{4, 8.0, {"attn.to_q", "qkv"}}, 5); });

  // A LoRA for another width is refused.
  ModelConfig wider = c;
  wider.hidden_size = 96;
  wider.axes_dim = {16, 16, 16};
  EditModel other = create_model(wider, 3, at::kCPU);
  expect_error(COCOEDIT_ERR_FORMAT, "do not fit", [&] { merge_lora_file(*other, dir + "/lora.safetensors", 1.0); });
  rm_rf(dir);
}

static void test_schedule() {
  auto s = sigma_schedule(10, 3.0);
  g_assert_cmpint(s.size(), ==, 11);
  g_assert_cmpfloat(std::fabs(s.front() - 1.0), <, 1e-12);
  g_assert_cmpfloat(s.back(), ==, 0.0);
  for (size_t i = 1; i < s.size(); i++) g_assert_cmpfloat(s[i], <, s[i - 1]);
  // The shift spends more steps at high noise: the midpoint is above 0.5.
  g_assert_cmpfloat(s[5], >, 0.7);
  auto part = sigma_schedule(4, 1.0, 0.5);
  g_assert_cmpfloat(std::fabs(part.front() - 0.5), <, 1e-12);
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "strength", [] { sigma_schedule(4, 1.0, 0.0); });
  ModelConfig c = config_from_file(config_path);
  EditModel m(c);
  g_assert_cmpfloat(resolution_shift(*m, 2 * c.image_size, 2 * c.image_size), >,
                    resolution_shift(*m, c.image_size, c.image_size));
}

// The SDE step's log-probability is the Gaussian density of its sample.
static void test_sde_step() {
  auto x = seeded_noise(1, {2, 3, 4, 4}, at::kCPU);
  auto v = seeded_noise(2, {2, 3, 4, 4}, at::kCPU);
  auto eps = seeded_noise(3, {2, 3, 4, 4}, at::kCPU);
  auto s = sde_step(x, v, 0.8, 0.7, 0.7, 0.9, eps);
  const double t = 0.8, dt = -0.1, st = 0.7 * std::sqrt(t / (1 - t));
  auto mean = x * (1 + st * st * dt / (2 * t)) + v * (1 + st * st * (1 - t) / (2 * t)) * dt;
  g_assert_true(at::allclose(s.mean, mean, 1e-6, 1e-6));
  g_assert_cmpfloat(std::fabs(s.std - st * std::sqrt(0.1)), <, 1e-9);
  auto expect = (-eps.pow(2) / 2 - std::log(s.std) - 0.5 * std::log(2 * M_PI)).flatten(1).mean(1);
  g_assert_true(at::allclose(s.log_prob, expect, 1e-5, 1e-5));
  // Re-evaluating the same x_next gives the same log-probability.
  auto again = sde_step(x, v, 0.8, 0.7, 0.7, 0.9, std::nullopt, s.x_next);
  g_assert_true(at::allclose(again.log_prob, s.log_prob, 1e-6, 1e-6));
  // Without noise the step's mean approaches the Euler step as a → 0.
  auto near_ode = sde_step(x, v, 0.8, 0.7, 1e-4, 0.9, eps);
  g_assert_true(at::allclose(near_ode.mean, euler_step(x, v, 0.8, 0.7), 1e-5, 1e-5));
  // From σ = 1 the noise level is Flow-GRPO's a·sqrt(1 / (1 − σ_1)), not infinite.
  auto first = sde_step(x, v, 1.0, 0.9, 0.7, 0.9, eps);
  g_assert_cmpfloat(std::fabs(first.std - 0.7 * std::sqrt(1.0 / 0.1) * std::sqrt(0.1)), <, 1e-9);
  g_assert_true(first.mean.isfinite().all().item<bool>());
}

static void test_tokenize() {
  // "日本語" is 9 bytes; a limit of 5 (4 after the start token) keeps one character.
  auto b = tokenize({"日本語", "ab"}, 5);
  g_assert_cmpint(b.tokens.size(1), ==, 4);
  g_assert_cmpint(b.tokens[0][0].item<int64_t>(), ==, kTextStart);
  g_assert_cmpint(b.valid[0].sum().item<int64_t>(), ==, 4);
  g_assert_cmpint(b.valid[1].sum().item<int64_t>(), ==, 3);
  g_assert_cmpint(b.tokens[1][3].item<int64_t>(), ==, kTextPad);
  auto c = tokenize({"日本語"}, 4);  // 3 bytes: exactly one character
  g_assert_cmpint(c.valid[0].sum().item<int64_t>(), ==, 4);
  auto d = tokenize({"日本語"}, 3);  // 2 bytes: no whole character fits
  g_assert_cmpint(d.valid[0].sum().item<int64_t>(), ==, 1);
}

// Padding never changes a prompt's encoding, and the source conditions the output.
static void test_model_conditioning() {
  at::InferenceMode guard;
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 4, at::kCPU);
  auto alone = m->encode_text(tokenize({"red"}, c.text_max_bytes));
  auto padded = m->encode_text(tokenize({"red", "a much longer instruction"}, c.text_max_bytes));
  auto L = alone.tokens.size(1);
  g_assert_true(at::allclose(alone.pooled[0], padded.pooled[0], 1e-5, 1e-5));
  g_assert_true(at::allclose(alone.tokens[0], padded.tokens[0].narrow(0, 0, L), 1e-5, 1e-5));

  auto cond = conditioning(*m, 16, 16, "red");
  auto x = seeded_noise(1, {1, 3, 16, 16}, at::kCPU);
  auto t = at::full({1}, 0.7);
  auto v1 = m->forward(x, cond.source, cond.mask, t, cond.text);
  auto v2 = m->forward(x, -cond.source, cond.mask, t, cond.text);
  auto v3 = m->forward(x, std::nullopt, cond.mask, t, cond.text);
  g_assert_cmpint(v1.size(2), ==, 16);
  g_assert_false(at::allclose(v1, v2));
  g_assert_false(at::allclose(v1, v3));
}

// On data x0 ~ N(0, s²) the flow's velocity and ODE solution are known in
// closed form: D(x, σ) = (1 − σ)s²/((1 − σ)²s² + σ²)·x, v = (x − D)/σ, and
// the solution from ε at σ = 1 ends at s·ε.  Euler's error halves with
// twice the steps (first order); DPM-Solver++(2M)'s drops about 4× (second).
static void test_solvers() {
  const double s = 0.5;
  auto velocity = [s](const at::Tensor &x, double sigma) {
    const double c = (1 - sigma) * s * s / ((1 - sigma) * (1 - sigma) * s * s + sigma * sigma);
    return (x - c * x) / sigma;
  };
  auto eps = seeded_noise(21, {2, 3, 4, 4}, at::kCPU).to(at::kDouble);
  auto error = [&](Solver solver, int steps) {
    auto x = solve(eps, sigma_schedule(steps, 3.0), velocity, solver);
    return (x - s * eps).abs().max().item<double>() / eps.abs().max().item<double>();
  };
  const double e20 = error(Solver::kEuler, 20), e40 = error(Solver::kEuler, 40);
  const double d20 = error(Solver::kDpm2M, 20), d40 = error(Solver::kDpm2M, 40);
  g_assert_cmpfloat(e20 / e40, >, 1.7);
  g_assert_cmpfloat(e20 / e40, <, 2.3);
  g_assert_cmpfloat(d20 / d40, >, 3.0);
  g_assert_cmpfloat(d20, <, e20 / 3);
  // A schedule that stops at σ_min ends with the one-step x0 estimate, and
  // the first step from σ = 1 is the same for both solvers.
  auto short_grid = sigma_schedule(1, 3.0, 1.0, 0.1);
  g_assert_true(at::allclose(solve(eps, short_grid, velocity, Solver::kEuler),
                             solve(eps, short_grid, velocity, Solver::kDpm2M)));
  try {
    solver_from_name("heun", "rl.rollout_solver");
    g_error("an unknown solver name was accepted");
  } catch (const Error &e) {
    g_assert_nonnull(strstr(e.what(), "rl.rollout_solver"));
  }
}

// Gradients of every trained tensor after one flow-matching backward, with
// the blocks' activations kept or recomputed in backward; with padding in
// the prompts (the attention mask is captured by the recomputed blocks).
static std::vector<at::Tensor> training_gradients(EditModelImpl &m, const std::vector<at::Tensor> &trained,
                                                  bool recompute, bool bf16) {
  for (auto &p : trained) p.mutable_grad() = at::Tensor();
  m.recompute_blocks = recompute;
  auto x0 = seeded_noise(11, {2, 3, 16, 16}, at::kCPU).tanh(), eps = seeded_noise(12, {2, 3, 16, 16}, at::kCPU);
  auto src = seeded_noise(13, {2, 3, 16, 16}, at::kCPU).tanh();
  auto mask = (seeded_noise(14, {2, 1, 16, 16}, at::kCPU) > 0).to(at::kFloat);
  auto t = at::tensor({0.3f, 0.8f});
  auto tt = t.view({2, 1, 1, 1});
  at::Tensor v;
  {
    AutocastScope amp(at::kCPU, bf16);
    auto text = m.encode_text(tokenize({"red", "make the sky a little darker"}, m.config.text_max_bytes));
    v = m.forward((1 - tt) * x0 + tt * eps, src, mask, t, text).to(at::kFloat);
  }
  ((v - (eps - x0)).pow(2).mean()).backward();
  std::vector<at::Tensor> grads;
  for (auto &p : trained) {
    g_assert_true(p.grad().defined());
    grads.push_back(p.grad().clone());
  }
  return grads;
}

// The largest difference of two gradient lists, as |a − b| / |a| per
// tensor (gradients that reach a tensor through several blocks are
// summed in another order when recomputed, so equality is not bitwise).
static double gradient_difference(const std::vector<at::Tensor> &a, const std::vector<at::Tensor> &b) {
  g_assert_cmpuint(a.size(), ==, b.size());
  double worst = 0, largest = 0;
  for (size_t i = 0; i < a.size(); i++) {
    const double norm = a[i].norm().item<double>();
    largest = std::max(largest, norm);
    if (norm > 0) worst = std::max(worst, (a[i] - b[i]).norm().item<double>() / norm);
  }
  g_assert_cmpfloat(largest, >, 0.0);  // comparing zeros would prove nothing
  return worst;
}

static void test_recompute_gradients() {
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 6, at::kCPU);
  m->train();
  auto params = m->parameters();
  const auto fp32_kept = training_gradients(*m, params, false, false);
  g_assert_cmpfloat(gradient_difference(fp32_kept, training_gradients(*m, params, true, false)), <, 1e-5);
  // Under bf16 autocast the recomputation runs under autocast too (one in
  // fp32 makes autograd reject the gradients' dtype).  Gradients summed in
  // bf16 in another order differ by about 0.7 % here.
  const auto bf16_kept = training_gradients(*m, params, false, true);
  g_assert_cmpfloat(gradient_difference(bf16_kept, training_gradients(*m, params, true, true)), <, 2e-2);

  // LoRA: the adapters are the trained tensors and the merged weights a
  // graph of their own, reached only through the recomputation.
  for (auto &p : params) p.set_requires_grad(false);
  Lora lora(*m, LoraSpec{4, 8.0, kCocoeditLoraTargets}, 7);
  {
    torch::NoGradGuard ng;
    for (auto &[name, p] : lora.named_parameters())
      if (name.find("lora_B") != std::string::npos) p.normal_(0, 0.05);
  }
  auto adapters = lora.parameters();
  lora.activate();
  auto kept = training_gradients(*m, adapters, false, false);
  g_assert_cmpfloat(gradient_difference(kept, training_gradients(*m, adapters, true, false)), <, 1e-5);
}

// The project's model is flux::Flux plus a text encoder: every other
// parameter has BFL's name and shape for transformer_params(config).
static void test_model_is_flux() {
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 8, at::kCPU);
  std::map<std::string, std::vector<int64_t>> bfl;
  for (const auto &[name, shape] : flux::flux_parameter_shapes(transformer_params(c))) bfl[name] = shape;
  size_t in_transformer = 0;
  for (const auto &item : m->named_parameters()) {
    if (item.key().rfind("text_encoder.", 0) == 0) continue;
    auto it = bfl.find(item.key());
    if (it == bfl.end()) g_error("%s is not a FLUX transformer parameter", item.key().c_str());
    g_assert_true(item.value().sizes() == at::IntArrayRef(it->second));
    in_transformer++;
  }
  g_assert_cmpuint(in_transformer, ==, bfl.size());
  // A config with an unused RoPE axis drops it from the ids (FLUX's axes are
  // all used).
  c.axes_dim = {0, c.axes_dim[1] + c.axes_dim[0] / 2, c.axes_dim[2] + c.axes_dim[0] / 2};
  g_assert_cmpuint(transformer_params(c).axes_dim.size(), ==, 2);
  EditModel two_axes = create_model(c, 8, at::kCPU);
  torch::NoGradGuard ng;
  auto x = seeded_noise(1, {1, 3, 16, 16}, at::kCPU);
  auto text = two_axes->encode_text(tokenize({"red"}, c.text_max_bytes));
  auto v = two_axes->forward(x, x, at::ones({1, 1, 16, 16}), at::tensor({0.5f}), text);
  g_assert_true(v.sizes() == x.sizes() && v.isfinite().all().item<bool>());
}

// A checkpoint of format_version 1 (fc1/fc2, "final_layer.ada") loads into
// the same parameters and gives the same output as its format 2 re-save.
static void test_legacy_checkpoint() {
  ModelConfig c = config_from_file(config_path);
  EditModel m = create_model(c, 9, at::kCPU);
  const std::string now = tmpdir() + "/now", then = tmpdir() + "/then";
  save_model(*m, now, 0);
  std::vector<std::pair<std::string, at::Tensor>> legacy;
  bool renamed = false;
  for (const auto &item : m->named_parameters()) {
    legacy.emplace_back(legacy_parameter_name(item.key()), item.value().detach());
    renamed = renamed || legacy.back().first != item.key();
  }
  g_assert_true(renamed);
  g_assert_cmpint(g_mkdir_with_parents(then.c_str(), 0755), ==, 0);
  write_safetensors(then + "/model.safetensors", legacy, at::kFloat, {});
  ModelConfig old = c;
  old.format_version = 1;
  write_file_atomic(then + "/config.json", config_to_json(old));

  EditModel a = load_model(now, at::kCPU), b = load_model(then, at::kCPU);
  g_assert_cmpint(b->config.format_version, ==, kModelFormatVersion);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto &item : pa) g_assert_true(at::equal(item.value(), pb[item.key()]));
  // The v1 names are not accepted as v2 (and the reverse): no silent mix.
  old.format_version = 2;
  write_file_atomic(then + "/config.json", config_to_json(old));
  expect_error(COCOEDIT_ERR_FORMAT, "fc1", [&] { load_model(then, at::kCPU); });
}

// Where the text encoders go, by the figures of FLUX.1 Kontext [dev] in
// bf16 (23.8 GB transformer, 9.8 GB text encoders, 0.3 GB autoencoder).
static void test_placement() {
  const int64_t GB = 1000LL * 1000 * 1000;
  MemoryNeed need;
  need.text_weights = 98 * GB / 10;
  need.weights = 238 * GB / 10 + need.text_weights + 3 * GB / 10;
  need.edit = 2 * GB;
  need.edit_long_side = 1024;
  const at::Device gpu(at::kCUDA, 0), cpu(at::kCPU);
  // An H200: everything on the GPU.
  g_assert_false(place_text_encoders("K", need, gpu, 140 * GB, 100 * GB).text_on_host);
  // A 32 GB card: the text encoders stay in RAM.
  g_assert_true(place_text_encoders("K", need, gpu, 31 * GB, 64 * GB).text_on_host);
  // Unknown free memory is taken as enough.
  g_assert_false(place_text_encoders("K", need, gpu, -1, -1).text_on_host);
  // A 24 GB card cannot hold the transformer: refused, with both figures.
  expect_error(COCOEDIT_ERR_OUT_OF_MEMORY, "26.1 GB with its text encoders (9.8 GB) in RAM",
               [&] { place_text_encoders("K", need, gpu, 24 * GB, 64 * GB); });
  // The rest fits the GPU but RAM cannot take the text encoders.
  expect_error(COCOEDIT_ERR_OUT_OF_MEMORY, "and 8.0 GB in RAM",
               [&] { place_text_encoders("K", need, gpu, 31 * GB, 8 * GB); });
  // On the CPU the whole model and an edit must fit RAM.
  g_assert_false(place_text_encoders("K", need, cpu, -1, 64 * GB).text_on_host);
  expect_error(COCOEDIT_ERR_OUT_OF_MEMORY, "of RAM (weights and one edit at 1024 px), but only 24.0 GB",
               [&] { place_text_encoders("K", need, cpu, 24 * GB, 24 * GB); });
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  const char *cfg = g_getenv("COCOEDIT_TEST_CONFIG");
  g_assert_nonnull(cfg);
  config_path = cfg;
  at::set_num_threads(2);
  g_test_add_func("/core/malformed-safetensors", test_malformed_safetensors);
  g_test_add_func("/core/replace-folder", test_replace_folder);
  g_test_add_func("/core/checkpoint-mismatch", test_checkpoint_mismatch);
  g_test_add_func("/core/folder-containment", test_folder_containment);
  g_test_add_func("/core/non-float-weights", test_non_float_weights);
  g_test_add_func("/core/dtypes", test_dtypes);
  g_test_add_func("/core/lora", test_lora);
  g_test_add_func("/core/schedule", test_schedule);
  g_test_add_func("/core/sde-step", test_sde_step);
  g_test_add_func("/core/solvers", test_solvers);
  g_test_add_func("/core/tokenize", test_tokenize);
  g_test_add_func("/core/model-conditioning", test_model_conditioning);
  g_test_add_func("/core/recompute-gradients", test_recompute_gradients);
  g_test_add_func("/core/placement", test_placement);
  g_test_add_func("/core/model-is-flux", test_model_is_flux);
  g_test_add_func("/core/legacy-checkpoint", test_legacy_checkpoint);
  return g_test_run();
}
