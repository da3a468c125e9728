// flux_autoencoder.h — the FLUX image autoencoder (BFL modules/autoencoder.py):
// a convolutional encoder from RGB in [-1, 1] to a 16-channel latent at 1/8
// of the size, and the decoder back.
//
//   encoder: conv_in, per level num_res_blocks resnet blocks and (except the
//            last level) a stride-2 downsample, mid (resnet, attention,
//            resnet), GroupNorm, swish, conv_out to 2·z channels (mean ‖ logvar)
//   decoder: conv_in, mid, per level from the deepest num_res_blocks + 1
//            resnet blocks and (except level 0) a nearest ×2 upsample,
//            GroupNorm, swish, conv_out
//
// encode() returns scale·(mean − shift), the mean of the latent distribution
// (no sampling, as BFL's sample=False and diffusers' "argmax"); decode()
// undoes the scaling first.  Weights load from BFL names (ae.safetensors) or
// diffusers AutoencoderKL names (vae/diffusion_pytorch_model.safetensors).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "ae/ae_config.h"

namespace cocoedit {

enum class AutoencoderKeys { bfl, diffusers };

class FluxAutoencoder {
 public:
  // An autoencoder of this shape whose weights are still empty; `dtype` is
  // the dtype it keeps its weights in and computes in (BFL: float32).
  explicit FluxAutoencoder(const AutoencoderParams &params, at::ScalarType dtype = at::kFloat);
  ~FluxAutoencoder();
  FluxAutoencoder(const FluxAutoencoder &) = delete;
  FluxAutoencoder &operator=(const FluxAutoencoder &) = delete;

  // Reads every weight from a safetensors file, telling BFL from diffusers
  // names by the keys.  Every tensor of the layout must be present with its
  // shape (diffusers' attention Linear [C, C] stands for the 1×1 conv
  // [C, C, 1, 1]) and no other may be: the first difference is named
  // (COCOEDIT_ERR_FORMAT; COCOEDIT_ERR_IO when the file cannot be read).
  // Returns the naming found.  A second load copies into the tensors of the
  // first (an optimizer holding them stays valid).
  AutoencoderKeys load(const std::string &safetensors_path);

  // Loads a diffusers `vae/` folder: config.json, then
  // diffusion_pytorch_model.safetensors.
  static std::unique_ptr<FluxAutoencoder> from_diffusers_dir(const std::string &dir,
                                                             at::ScalarType dtype = at::kFloat);
  // The same with the folder's config.json already read.
  static std::unique_ptr<FluxAutoencoder> from_diffusers_dir(const std::string &dir, const AutoencoderParams &params,
                                                             at::ScalarType dtype = at::kFloat);

  // Moves the weights (e.g. to CUDA).
  void to(const at::Device &device);

  // Training an autoencoder of this shape (cocoedit-train ae): seeded random
  // weights (PyTorch's default convolution initialisation, norms at
  // identity), the weight tensors in the layout's order, and whether encode
  // and decode record autograd graphs (off by default: inference).
  void init_weights(uint64_t seed);
  std::vector<at::Tensor> parameters() const;
  void set_trainable(bool on);
  bool trainable() const { return trainable_; }
  // The latent normalisation encode() applies (scale·(mean − shift)): set
  // after training from the statistics of real latents.
  void set_latent_scaling(double scale, double shift);

  // Writes `dir`/diffusion_pytorch_model.safetensors (diffusers names, in
  // `dtype`) and then `dir`/config.json (diffusers AutoencoderKL), each
  // atomically, so a folder with a config has weights that match it.
  void save_diffusers_dir(const std::string &dir, at::ScalarType dtype) const;

  // image (B, in_channels, H, W) in [-1, 1], H and W multiples of
  // downsample_factor() → (B, z_channels, H/f, W/f), scaled and shifted.
  at::Tensor encode(const at::Tensor &image) const;
  // The encoder's raw output (B, 2·z_channels, H/f, W/f): mean then logvar.
  at::Tensor encode_moments(const at::Tensor &image) const;
  // z (B, z_channels, h, w) in encode()'s space → (B, out_ch, h·f, w·f).
  at::Tensor decode(const at::Tensor &z) const;

  // Number of weights in the layout of `params` (FLUX.1: 83,819,683).
  static int64_t parameter_count(const AutoencoderParams &params);

  const AutoencoderParams &params() const { return params_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

  struct Weights;  // the module tree (flux_autoencoder.cpp)

 private:
  AutoencoderParams params_;
  at::ScalarType dtype_;
  at::Device device_ = at::kCPU;
  std::unique_ptr<Weights> w_;
  bool loaded_ = false;
  bool trainable_ = false;
};

}  // namespace cocoedit
