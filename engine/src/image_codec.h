// image_codec.h — the space the project's editing transformer works in:
// RGB pixels (patched by the transformer itself), or the latents of a small
// autoencoder of the FLUX architecture (ae/flux_autoencoder.h) trained for
// the model.  Everything that turns pictures into the transformer's input
// and back (engine, trainer, eval) goes through one ImageCodec, so the two
// spaces share every other line of code.
//
//   pixels (B, 3, H, W) in [−1, 1] ──encode──► space (B, C, H/f, W/f) ──decode──► pixels
//   mask   (B, 1, H, W) in [0, 1]  ──mask────► (B, 1, H/f, W/f), the area mean
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "ae/flux_autoencoder.h"

namespace cocoedit {

class ImageCodec {
 public:
  // Pixel space: encode and decode are the identity (f = 1, C = 3).
  ImageCodec() = default;
  // Latent space of `ae` (shared: frozen copies of a model share it).
  explicit ImageCodec(std::shared_ptr<FluxAutoencoder> ae);

  bool latent() const { return ae_ != nullptr; }
  int64_t factor() const;    // pixels per cell of the space, along each side
  int64_t channels() const;
  const char *kind() const { return latent() ? "flux-ae" : "pixel-patches"; }
  FluxAutoencoder *autoencoder() const { return ae_.get(); }

  at::Tensor encode(const at::Tensor &image) const;
  at::Tensor decode(const at::Tensor &z) const;
  at::Tensor mask(const at::Tensor &mask) const;

 private:
  std::shared_ptr<FluxAutoencoder> ae_;
};

}  // namespace cocoedit
