// test-flux.cpp — engine/src/flux against the vectors BFL's reference code
// made (tests/golden/flux/README.md): the fp32 and bf16 forward with its
// intermediates, pe, the schedule and ids, the two 4-step Kontext denoise
// runs, the diffusers-named weights, the sharded tiny diffusers transformer
// of tests/golden/kontext-pipeline, and the loaders' refusals.
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "error.h"
#include "ae/latent_packing.h"
#include "flux/flux_sampling.h"
#include "flux/flux_transformer.h"
#include "flux/flux_weights.h"
#include "safetensors.h"

#include "../golden-util.h"
#include "golden-flux-params.h"

using namespace cocoedit;
using namespace cocoedit::flux;

static std::string golden;  // tests/golden/flux

static std::string gpath(const std::string &name) { return golden + "/" + name; }

static at::Tensor load(const std::string &file, const std::string &name) { return read_golden(gpath(file), name); }
static at::Tensor input(const std::string &name) { return load("inputs.safetensors", name); }
static at::Tensor expected(const std::string &name) { return load("expected.safetensors", name); }

static void check_shape(const std::string &name, const at::Tensor &x, const at::Tensor &ref) {
  if (x.sizes() != ref.sizes())
    g_error("%s: shape %s, expected %s", name.c_str(), c10::str(x.sizes()).c_str(), c10::str(ref.sizes()).c_str());
  if (x.scalar_type() != ref.scalar_type())
    g_error("%s: dtype %s, expected %s", name.c_str(), c10::toString(x.scalar_type()), c10::toString(ref.scalar_type()));
}

// fp32 rule: |x − ref| ≤ 1e-4 + 1e-4·|ref| elementwise.
static void check_fp32(const std::string &name, const at::Tensor &x, const at::Tensor &ref) {
  check_shape(name, x, ref);
  auto xd = x.to(at::kDouble), rd = ref.to(at::kDouble);
  auto d = (xd - rd).abs();
  const double max_abs = d.max().item<double>();
  const double worst = (d / (1e-4 + 1e-4 * rd.abs())).max().item<double>();
  g_test_message("%-32s max|d| %.3e  (worst |d|/tol %.3f)", name.c_str(), max_abs, worst);
  if (!(worst <= 1.0)) g_error("%s: max |d| %.3e exceeds 1e-4 + 1e-4|ref| (ratio %.3f)", name.c_str(), max_abs, worst);
}

// bf16 rule: rms(x − ref) ≤ 0.03·rms(ref) and max |x − ref| ≤ 0.15.
static void check_bf16(const std::string &name, const at::Tensor &x, const at::Tensor &ref) {
  check_shape(name, x, ref);
  auto xd = x.to(at::kDouble), rd = ref.to(at::kDouble);
  auto d = xd - rd;
  const double max_abs = d.abs().max().item<double>();
  const double rms = d.pow(2).mean().sqrt().item<double>();
  const double ref_rms = rd.pow(2).mean().sqrt().item<double>();
  g_test_message("%-32s max|d| %.3e  rms d %.3e  (ref rms %.3f)", name.c_str(), max_abs, rms, ref_rms);
  if (!(max_abs <= 0.15) || !(rms <= 0.03 * ref_rms))
    g_error("%s: max |d| %.3e (limit 0.15), rms %.3e (limit %.3e)", name.c_str(), max_abs, rms, 0.03 * ref_rms);
}

static void check(bool bf16, const std::string &name, const at::Tensor &x, const at::Tensor &ref) {
  if (bf16) check_bf16(name, x, ref);
  else check_fp32(name, x, ref);
}

// Exactly equal values (ids, packing, fused weights).
static void check_exact(const std::string &name, const at::Tensor &x, const at::Tensor &ref) {
  check_shape(name, x, ref);
  if (!at::equal(x, ref)) {
    double m = (x.to(at::kDouble) - ref.to(at::kDouble)).abs().max().item<double>();
    g_error("%s: differs from the reference (max |d| %.3e)", name.c_str(), m);
  }
}

// ---- tests ------------------------------------------------------------------------

