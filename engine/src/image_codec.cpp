// image_codec.cpp — see image_codec.h.
#include "image_codec.h"

#include "error.h"

namespace cocoedit {

ImageCodec::ImageCodec(std::shared_ptr<FluxAutoencoder> ae) : ae_(std::move(ae)) {}

int64_t ImageCodec::factor() const { return ae_ ? ae_->params().downsample_factor() : 1; }

int64_t ImageCodec::channels() const { return ae_ ? ae_->params().z_channels : 3; }

at::Tensor ImageCodec::encode(const at::Tensor &image) const {
  if (!ae_) return image;
  return ae_->encode(image).to(image.device(), at::kFloat);
}

at::Tensor ImageCodec::decode(const at::Tensor &z) const {
  if (!ae_) return z;
  return ae_->decode(z).to(z.device(), at::kFloat);
}

at::Tensor ImageCodec::mask(const at::Tensor &m) const {
  const int64_t f = factor();
  if (f == 1) return m;
  if (m.size(2) % f || m.size(3) % f)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "mask size is not a multiple of the autoencoder's factor " + std::to_string(f));
  return at::avg_pool2d(m, {f, f}, {f, f});
}

}  // namespace cocoedit
