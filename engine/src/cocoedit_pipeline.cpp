// cocoedit_pipeline.cpp — see cocoedit_pipeline.h.
#include "cocoedit_pipeline.h"

#include "checkpoint.h"
#include "detail_transfer.h"
#include "region.h"
#include "sampler.h"

namespace cocoedit {

CocoeditPipeline::CocoeditPipeline(EditModel net, const at::Device &device)
    : net_(std::move(net)), device_(device) {
  const ModelConfig &c = net_->config;
  info_.family = "cocoedit";
  info_.name = c.name;
  info_.architecture = c.architecture;
  info_.dtype = "float32";
  info_.n_parameters = net_->parameter_count();
  info_.working_size = c.image_size;
  info_.granularity = static_cast<int>(net_->pixels_per_token());
  info_.default_steps = c.default_steps;
  info_.default_guidance = c.default_guidance;
  info_.guidance_embedded = c.guidance_embed;
  info_.mask_channel = c.mask_channel;
  // One flux::Flux transformer, the byte-level text encoder, and pixel
  // patches or the model's own autoencoder.
  int64_t n_text = 0;
  for (const auto &p : net_->text_encoder->parameters()) n_text += p.numel();
  const ImageCodec &codec = net_->codec;
  const int64_t n_codec = codec.latent() ? FluxAutoencoder::parameter_count(codec.autoencoder()->params()) : 0;
  info_.components = {{"transformer", "flux", info_.n_parameters - n_text, info_.dtype},
                      {"text_encoder", "byte-text", n_text, info_.dtype},
                      {"image_codec", codec.kind(), n_codec, codec.latent() ? "float32" : ""}};
  info_.n_parameters += n_codec;
  // float32 weights; an edit holds a few dozen rows of tokens×hidden (small),
  // and the autoencoder's widest activation (its first level at full size).
  info_.memory.weights = info_.n_parameters * 4;
  info_.memory.edit_long_side = c.image_size;
  const int64_t tokens = 3 * net_->token_count(c.image_size, c.image_size);
  info_.memory.edit = 32 * tokens * c.hidden_size * 4;
  if (codec.latent())
    info_.memory.edit += 6 * static_cast<int64_t>(codec.autoencoder()->params().ch) * c.image_size * c.image_size * 4;
}

at::Tensor CocoeditPipeline::edit(const at::Tensor &source, const at::Tensor &mask, const EditRequest &req) {
  const ModelConfig &c = net_->config;
  const int64_t h = source.size(2), w = source.size(3);
  const int long_side = req.working_size > 0 ? req.working_size : c.image_size;
  const auto [ww, wh] = working_dims(static_cast<int>(w), static_cast<int>(h), long_side,
                                     static_cast<int>(net_->pixels_per_token()));

  enter_stage(req.on_stage, COCOEDIT_STAGE_ENCODE);
  at::Tensor src = (resize(source, wh, ww) * 2.0 - 1.0).to(device_);
  at::Tensor m = resize(mask, wh, ww).clamp(0.0, 1.0).to(device_);

  // A guidance-distilled model takes the scale as an input; others run CFG.
  Guidance g;
  if (c.guidance_embed) g.embedded = req.guidance;
  else g.text = req.guidance;
  g.image = req.image_guidance;

  Conditioning cond = condition_on(*net_, src, m, {req.prompt}, g);
  const auto sigmas = sigma_schedule(req.steps, resolution_shift(*net_, wh, ww), req.strength);
  at::Tensor noise = seeded_noise(req.seed, net_->space_shape(1, wh, ww), device_);
  at::Tensor x = starting_point(noise, cond.source, sigmas);
  const ImageCodec &codec = net_->codec;
  auto pixels = [](const at::Tensor &z) { return ((z.clamp(-1.0, 1.0) + 1.0) * 0.5).to(at::kCPU, at::kFloat); };
  enter_stage(req.on_stage, COCOEDIT_STAGE_SAMPLE);
  const at::Tensor z = sample(*net_, x, sigmas, cond, g, req.on_step);
  enter_stage(req.on_stage, COCOEDIT_STAGE_DECODE);
  at::Tensor result = pixels(codec.decode(z));
  // The source as the model saw it (working size, through its codec), so
  // that the detail this path lost goes back where the structure is kept.
  at::Tensor held = codec.latent() ? pixels(codec.decode(cond.source)) : pixels(src);
  return transfer_detail(source, held, result);
}

std::unique_ptr<Pipeline> open_cocoedit_pipeline(const std::string &dir, const at::Device &device) {
  return std::make_unique<CocoeditPipeline>(load_model(dir, device), device);
}

}  // namespace cocoedit