static void test_schedule_and_ids() {
  auto sched = get_schedule(4, 48);
  auto ref = expected("schedule");
  g_assert_cmpint(ref.numel(), ==, 5);
  g_assert_cmpuint(sched.size(), ==, 5);
  double m = 0;
  for (int i = 0; i < 5; i++) m = std::max(m, std::fabs(sched[i] - ref[i].item<double>()));
  g_test_message("%-32s max|d| %.3e", "schedule", m);
  g_assert_cmpfloat(m, ==, 0.0);  // the same float32 arithmetic
  // The real model's sizes (design §1.1): 780 tensors, 11,901,408,320 parameters.
  int64_t count = 0;
  auto shapes = flux_parameter_shapes(flux_preset("flux-dev-kontext"));
  for (const auto &ns : shapes) {
    int64_t n = 1;
    for (int64_t d : ns.second) n *= d;
    count += n;
  }
  g_test_message("flux-dev-kontext: %zu tensors, %" G_GINT64_FORMAT " parameters", shapes.size(), count);
  g_assert_cmpuint(shapes.size(), ==, 780);
  g_assert_cmpint(count, ==, G_GINT64_CONSTANT(11901408320));
  // Real sizes (design §4): 1024² = 4096 tokens gives mu 1.15.
  g_assert_cmpfloat(std::fabs(schedule_mu(4096) - 1.15), <, 1e-12);

  check_exact("target_ids", image_ids(1, 8, 6, 0), input("target_ids"));
  check_exact("ref_ids", image_ids(1, 6, 8, 1), input("ref_ids"));
  check_exact("txt_ids", text_ids(1, 7), input("txt_ids"));
  check_exact("img_ids", at::cat({image_ids(1, 8, 6, 0), image_ids(1, 6, 8, 1)}, 1), input("img_ids"));
  check_exact("target_tokens_fp32", pack_latents(input("noise_latent_fp32")), input("target_tokens_fp32"));
  check_exact("target_tokens_bf16", pack_latents(input("noise_latent_bf16")), input("target_tokens_bf16"));
  check_exact("ref_tokens_fp32", pack_latents(input("ref_latent")), input("ref_tokens_fp32"));
  check_exact("ref_tokens_bf16", pack_latents(input("ref_latent").to(at::kBFloat16)), input("ref_tokens_bf16"));
  check_exact("unpack(pack)", unpack_tokens(pack_latents(input("noise_latent_fp32")), 8, 6),
              input("noise_latent_fp32"));
}

static void test_pe() {
  auto ids = at::cat({input("txt_ids"), input("img_ids")}, 1);
  auto pe = embed_nd(ids, golden_params().axes_dim, golden_params().theta);
  check_fp32("fp32.pe_embedder", pe, expected("fp32.pe_embedder"));
  check_fp32("bf16.pe_embedder", pe, expected("bf16.pe_embedder"));
}

static const char *kTraced[] = {"img_in", "time_in.input", "time_in", "guidance_in.input", "guidance_in",
                                "vector_in", "txt_in", "pe_embedder", "double_blocks.0.out0",
                                "double_blocks.0.out1", "double_blocks.1.out0", "double_blocks.1.out1",
                                "single_blocks.0", "single_blocks.1", "final_layer.input"};

static void run_forward(bool bf16) {
  torch::NoGradGuard no_grad;
  const std::string tag = bf16 ? "bf16" : "fp32";
  Flux model = load_flux_bfl(gpath(bf16 ? "model_bf16.safetensors" : "model.safetensors"), golden_params());
  // Weights stay in the stored dtype.
  for (const auto &p : model->named_parameters())
    if (p.value().scalar_type() != (bf16 ? at::kBFloat16 : at::kFloat)) g_error("%s is not in the file's dtype", p.key().c_str());
  g_assert_cmpint(model->named_parameters().size(), ==, 84);
  g_assert_true(model->named_parameters().contains("final_layer.adaLN_modulation.1.weight"));
  g_assert_true(model->named_parameters().contains("double_blocks.1.img_mlp.2.bias"));

  FluxTrace trace;
  auto out = model->forward(input("img_" + tag), input("img_ids"), input("txt_" + tag), input("txt_ids"),
                            input("timesteps_" + tag), input("y_" + tag), input("guidance_" + tag), &trace);
  for (const char *name : kTraced) {
    if (!trace.count(name)) g_error("no trace of %s", name);
    check(bf16 && strcmp(name, "pe_embedder") != 0, tag + "." + name, trace[name], expected(tag + "." + name));
  }
  check(bf16, tag + ".out", out, expected(tag + ".out"));
  check(bf16, tag + ".out_target", out.narrow(1, 0, 48), expected(tag + ".out_target"));
  if (bf16) {
    // 1000·t and 1000·guidance rounded in bf16: 700 and 2496.
    auto t = input("timesteps_bf16") * 1000.0, g = input("guidance_bf16") * 1000.0;
    g_assert_cmpfloat(g.item<float>(), ==, 2496.0f);
    g_assert_cmpfloat(t.item<float>(), ==, 700.0f);
  }
}

