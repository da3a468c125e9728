// flux_sampling.cpp — BFL's sampling.py for Kontext (see flux_sampling.h).
#include "flux/flux_sampling.h"

#include <torch/torch.h>

#include <cmath>

#include "error.h"

namespace cocoedit {
namespace flux {

double schedule_mu(int64_t image_seq_len, double base_shift, double max_shift) {
  const double m = (max_shift - base_shift) / (4096.0 - 256.0);
  const double b = base_shift - m * 256.0;
  return m * static_cast<double>(image_seq_len) + b;
}

std::vector<double> get_schedule(int num_steps, int64_t image_seq_len, double base_shift, double max_shift,
                                 bool shift) {
  if (num_steps < 1 || num_steps > 100000)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "flux: the number of steps must be in [1, 100000]");
  at::Tensor t = at::linspace(1, 0, num_steps + 1, at::kFloat);
  if (shift) {
    // time_shift(mu, 1.0, t) in float32, with Python's operators as torch
    // runs them: `a / t` is t.reciprocal() * a, and `** 1.0` is a copy.
    const double e = std::exp(schedule_mu(image_seq_len, base_shift, max_shift));
    at::Tensor x = t.reciprocal() * 1 - 1;
    t = (x + e).reciprocal() * e;
  }
  std::vector<double> out(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  return out;
}

at::Tensor image_ids(int64_t batch, int64_t rows, int64_t cols, double index) {
  at::Tensor ids = at::zeros({rows, cols, 3}, at::kFloat);
  ids.select(-1, 0).fill_(index);
  ids.select(-1, 1).add_(at::arange(rows, at::kFloat).unsqueeze(1));
  ids.select(-1, 2).add_(at::arange(cols, at::kFloat).unsqueeze(0));
  return ids.reshape({1, rows * cols, 3}).expand({batch, rows * cols, 3}).contiguous();
}

at::Tensor text_ids(int64_t batch, int64_t length) { return at::zeros({batch, length, 3}, at::kFloat); }

at::Tensor denoise(Flux &model, at::Tensor img, const at::Tensor &img_ids, const at::Tensor &txt,
                   const at::Tensor &txt_ids, const at::Tensor &vec, const std::vector<double> &timesteps,
                   double guidance, const std::optional<at::Tensor> &img_cond_seq,
                   const std::optional<at::Tensor> &img_cond_seq_ids, const StepCallback &on_step) {
  if (img_cond_seq.has_value() != img_cond_seq_ids.has_value())
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "flux: give both or neither of the reference tokens and their ids");
  if (img.dim() != 3) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "flux: img must be (B, N, C)");
  torch::NoGradGuard no_grad;
  const int64_t B = img.size(0), N = img.size(1);
  const auto opts = img.options();  // t and guidance in the latent dtype, as BFL
  at::Tensor guidance_vec = at::full({B}, guidance, opts);
  for (size_t i = 0; i + 1 < timesteps.size(); i++) {
    const double t_curr = timesteps[i], t_prev = timesteps[i + 1];
    at::Tensor t_vec = at::full({B}, t_curr, opts);
    at::Tensor input = img, input_ids = img_ids;
    if (img_cond_seq) {
      input = at::cat({img, *img_cond_seq}, 1);
      input_ids = at::cat({img_ids, *img_cond_seq_ids}, 1);
    }
    at::Tensor pred = model->forward(input, input_ids, txt, txt_ids, t_vec, vec, guidance_vec).narrow(1, 0, N);
    // The Python float (t_prev − t_curr) times pred, in pred's dtype.
    img = img + pred * (t_prev - t_curr);
    if (on_step) on_step(static_cast<int>(i), pred);
  }
  return img;
}

}  // namespace flux
}  // namespace cocoedit
