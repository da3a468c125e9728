// flux_lora.h — LoRA files for the FLUX transformer in the formats people
// share, merged into BFL's fused tensors:
//   - diffusers / PEFT: `transformer.<diffusers module>.lora_A.weight`
//     [r, in] and `.lora_B.weight` [out, r] (also `base_model.model.`);
//     alpha from the `lora_adapter_metadata` JSON ("lora_alpha", "r", with
//     or without the "transformer." prefix) or a PEFT adapter_config.json
//     beside the file;
//   - kohya / sd-scripts: `lora_unet_<bfl module with _>.lora_down.weight`,
//     `.lora_up.weight`, `.alpha` (and `lora_transformer_<diffusers module>`);
//   - ComfyUI / BFL names: `diffusion_model.<bfl module>.lora_A/lora_B` or
//     `.lora_down/.lora_up` (also `base_model.model.<bfl module>`, fal's
//     Kontext LoRAs);
//   - this project's own files (`<module>.lora_A`, metadata "rank", "alpha").
// A diffusers module that is a part of a fused BFL tensor (to_q / to_k /
// to_v of qkv, proj_mlp of linear1, the swapped halves of norm_out) adds
// its delta into those rows only, as ComfyUI and stable-diffusion.cpp do.
//
//   W[rows] += scale · (alpha / r) · (B · A)[rows]     (in float32, then
//                                                       back to W's dtype)
#pragma once

#include <string>
#include <vector>

#include "flux/flux_transformer.h"
#include "safetensors.h"

namespace cocoedit {
namespace flux {

// Where one adapted module's delta goes: rows [src_row, src_row + rows) of
// B·A land at rows [dst_row, dst_row + rows) of the BFL tensor `bfl_name`.
struct LoraSlice {
  std::string bfl_name;
  int64_t dst_row = 0, src_row = 0, rows = 0;
};

struct LoraAdapter {
  std::string module;  // as the file names it
  at::Tensor down;     // A: [r, in]
  at::Tensor up;       // B: [out, r]
  double alpha = 0.0;  // alpha / r is the delta's factor
  std::vector<LoraSlice> slices;
};

// A module a trainer can adapt: a diffusers module ("transformer_blocks.0.
// attn.to_q") whose delta is one row range of one BFL tensor (every
// module PEFT targets; not norm_out, whose halves are swapped).  Sorted by
// name.
struct LoraModule {
  std::string name;
  LoraSlice slice;  // src_row 0, rows = the module's output size
  int64_t in = 0;
};
std::vector<LoraModule> lora_modules(const FluxParams &params);

// Reads and checks every adapter of the LoRA file at `path` against a
// transformer of `params`: each module must exist, A and B must pair up
// with matching rank and the module's sizes.  Errors name the file and
// the tensor (COCOEDIT_ERR_FORMAT; COCOEDIT_ERR_IO when unreadable).
std::vector<LoraAdapter> read_flux_lora(const std::string &path, const FluxParams &params);
// The same for a file already open (the fuzzer reads from memory); alpha
// from an adapter_config.json beside f.path() is looked up as above.
std::vector<LoraAdapter> read_flux_lora(const SafetensorsFile &f, const FluxParams &params);

// Adds the file's deltas, times `scale`, into `weights` (BFL names, as
// flux_weights.h reads them).
void merge_lora(WeightMap &weights, const FluxParams &params, const std::string &path, double scale);

}  // namespace flux
}  // namespace cocoedit