static void test_forward_fp32() { run_forward(false); }
static void test_forward_bf16() { run_forward(true); }

static void test_diffusers_names() {
  torch::NoGradGuard no_grad;
  const auto p = golden_params();
  auto bfl = read_bfl_weights(gpath("model.safetensors"), p);
  auto fused = read_diffusers_file(gpath("diffusers.safetensors"), p);
  g_assert_cmpuint(bfl.size(), ==, fused.size());
  for (const auto &kv : bfl) {
    if (!fused.count(kv.first)) g_error("diffusers weights lack %s", kv.first.c_str());
    check_exact("fused " + kv.first, fused[kv.first], kv.second);
  }
  g_test_message("all %zu fused diffusers tensors equal the BFL ones", bfl.size());
  // And so the forward is the same.
  Flux a(p, bfl, "bfl"), b(p, fused, "diffusers");
  auto run = [&](Flux &m) {
    return m->forward(input("img_fp32"), input("img_ids"), input("txt_fp32"), input("txt_ids"),
                      input("timesteps_fp32"), input("y_fp32"), input("guidance_fp32"));
  };
  auto oa = run(a), ob = run(b);
  const double d = (oa - ob).abs().max().item<double>();
  g_test_message("%-32s max|d| %.3e", "diffusers vs BFL output", d);
  g_assert_cmpfloat(d, ==, 0.0);
  check_fp32("diffusers-named fp32.out", ob, expected("fp32.out"));
}

static void run_denoise(bool bf16) {
  const std::string tag = bf16 ? "bf16" : "fp32";
  Flux model = load_flux_bfl(gpath(bf16 ? "model_bf16.safetensors" : "model.safetensors"), golden_params());
  auto sched = get_schedule(4, 48);
  std::vector<at::Tensor> preds;
  auto txt = input(bf16 ? "txt_bf16" : "txt_fp32"), y = input(bf16 ? "y_bf16" : "y_fp32");
  auto final_tokens = denoise(model, input("target_tokens_" + tag), input("target_ids"), txt, input("txt_ids"), y,
                              sched, 2.5, input("ref_tokens_" + tag), input("ref_ids"),
                              [&](int, const at::Tensor &pred) { preds.push_back(pred); });
  g_assert_cmpuint(preds.size(), ==, 4);
  const std::string pre = "denoise_" + tag + ".";
  for (int i = 0; i < 4; i++)
    check(bf16, pre + "pred_step" + std::to_string(i), preds[i], expected(pre + "pred_step" + std::to_string(i)));
  check(bf16, pre + "final_tokens", final_tokens, expected(pre + "final_tokens"));
  check(bf16, pre + "final_latent", unpack_tokens(final_tokens, 8, 6), expected(pre + "final_latent"));
}

static void test_denoise_fp32() { run_denoise(false); }
static void test_denoise_bf16() { run_denoise(true); }

