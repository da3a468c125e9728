// make-single-files.cpp — writes the tiny diffusers FLUX.1-Kontext-dev
// folder of tests/golden/kontext-pipeline in BFL's single-file layout, for
// test-kontext-cli.py:
//   flux1-kontext-dev-tiny.safetensors  the transformer under BFL names
//                                       (fused by the golden-tested reader)
//   clip_l-tiny.safetensors             CLIP text model, one file, with the
//                                       text_projection ComfyUI's file has
//   t5xxl-tiny.safetensors              T5 encoder, its two shards in one
//   ae-tiny.safetensors                 the autoencoder, one file
//   lora-diffusers-tiny.safetensors     a diffusers LoRA on split q/k/v,
//                                       proj_mlp and the context stream
//
//   make-single-files FOLDER OUT_DIR
#include <glib.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "flux/flux_weights.h"
#include "safetensors.h"

using namespace cocoedit;
using Named = std::vector<std::pair<std::string, at::Tensor>>;

// Every tensor of the given files, in file order, in their stored dtype.
static Named all_tensors(const std::vector<std::string> &files) {
  Named out;
  for (const auto &path : files) {
    SafetensorsFile f(path);
    for (const auto &e : f.entries()) out.emplace_back(e.name, f.read(e));
  }
  return out;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make-single-files FOLDER OUT_DIR\n");
    return 2;
  }
  const std::string in = argv[1], out = argv[2];
  try {
    torch::NoGradGuard no_grad;
    const flux::FluxParams p = flux::read_diffusers_config(in + "/transformer/config.json");
    Named transformer;
    for (auto &kv : flux::read_diffusers_weights(in + "/transformer", p)) transformer.emplace_back(kv.first, kv.second);
    write_safetensors(out + "/flux1-kontext-dev-tiny.safetensors", transformer, at::kBFloat16, {{"format", "pt"}});

    Named clip = all_tensors({in + "/text_encoder/model.safetensors"});
    const int64_t hidden = p.vec_in_dim;
    clip.emplace_back("text_projection.weight", at::eye(hidden).to(at::kBFloat16));
    write_safetensors(out + "/clip_l-tiny.safetensors", clip, at::kBFloat16, {{"format", "pt"}});

    write_safetensors(out + "/t5xxl-tiny.safetensors",
                      all_tensors({in + "/text_encoder_2/model-00001-of-00002.safetensors",
                                   in + "/text_encoder_2/model-00002-of-00002.safetensors"}),
                      at::kBFloat16, {{"format", "pt"}});
    write_safetensors(out + "/ae-tiny.safetensors", all_tensors({in + "/vae/diffusion_pytorch_model.safetensors"}),
                      at::kFloat, {{"format", "pt"}});

    // A LoRA strong enough to change the picture: rank 4, alpha 8.
    const int64_t H = p.hidden_size, r = 4;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
    Named lora;
    const std::pair<const char *, int64_t> modules[] = {
        {"transformer_blocks.0.attn.to_q", H},         {"transformer_blocks.0.attn.to_k", H},
        {"transformer_blocks.1.attn.add_k_proj", H},   {"single_transformer_blocks.0.attn.to_v", H},
        {"single_transformer_blocks.1.proj_mlp", p.mlp_hidden()}};
    for (const auto &m : modules) {
      lora.emplace_back(std::string("transformer.") + m.first + ".lora_A.weight", at::randn({r, H}, gen) * 0.5);
      lora.emplace_back(std::string("transformer.") + m.first + ".lora_B.weight", at::randn({m.second, r}, gen) * 0.5);
    }
    write_safetensors(out + "/lora-diffusers-tiny.safetensors", lora, at::kFloat,
                      {{"format", "pt"}, {"lora_adapter_metadata", "{\"transformer.lora_alpha\": 8, \"transformer.r\": 4}"}});
  } catch (const Error &e) {
    std::fprintf(stderr, "make-single-files: %s\n", e.what());
    return 1;
  }
  return 0;
}
