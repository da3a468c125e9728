// test-flux-lora.cpp — LoRA files for the FLUX transformer (flux_lora.h) on
// the golden transformer of tests/golden/flux (the same weights under BFL
// and diffusers names):
//   - diffusers/PEFT LoRAs on split modules (to_q/to_k/to_v, add_*_proj,
//     proj_mlp, norm_out with its swapped halves) give the weights that
//     adding the deltas to the diffusers tensors and fusing them gives;
//   - kohya, ComfyUI and this project's names on whole BFL modules give
//     W + (alpha/r)·B·A computed here;
//   - two files stack, scale 0 changes nothing, and bad files are refused.
#include <glib.h>
#include <glib/gstdio.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "flux/flux_lora.h"
#include "flux/flux_weights.h"
#include "safetensors.h"

#include "../golden-util.h"
#include "golden-flux-params.h"

using namespace cocoedit;
using namespace cocoedit::flux;

static std::string golden;  // tests/golden/flux
static std::string tmp;     // a scratch folder

static std::string gpath(const std::string &name) { return golden + "/" + name; }
static std::string tpath(const std::string &name) { return tmp + "/" + name; }

using Named = std::vector<std::pair<std::string, at::Tensor>>;

// One adapter: A [r, in], B [out, r], seeded.
struct Pair {
  at::Tensor a, b;
};
static Pair random_pair(int64_t out, int64_t in, int64_t r, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {at::randn({r, in}, gen) * 0.1, at::randn({out, r}, gen) * 0.1};
}

static void check_weights_equal(const WeightMap &got, const WeightMap &want, double tol, const char *what) {
  g_assert_cmpuint(got.size(), ==, want.size());
  double worst = 0.0;
  for (const auto &kv : want) {
    auto it = got.find(kv.first);
    if (it == got.end()) g_error("%s: %s missing", what, kv.first.c_str());
    const double d = max_abs_diff(it->second, kv.second);
    if (d > tol) g_error("%s: %s differs by %.3e", what, kv.first.c_str(), d);
    worst = std::max(worst, d);
  }
  g_test_message("%-40s max|d| %.3e over %zu tensors", what, worst, want.size());
}

// Diffusers modules, each a slice of a fused BFL tensor.
static const char *kSplitModules[] = {
    "transformer_blocks.0.attn.to_q",         "transformer_blocks.0.attn.to_k",
    "transformer_blocks.1.attn.to_v",         "transformer_blocks.0.attn.add_q_proj",
    "transformer_blocks.1.attn.add_v_proj",   "transformer_blocks.0.attn.to_out.0",
    "transformer_blocks.1.ff.net.0.proj",     "single_transformer_blocks.0.attn.to_q",
    "single_transformer_blocks.1.attn.to_v",  "single_transformer_blocks.1.proj_mlp",
    "single_transformer_blocks.0.proj_out",   "norm_out.linear",
    "x_embedder",
};