// The tiny diffusers pipeline's transformer/: config.json and two shards.
static void test_tiny_pipeline() {
  torch::NoGradGuard no_grad;
  gchar *parent = g_path_get_dirname(golden.c_str());
  const std::string dir = std::string(parent) + "/kontext-pipeline/FLUX.1-Kontext-dev-tiny/transformer";
  g_free(parent);
  Flux model = load_flux_diffusers(dir);
  const auto &p = model->params;
  g_assert_cmpint(p.hidden_size, ==, 64);
  g_assert_cmpint(p.num_heads, ==, 2);
  g_assert_cmpint(p.vec_in_dim, ==, 24);
  g_assert_cmpint(p.context_in_dim, ==, 32);
  g_assert_cmpint(p.depth, ==, 2);
  g_assert_cmpint(p.depth_single_blocks, ==, 2);
  g_assert_true(p.guidance_embed);
  g_assert_true(model->dtype() == at::kBFloat16);
  g_assert_cmpint(model->named_parameters().size(), ==, 84);

  at::manual_seed(5);
  const auto bf = at::TensorOptions().dtype(at::kBFloat16);
  auto tgt = at::randn({1, 12, 64}, bf), ref = at::randn({1, 6, 64}, bf);
  auto out = model->forward(at::cat({tgt, ref}, 1), at::cat({image_ids(1, 3, 4, 0), image_ids(1, 2, 3, 1)}, 1),
                            at::randn({1, 5, 32}, bf), text_ids(1, 5), at::full({1}, 0.9, bf),
                            at::randn({1, 24}, bf), at::full({1}, 2.5, bf));
  g_assert_true(out.sizes() == at::IntArrayRef({1, 18, 64}));
  g_assert_true(out.scalar_type() == at::kBFloat16);
  g_assert_true(at::isfinite(out).all().item<bool>());
  g_test_message("tiny pipeline transformer: out %s, rms %.3f", c10::str(out.sizes()).c_str(),
                 out.to(at::kFloat).pow(2).mean().sqrt().item<float>());
  // One denoise step over the same shapes keeps bf16 and stays finite.
  auto x = denoise(model, tgt, image_ids(1, 3, 4, 0), at::randn({1, 5, 32}, bf), text_ids(1, 5),
                   at::randn({1, 24}, bf), get_schedule(2, 12), 2.5, ref, image_ids(1, 2, 3, 1));
  g_assert_true(x.sizes() == tgt.sizes() && x.scalar_type() == at::kBFloat16);
  g_assert_true(at::isfinite(x).all().item<bool>());
}

