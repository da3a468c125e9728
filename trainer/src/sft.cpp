// sft.cpp — stage 1: supervised flow matching of the editing model.
//
// Each step: B samples (source, instruction, mask, target); t from a shifted
// logit-normal; x_t = (1 − t)·x0 + t·ε with x0 the target (in the model's
// space: pixels, or the latents of its frozen autoencoder); the model sees
// x_t, the source tokens and the mask and predicts v = ε − x0.  The
// instruction is dropped (made empty) with probability sft.text_dropout so
// that classifier-free guidance works at inference.  EMA weights are what
// the stage exports as the model.  A latent model on finite data encodes
// each picture once (latent-cache.h).
#include <cmath>
#include <optional>
#include <tuple>

#include "autocast.h"
#include "checkpoint.h"
#include "common.h"
#include "threads.h"
#include "dist.h"
#include "error.h"
#include "latent-cache.h"
#include "losses.h"
#include "reporter.h"
#include "run-state.h"
#include "samples.h"
#include "sampler.h"
#include "stages.h"

namespace cocoedit::train {

namespace {

// Purposes of the per-step random streams (see derive_seed).
enum : uint64_t { kNoise = 1, kTime = 2, kDropout = 3, kPreview = 4 };

// Runs the EMA model on a few fixed samples and draws source | result | target | mask.
void preview(Reporter &rep, EditModelImpl &model, const Batch &b, const TrainConfig &c, int64_t step,
             const at::Device &device) {
  at::NoGradGuard no_grad;
  const ModelConfig &mc = model.config;
  const int64_t n = std::min<int64_t>(4, b.source.size(0));
  Conditioning cond =
      condition_on(model, b.source.narrow(0, 0, n) * 2 - 1, b.mask.narrow(0, 0, n), prompts_of(b, 0, n), Guidance{});
  const int64_t S = b.source.size(2);
  auto sigmas = sigma_schedule(mc.default_steps, resolution_shift(model, S, S));
  auto x = step_normal(c, 0, 0, kPreview, model.space_shape(n, S, S), device);
  auto out = (model.codec.decode(sample(model, x, sigmas, cond, Guidance{})).clamp(-1, 1) + 1) / 2;
  std::vector<std::vector<at::Tensor>> rows;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < n; i++) {
    rows.push_back({b.source[i].cpu(), out[i].cpu(), b.target[i].cpu(), b.mask[i].cpu()});
    labels.push_back(b.prompts[i]);
  }
  rep.grid("samples-" + std::to_string(step), rows, {"source", "result", "target", "mask"}, labels);
}

}  // namespace