static void test_diffusers_format() {
  torch::NoGradGuard no_grad;
  const FluxParams p = golden_params();
  const int64_t r = 4;
  const double alpha = 8.0;

  // The expectation: the deltas added to the diffusers tensors themselves,
  // then fused by the (golden-tested) diffusers reader.
  SafetensorsFile base(gpath("diffusers.safetensors"));
  Named patched, lora;
  std::map<std::string, Pair> pairs;
  uint64_t seed = 100;
  for (const char *m : kSplitModules) {
    const TensorEntry *e = base.find(std::string(m) + ".weight");
    if (!e) g_error("golden diffusers file has no %s.weight", m);
    pairs[m] = random_pair(e->shape[0], e->shape[1], r, seed++);
  }
  for (const auto &e : base.entries()) {
    at::Tensor w = base.read(e).to(at::kFloat);
    std::string module = e.name.substr(0, e.name.size() - std::string(".weight").size());
    if (e.name.size() > 7 && e.name.compare(e.name.size() - 7, 7, ".weight") == 0 && pairs.count(module))
      w = w + at::mm(pairs[module].b, pairs[module].a) * (alpha / r);
    patched.emplace_back(e.name, w);
  }
  write_safetensors(tpath("patched-diffusers.safetensors"), patched, at::kFloat, {});
  const WeightMap want = read_diffusers_file(tpath("patched-diffusers.safetensors"), p);

  // diffusers' save_lora_weights: "transformer." prefix, alpha in the metadata.
  for (const auto &kv : pairs) {
    lora.emplace_back("transformer." + kv.first + ".lora_A.weight", kv.second.a);
    lora.emplace_back("transformer." + kv.first + ".lora_B.weight", kv.second.b);
  }
  write_safetensors(tpath("diffusers-lora.safetensors"), lora, at::kFloat,
                    {{"format", "pt"},
                     {"lora_adapter_metadata", "{\"transformer.lora_alpha\": 8, \"transformer.r\": 4}"}});
  WeightMap got = read_bfl_weights(gpath("model.safetensors"), p);
  for (auto &kv : got) kv.second = kv.second.to(at::kFloat);
  merge_lora(got, p, tpath("diffusers-lora.safetensors"), 1.0);
  check_weights_equal(got, want, 1e-6, "diffusers LoRA = patched diffusers weights");

  // PEFT's save_pretrained: base_model.model. prefix, adapter_config.json.
  const std::string peft = tpath("peft");
  g_mkdir_with_parents(peft.c_str(), 0755);
  Named peft_tensors;
  for (const auto &kv : pairs) {
    peft_tensors.emplace_back("base_model.model." + kv.first + ".lora_A.weight", kv.second.a);
    peft_tensors.emplace_back("base_model.model." + kv.first + ".lora_B.weight", kv.second.b);
  }
  write_safetensors(peft + "/adapter_model.safetensors", peft_tensors, at::kBFloat16, {});
  write_file_atomic(peft + "/adapter_config.json", "{\"r\": 4, \"lora_alpha\": 8, \"peft_type\": \"LORA\"}");
  WeightMap got_peft = read_bfl_weights(gpath("model.safetensors"), p);
  for (auto &kv : got_peft) kv.second = kv.second.to(at::kFloat);
  merge_lora(got_peft, p, peft + "/adapter_model.safetensors", 1.0);
  // The file holds bf16 A and B, so the deltas are bf16-rounded.
  check_weights_equal(got_peft, want, 2e-3, "PEFT LoRA (bf16) = patched weights");
  g_remove((peft + "/adapter_model.safetensors").c_str());
  g_remove((peft + "/adapter_config.json").c_str());
  g_rmdir(peft.c_str());
  g_remove(tpath("patched-diffusers.safetensors").c_str());
}

// Whole BFL modules under kohya, ComfyUI and this project's names.
static void test_bfl_named_formats() {
  torch::NoGradGuard no_grad;
  const FluxParams p = golden_params();
  const int64_t r = 2;
  const char *modules[] = {"double_blocks.0.img_attn.qkv", "double_blocks.1.txt_mlp.2",
                           "single_blocks.1.linear1", "single_blocks.0.linear2",
                           "final_layer.adaLN_modulation.1", "guidance_in.in_layer"};
  WeightMap base = read_bfl_weights(gpath("model.safetensors"), p);
  for (auto &kv : base) kv.second = kv.second.to(at::kFloat);

  std::map<std::string, Pair> pairs;
  uint64_t seed = 200;
  for (const char *m : modules) {
    const at::Tensor &w = base.at(std::string(m) + ".weight");
    pairs[m] = random_pair(w.size(0), w.size(1), r, seed++);
  }
  // W + scale·(alpha/r)·B·A, with kohya's alpha 1 and scale 0.5.
  const double alpha = 1.0, scale = 0.5;
  WeightMap want = base;
  for (auto &kv : want) kv.second = kv.second.clone();
  for (const auto &kv : pairs) {
    at::Tensor &w = want.at(kv.first + ".weight");
    w = w + at::mm(kv.second.b, kv.second.a) * (scale * alpha / r);
  }

  Named kohya, comfy, own;
  for (const auto &kv : pairs) {
    std::string k = "lora_unet_" + kv.first;
    for (auto &c : k)
      if (c == '.') c = '_';
    kohya.emplace_back(k + ".lora_down.weight", kv.second.a);
    kohya.emplace_back(k + ".lora_up.weight", kv.second.b);
    kohya.emplace_back(k + ".alpha", at::full({}, alpha));
    comfy.emplace_back("diffusion_model." + kv.first + ".lora_A.weight", kv.second.a);
    comfy.emplace_back("diffusion_model." + kv.first + ".lora_B.weight", kv.second.b);
    own.emplace_back(kv.first + ".lora_A", kv.second.a);
    own.emplace_back(kv.first + ".lora_B", kv.second.b);
  }
  write_safetensors(tpath("kohya.safetensors"), kohya, at::kFloat, {});
  write_safetensors(tpath("comfy.safetensors"), comfy, at::kFloat, {{"lora_adapter_metadata", "{\"lora_alpha\": 1, \"r\": 2}"}});
  write_safetensors(tpath("own.safetensors"), own, at::kFloat,
                    {{"format", "cocoedit-lora"}, {"rank", "2"}, {"alpha", "1.0"}});
  for (const char *file : {"kohya.safetensors", "comfy.safetensors", "own.safetensors"}) {
    WeightMap got = base;
    for (auto &kv : got) kv.second = kv.second.clone();
    merge_lora(got, p, tpath(file), scale);
    check_weights_equal(got, want, 1e-6, file);
  }

  // Two files stack; scale 0 is the base, bit for bit.
  WeightMap twice = base;
  for (auto &kv : twice) kv.second = kv.second.clone();
  merge_lora(twice, p, tpath("kohya.safetensors"), scale);
  merge_lora(twice, p, tpath("comfy.safetensors"), scale);
  for (const auto &kv : pairs) {
    const at::Tensor expect = base.at(kv.first + ".weight") + at::mm(kv.second.b, kv.second.a) * (2 * scale * alpha / r);
    g_assert_cmpfloat(max_abs_diff(twice.at(kv.first + ".weight"), expect), <, 1e-6);
  }
  WeightMap zero = base;
  for (auto &kv : zero) kv.second = kv.second.clone();
  merge_lora(zero, p, tpath("kohya.safetensors"), 0.0);
  check_weights_equal(zero, base, 0.0, "scale 0 leaves the weights");

  // In bf16 the merge rounds once, back to the stored dtype.
  WeightMap bf = read_bfl_weights(gpath("model_bf16.safetensors"), p);
  merge_lora(bf, p, tpath("own.safetensors"), 1.0);
  g_assert_true(bf.at("double_blocks.0.img_attn.qkv.weight").scalar_type() == at::kBFloat16);
}

