// ae_config.h — the shape of the FLUX autoencoder, from BFL's
// AutoEncoderParams fields or from a diffusers AutoencoderKL config.json.
#pragma once

#include <string>
#include <vector>

namespace cocoedit {

struct AutoencoderParams {
  // BFL AutoEncoderParams; the defaults are FLUX.1's ae.safetensors.
  int resolution = 256;                  // informative only
  int in_channels = 3;
  int ch = 128;
  int out_ch = 3;
  std::vector<int> ch_mult = {1, 2, 4, 4};
  int num_res_blocks = 2;
  int z_channels = 16;
  double scale_factor = 0.3611;
  double shift_factor = 0.1159;
  int norm_groups = 32;                  // GroupNorm groups (fixed at 32 in BFL)

  int levels() const { return static_cast<int>(ch_mult.size()); }
  // Pixels per latent cell along each side: 2^(levels − 1).
  int downsample_factor() const { return 1 << (levels() - 1); }

  // Throws cocoedit::Error (COCOEDIT_ERR_FORMAT) naming `origin` and the
  // offending field.
  void validate(const std::string &origin = "autoencoder config") const;
};

// Parses a JSON object holding either diffusers AutoencoderKL fields
// (recognised by "block_out_channels") or BFL AutoEncoderParams fields
// (fields absent keep the FLUX.1 defaults), and validates the result.
// Diffusers features this model does not have (quant_conv, other block
// types, another activation, latents_mean/std) are refused by name.
AutoencoderParams autoencoder_params_from_json(const std::string &text, const std::string &origin);

// A diffusers AutoencoderKL config.json of `params` (what
// autoencoder_params_from_json reads back as the same params).
std::string autoencoder_params_to_diffusers_json(const AutoencoderParams &params);

// The same, reading `path` (e.g. vae/config.json).
AutoencoderParams load_autoencoder_params(const std::string &path);

}  // namespace cocoedit
