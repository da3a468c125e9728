// flux_sampling.h — FLUX.1 Kontext sampling as BFL's sampling.py does it:
// the resolution-shifted schedule, position ids, 2x2 latent packing and the
// Euler loop with embedded guidance over target + reference tokens.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "flux/flux_transformer.h"

namespace cocoedit {
namespace flux {

// mu of get_lin_function: linear through (256, base_shift), (4096, max_shift).
double schedule_mu(int64_t image_seq_len, double base_shift = 0.5, double max_shift = 1.15);

// get_schedule: linspace(1, 0, steps + 1) in float32, shifted by
// σ = e^mu / (e^mu + 1/t − 1) in float32 as the reference computes it, then
// widened to double (Python floats).  `image_seq_len` counts target tokens only.
std::vector<double> get_schedule(int num_steps, int64_t image_seq_len, double base_shift = 0.5,
                                 double max_shift = 1.15, bool shift = true);

// Ids of a rows × cols grid of packed tokens, row-major: (index, row, col),
// float32 (B, rows·cols, 3).  Target: index 0; Kontext reference: index 1 on
// its own grid.
at::Tensor image_ids(int64_t batch, int64_t rows, int64_t cols, double index = 0.0);
// Text ids: zeros (B, length, 3), float32.
at::Tensor text_ids(int64_t batch, int64_t length);

// Packing latents into tokens is the codec's: ae/latent_packing.h.

// Called after each step with the step number and the target part of the
// prediction.
using StepCallback = std::function<void(int step, const at::Tensor &pred)>;

// sampling.py denoise: for each (t_curr, t_prev), t and guidance made in
// img's dtype, the model run on cat(img, img_cond_seq) with
// cat(img_ids, img_cond_seq_ids), its first N outputs kept, and
// img ← img + (t_prev − t_curr)·pred in img's dtype (a bf16 state stays
// bf16).  Runs without autograd.
at::Tensor denoise(Flux &model, at::Tensor img, const at::Tensor &img_ids, const at::Tensor &txt,
                   const at::Tensor &txt_ids, const at::Tensor &vec, const std::vector<double> &timesteps,
                   double guidance, const std::optional<at::Tensor> &img_cond_seq = std::nullopt,
                   const std::optional<at::Tensor> &img_cond_seq_ids = std::nullopt,
                   const StepCallback &on_step = nullptr);

}  // namespace flux
}  // namespace cocoedit