static void test_refusals() {
  torch::NoGradGuard no_grad;
  const FluxParams p = golden_params();
  WeightMap w = read_bfl_weights(gpath("model.safetensors"), p);
  const at::Tensor a = at::zeros({2, 64}), b = at::zeros({192, 2});
  auto write = [&](const Named &t) { write_safetensors(tpath("bad.safetensors"), t, at::kFloat, {}); };
  auto refuse = [&](cocoedit_status code, const std::string &fragment) {
    expect_error(code, fragment, [&] { merge_lora(w, p, tpath("bad.safetensors"), 1.0); });
  };

  write({{"transformer.transformer_blocks.7.attn.to_q.lora_A.weight", at::zeros({2, 64})},
         {"transformer.transformer_blocks.7.attn.to_q.lora_B.weight", at::zeros({64, 2})}});
  refuse(COCOEDIT_ERR_FORMAT, "transformer_blocks.7.attn.to_q");  // no block 7: another model
  write({{"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", a}});
  refuse(COCOEDIT_ERR_FORMAT, "not its pair");
  write({{"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight", a},
         {"diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight", at::zeros({192, 3})}});
  refuse(COCOEDIT_ERR_FORMAT, "do not fit");
  write({{"diffusion_model.double_blocks.0.img_attn.qkv.dora_scale", at::zeros({192})}});
  refuse(COCOEDIT_ERR_FORMAT, "DoRA");
  write({{"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", a}});
  refuse(COCOEDIT_ERR_FORMAT, "does not have");
  write({{"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", a},
         {"lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", b},
         {"lora_unet_double_blocks_0_img_attn_qkv.alpha", at::full({}, -1.0)}});
  refuse(COCOEDIT_ERR_FORMAT, "alpha");
  write_safetensors(tpath("bad.safetensors"),
                    {{"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight", at::zeros({2, 64})}},
                    at::kFloat, {{"lora_adapter_metadata", "{\"lora_alpha\": 8, \"r\": 4, \"alpha_pattern\": {\"x\": 1}}"}});
  refuse(COCOEDIT_ERR_FORMAT, "alpha_pattern");
  expect_error(COCOEDIT_ERR_IO, "no-such", [&] { merge_lora(w, p, tpath("no-such.safetensors"), 1.0); });
  write({{"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight", a},
         {"lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight", b}});
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "not finite", [&] { merge_lora(w, p, tpath("bad.safetensors"), NAN); });
  g_remove(tpath("bad.safetensors").c_str());
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-') golden = argv[i];
  if (golden.empty()) {
    g_printerr("usage: test-flux-lora GOLDEN_DIR (tests/golden/flux)\n");
    return 2;
  }
  gchar *t = g_dir_make_tmp("flux-lora-XXXXXX", nullptr);
  tmp = t;
  g_free(t);
  g_test_add_func("/flux-lora/diffusers-and-peft", test_diffusers_format);
  g_test_add_func("/flux-lora/kohya-comfy-own", test_bfl_named_formats);
  g_test_add_func("/flux-lora/refusals", test_refusals);
  const int rc = g_test_run();
  for (const char *f : {"diffusers-lora.safetensors", "kohya.safetensors", "comfy.safetensors", "own.safetensors"})
    g_remove(tpath(f).c_str());
  g_rmdir(tmp.c_str());
  return rc;
}