void run_sft(const TrainConfig &c, bool resume) {
  const at::Device device = pick_device(c.run_device);
  configure_threads(static_cast<int>(c.run_threads));
  Dist dist(device);
  EditModel model = initial_model(c, device);
  EditModel ema = frozen_copy(*model, device);
  auto params = model->parameters();
  auto opt = make_optimizer(c, params);
  SampleSource data(c, dist.rank(), dist.world());

  RunState state;
  CheckpointParts parts{{{"model", model.get()}, {"ema", ema.get()}}, {}, &opt};
  std::string ck;
  if (resume) {
    ck = find_checkpoint(c.run_out_dir);
    if (ck.empty()) {
      say(dist.rank(), "no checkpoint in " + c.run_out_dir + ": starting from scratch");
    } else {
      state = load_checkpoint(ck, parts);
      say(dist.rank(), "resumed from " + ck + " at step " + std::to_string(state.step));
    }
  }
  // Every rank starts from rank 0's weights.
  dist.broadcast(params);
  dist.broadcast(ema->parameters());

  const ModelConfig &mc = model->config;
  const int64_t B = c.optim_batch_size, S = c.data_size;
  if (S % model->pixels_per_token())
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.size must be a multiple of the model's token size in pixels");
  const double shift = resolution_shift(*model, S, S);
  const ImageCodec &codec = model->codec;
  std::optional<LatentCache> cache;
  if (codec.latent() && c.data_cache_latents && data.size() > 0) {
    if (!ck.empty()) require_same_pictures(ck, c);
    cache.emplace(codec, S, c.run_out_dir + "/latent-cache", dist.rank(), state.step);
  }
  Reporter rep(c, dist.main(), "sft", c.optim_steps, state.step);
  if (dist.main())
    say(0, "sft: " + std::to_string(model->parameter_count()) + " parameters on " + device.str() + ", data: " +
               data.describe() + ", " + std::to_string(dist.world()) + " rank(s)");

  std::optional<Batch> preview_batch;
  while (state.step < c.optim_steps) {
    const int64_t step = state.step;
    Batch b = stack(data.get(state.data_pos, static_cast<int>(B)), device);
    state.data_pos += B;
    if (!b.target.defined()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "sft needs target images; the data has none");
    if (!preview_batch) preview_batch = b;

    // In the model's space (pixels, or its frozen autoencoder's latents).
    at::Tensor x0, src;
    if (cache) {
      std::tie(x0, src) = cache->encode(b);
    } else {
      x0 = codec.encode(b.target * 2 - 1);
      src = codec.encode(b.source * 2 - 1);
    }
    auto mask = codec.mask(b.mask);
    auto eps = step_normal(c, step, dist.rank(), kNoise, x0.sizes(), device);
    auto t = logit_normal_t(step_normal(c, step, dist.rank(), kTime, {B}, device), c.sft_t_mean, c.sft_t_std, shift);
    auto drop = step_uniform(c, step, dist.rank(), kDropout, {B});
    std::vector<std::string> prompts = b.prompts;
    for (int64_t i = 0; i < B; i++)
      if (drop[i].item<double>() < c.sft_text_dropout) prompts[i].clear();

    at::Tensor loss;
    {
      AutocastScope amp(device.type(), use_autocast(c, device));
      auto text = model->encode_text(tokenize(prompts, mc.text_max_bytes));
      auto v = model->forward(noisy(x0, eps, t), src, mc.mask_channel ? std::optional<at::Tensor>(mask) : std::nullopt,
                              t, text);
      loss = c.sft_edit_weight > 0 ? weighted_flow_matching_loss(v, x0, eps, 1.0 + c.sft_edit_weight * mask)
                                   : flow_matching_loss(v.to(at::kFloat), x0, eps);
    }
    opt.zero_grad();
    loss.backward();
    dist.average_gradients(params);
    const double loss_v = loss.item<double>();
    if (!std::isfinite(loss_v) || !gradients_finite(params)) {
      opt.zero_grad();
      skip_nonfinite_step(state, c, dist.rank(), "loss or gradient");
      continue;
    }
    state.nonfinite_in_row = 0;
    const double grad_norm = torch::nn::utils::clip_grad_norm_(params, c.optim_grad_clip);
    const double lr = learning_rate(c, step);
    set_learning_rate(opt, lr);
    opt.step();
    ema_update(ema->parameters(), params, std::min(c.sft_ema, (1.0 + step) / (10.0 + step)));
    state.step++;

    rep.log(state.step, {{"loss", loss_v}, {"grad_norm", grad_norm}, {"lr", lr}});
    if (dist.main() && (state.step % c.log_samples_every == 0 || state.step == c.optim_steps))
      preview(rep, *ema, *preview_batch, c, state.step, device);
    if (cache && checkpoint_due(c, state)) cache->save(state.step);
    checkpoint_if_due(c, state, parts, dist);
  }
  rep.finish();
  say(dist.rank(), "weights fingerprint " + weights_fingerprint(params));
  // The stage's product: the EMA weights as an engine model directory.
  if (dist.main()) {
    save_model(*ema, c.run_out_dir + "/model", 15u << 20);
    say(0, "sft: wrote " + c.run_out_dir + "/model");
  }
}

}  // namespace cocoedit::train
