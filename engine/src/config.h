// config.h — a model's shape, read from and written to config.json.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace cocoedit {

// 2: the transformer's parameters carry BFL's names (flux::Flux); 1: the
// same model before that, with MLPs fc1/fc2 and "final_layer.ada" (still read).
constexpr int kModelFormatVersion = 2;

struct ModelConfig {
  std::string name = "cocoedit";
  std::string architecture = "cocoedit-kontext";
  int format_version = kModelFormatVersion;

  // Image side: the model works on patches of pixels, or of the latents of
  // its own autoencoder (see docs/architecture.md).
  int image_size = 256;       // default working resolution (long side, pixels)
  int patch_size = 8;         // in pixels, or in latent cells with an autoencoder
  int in_channels = 3;        // RGB in [-1, 1], or the autoencoder's latent channels
  // "" = pixel space; else the model folder's subfolder (one plain name, e.g.
  // "vae") holding a diffusers AutoencoderKL of the FLUX architecture.
  std::string autoencoder;
  bool mask_channel = true;   // an extra input channel carrying the edit mask

  // Transformer.
  int hidden_size = 384;
  int num_heads = 6;
  int depth_double = 4;       // double-stream blocks (separate text/image weights)
  int depth_single = 8;       // single-stream blocks (one joint stream)
  double mlp_ratio = 4.0;
  std::array<int, 3> axes_dim = {16, 24, 24};  // RoPE dims over (image, row, column)
  double rope_theta = 10000.0;

  // Text encoder over UTF-8 bytes: no vocabulary file, any language.
  int text_max_bytes = 192;
  int text_hidden_size = 256;
  int text_depth = 2;
  int text_heads = 4;

  // Conditioning and sampling defaults.
  bool guidance_embed = false;   // distilled guidance as an input (FLUX dev style)
  double time_shift = 3.0;       // sigma schedule shift at image_size
  int default_steps = 20;
  double default_guidance = 2.5;
  std::string dtype = "float32"; // dtype of the stored weights

  bool latent() const { return !autoencoder.empty(); }
  int head_dim() const { return hidden_size / num_heads; }
  int patch_in_dim() const { return patch_size * patch_size * (in_channels + (mask_channel ? 1 : 0)); }
  int patch_out_dim() const { return patch_size * patch_size * in_channels; }

  // Throws cocoedit::Error (COCOEDIT_ERR_FORMAT) naming `origin` and the
  // offending field.
  void validate(const std::string &origin = "config") const;
};

// Reads and validates a config.json.  Unknown keys are ignored so that newer
// writers stay readable; missing keys take the defaults above.
ModelConfig config_from_file(const std::string &path);
ModelConfig config_from_json(const std::string &text, const std::string &origin);
std::string config_to_json(const ModelConfig &config);

}  // namespace cocoedit