// Malformed files and arguments are refused with the culprit named.
static void test_refusals() {
  const auto p = golden_params();
  GError *err = nullptr;
  gchar *tmp = g_dir_make_tmp("test-flux-XXXXXX", &err);
  g_assert_no_error(err);
  const std::string dir = tmp;
  g_free(tmp);
  auto bfl = read_bfl_weights(gpath("model.safetensors"), p);
  auto write = [&](const std::string &path, std::map<std::string, at::Tensor> w) {
    std::vector<std::pair<std::string, at::Tensor>> v(w.begin(), w.end());
    write_safetensors(path, v, at::kFloat, {});
  };

  auto w = bfl;
  w.erase("double_blocks.1.txt_attn.norm.key_norm.scale");
  write(dir + "/missing.safetensors", w);
  expect_error(COCOEDIT_ERR_FORMAT, "double_blocks.1.txt_attn.norm.key_norm.scale",
               [&] { read_bfl_weights(dir + "/missing.safetensors", p); });
  w = bfl;
  w["single_blocks.0.linear1.weight"] = at::zeros({448, 63});
  write(dir + "/shape.safetensors", w);
  expect_error(COCOEDIT_ERR_FORMAT, "single_blocks.0.linear1.weight",
               [&] { read_bfl_weights(dir + "/shape.safetensors", p); });
  w = bfl;
  w["single_blocks.2.linear1.weight"] = at::zeros({448, 64});
  write(dir + "/extra.safetensors", w);
  expect_error(COCOEDIT_ERR_FORMAT, "single_blocks.2.linear1.weight",
               [&] { read_bfl_weights(dir + "/extra.safetensors", p); });
  // The same file read with the real model's params (no config in a BFL file).
  expect_error(COCOEDIT_ERR_FORMAT, "but the params need",
               [&] { read_bfl_weights(gpath("model.safetensors"), flux_preset("flux-dev-kontext")); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "flux-schnell-x", [] { flux_preset("flux-schnell-x"); });
  // Mixed dtypes are refused by the module.
  w = bfl;
  w["txt_in.bias"] = w["txt_in.bias"].to(at::kBFloat16);
  expect_error(COCOEDIT_ERR_FORMAT, "txt_in.bias", [&] { Flux(p, w, "mixed"); });

  // Diffusers: a missing split piece, a shard name leaving the folder, bad config.
  auto cfg = R"({"_class_name": "FluxTransformer2DModel", "attention_head_dim": 32, "axes_dims_rope": [8, 12, 12],
    "guidance_embeds": true, "in_channels": 64, "joint_attention_dim": 48, "num_attention_heads": 2,
    "num_layers": 2, "num_single_layers": 2, "out_channels": null, "patch_size": 1, "pooled_projection_dim": 32})";
  g_assert_true(g_file_set_contents((dir + "/config.json").c_str(), cfg, -1, nullptr));
  FluxParams read = read_diffusers_config(dir + "/config.json");
  g_assert_cmpint(read.hidden_size, ==, 64);
  g_assert_cmpint(read.out_channels, ==, 64);
  g_assert_cmpint(read.vec_in_dim, ==, 32);
  {
    SafetensorsFile f(gpath("diffusers.safetensors"));
    std::map<std::string, at::Tensor> d;
    for (const auto &e : f.entries())
      if (e.name != "single_transformer_blocks.1.proj_mlp.bias") d[e.name] = f.read(e);
    write(dir + "/diffusion_pytorch_model.safetensors", d);
  }
  expect_error(COCOEDIT_ERR_FORMAT, "single_transformer_blocks.1.proj_mlp.bias", [&] { load_flux_diffusers(dir); });
  const char *index = R"({"metadata": {}, "weight_map": {"x_embedder.weight": "../diffusion_pytorch_model.safetensors"}})";
  g_assert_true(g_file_set_contents((dir + "/diffusion_pytorch_model.safetensors.index.json").c_str(), index, -1, nullptr));
  expect_error(COCOEDIT_ERR_FORMAT, "x_embedder.weight", [&] { load_flux_diffusers(dir); });
  g_assert_true(g_file_set_contents((dir + "/config.json").c_str(), R"({"num_attention_heads": 3, "attention_head_dim": 32})",
                                    -1, nullptr));
  expect_error(COCOEDIT_ERR_FORMAT, "axes_dim", [&] { read_diffusers_config(dir + "/config.json"); });

  // Forward arguments of the wrong shape.
  Flux model(p, bfl, "bfl");
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "img_ids", [&] {
    model->forward(input("img_fp32"), input("target_ids"), input("txt_fp32"), input("txt_ids"),
                   input("timesteps_fp32"), input("y_fp32"), input("guidance_fp32"));
  });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "guidance", [&] {
    model->forward(input("img_fp32"), input("img_ids"), input("txt_fp32"), input("txt_ids"),
                   input("timesteps_fp32"), input("y_fp32"));
  });

  for (const char *f : {"missing.safetensors", "shape.safetensors", "extra.safetensors", "config.json",
                        "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"})
    g_remove((dir + "/" + f).c_str());
  g_rmdir(dir.c_str());
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-') golden = argv[i];
  if (golden.empty()) {
    g_printerr("usage: test-flux GOLDEN_DIR (tests/golden/flux)\n");
    return 2;
  }
  g_test_add_func("/flux/schedule-and-ids", test_schedule_and_ids);
  g_test_add_func("/flux/pe", test_pe);
  g_test_add_func("/flux/forward-fp32", test_forward_fp32);
  g_test_add_func("/flux/forward-bf16", test_forward_bf16);
  g_test_add_func("/flux/diffusers-names", test_diffusers_names);
  g_test_add_func("/flux/denoise-fp32", test_denoise_fp32);
  g_test_add_func("/flux/denoise-bf16", test_denoise_bf16);
  g_test_add_func("/flux/tiny-pipeline-transformer", test_tiny_pipeline);
  g_test_add_func("/flux/refusals", test_refusals);
  return g_test_run();
}
