// flux_weights.h — reading FLUX transformer weights into BFL's layout:
// BFL single files (flux1-kontext-dev.safetensors) and diffusers
// FluxTransformer2DModel folders (transformer/), whose split q/k/v,
// proj_mlp and swapped norm_out halves are fused back into BFL's tensors.
// Tensors keep their stored dtype.  Every missing, unexpected or misshapen
// tensor is refused with an error naming it.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "flux/flux_transformer.h"

namespace cocoedit {
namespace flux {

// A diffusers transformer/config.json (FluxTransformer2DModel arguments,
// with diffusers' defaults for absent ones) as FluxParams.
FluxParams read_diffusers_config(const std::string &config_path);
// The same from the file's text; `origin` names it in errors.
FluxParams diffusers_config_from_json(const std::string &text, const std::string &origin);

// A BFL single file (keys without prefix, or all under
// "model.diffusion_model.", as ComfyUI saves them), checked against `params`
// (flux_preset("flux-dev-kontext") for the real file: it holds no config).
WeightMap read_bfl_weights(const std::string &path, const FluxParams &params);
Flux load_flux_bfl(const std::string &path, const FluxParams &params);

// A diffusers folder: config.json plus diffusion_pytorch_model.safetensors,
// or diffusion_pytorch_model.safetensors.index.json and the shards it names
// (file names inside the folder only).
WeightMap read_diffusers_weights(const std::string &dir, const FluxParams &params);
Flux load_flux_diffusers(const std::string &dir);
// One safetensors file under diffusers names (a single-file diffusers
// export), sizes from `params`.
WeightMap read_diffusers_file(const std::string &path, const FluxParams &params);

// One transformer file under either naming, told apart by its keys
// (diffusers files have x_embedder.weight).
WeightMap read_single_file_weights(const std::string &path, const FluxParams &params);

// Where each BFL tensor comes from in diffusers' layout: rows
// [src_row, src_row + rows) of `src`, stacked in order.
struct DiffusersPiece {
  std::string src;
  int64_t src_row = 0, rows = 0;
};
struct DiffusersSource {
  std::string bfl_name;
  std::vector<int64_t> bfl_shape;
  std::vector<DiffusersPiece> pieces;
};
// The map for `params`, and the shape every diffusers tensor must have.
std::vector<DiffusersSource> diffusers_layout(const FluxParams &params,
                                              std::map<std::string, std::vector<int64_t>> *src_shapes);

}  // namespace flux
}  // namespace cocoedit
