// edit.cpp — see edit.h.
#include "edit.h"

#include "error.h"
#include "region.h"

namespace cocoedit {

void edit_image(EditModelImpl &model, const at::Device &device, const cocoedit_image &source,
                const cocoedit_image *mask, const EditRequest &req, cocoedit_image &output) {
  const ModelConfig &c = model.config;
  const Rect crop = expand_rect(mask_bounds(mask, source.width, source.height), req.context_margin,
                                source.width, source.height);
  const int long_side = req.working_size > 0 ? req.working_size : c.image_size;
  const auto [ww, wh] = working_dims(crop.width, crop.height, long_side, c.patch_size);

  at::InferenceMode inference;
  at::Tensor src = (resize(read_rgb(source, crop), wh, ww) * 2.0 - 1.0).to(device);
  at::Tensor m = resize(read_mask(mask, crop), wh, ww).clamp(0.0, 1.0).to(device);

  Conditioning cond = condition_on(model, src, m, {req.prompt}, req.guidance);

  const int64_t n_tokens = static_cast<int64_t>(wh / c.patch_size) * (ww / c.patch_size);
  const auto sigmas = sigma_schedule(req.steps, resolution_shift(c, n_tokens), req.strength);
  at::Tensor noise = seeded_noise(req.seed, {1, 3, wh, ww}, device);
  // strength < 1: start from the source noised to the first σ (img2img).
  at::Tensor x = req.strength < 1.0 ? (1.0 - sigmas[0]) * src + sigmas[0] * noise : noise;
  at::Tensor x0 = sample(model, x, sigmas, cond, req.guidance, req.on_step);

  at::Tensor edited = resize(((x0.clamp(-1.0, 1.0) + 1.0) * 0.5).to(at::kCPU, at::kFloat), crop.height, crop.width);
  composite(source, mask, edited, crop, output);
}

}  // namespace cocoedit
