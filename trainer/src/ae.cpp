// ae.cpp — stage 0 of a latent-space model: the image autoencoder.
//
// A FLUX-architecture autoencoder (ae/flux_autoencoder.h; its shape is the
// AutoencoderKL config.json that model.config names) learns to reconstruct
// the pictures the editing model will see: each step takes B samples of the
// data, uses both the source and the target, and crops a random ae.crop
// square of each (a convolutional autoencoder is translation-invariant, so
// small crops teach it as well as whole scenes, at a fraction of the cost).
//
//   z ~ N(μ, σ²) from the encoder's moments (the reparameterisation)
//   loss = mean |D(z) − x|  +  ae.kl_weight · mean KL(N(μ, σ²) ‖ N(0, 1))
//
// The stage's product, <out_dir>/model, is a diffusers AutoencoderKL folder
// whose scaling_factor and shift_factor make the latents of the training
// data zero-mean and unit-variance (measured on held-back samples at the
// end), so that flow matching sees noise and data at the same scale.
#include <cmath>

#include "ae/flux_autoencoder.h"
#include "common.h"
#include "dist.h"
#include "error.h"
#include "reporter.h"
#include "rewards.h"
#include "run-state.h"
#include "samples.h"
#include "stages.h"
#include "threads.h"

namespace cocoedit::train {

namespace {

// Purposes of the per-step random streams (see derive_seed).
enum : uint64_t { kCrop = 1, kLatentNoise = 2, kInit = 3 };

// L_rec = mean |x̂ − x|: L1 keeps edges sharper than L2 does.
at::Tensor reconstruction_loss(const at::Tensor &recon, const at::Tensor &x) { return (recon - x).abs().mean(); }

// L_kl = mean over latent values of KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²).
at::Tensor kl_loss(const at::Tensor &mean, const at::Tensor &logvar) {
  return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean();
}

// Random `crop`-pixel squares of every source and target of `b`, in [−1, 1]:
// (2B, 3, crop, crop).  Offsets come from the step's seed.
at::Tensor random_crops(const Batch &b, int64_t crop, const TrainConfig &c, int64_t step, int rank) {
  const int64_t S = b.source.size(2);
  auto images = at::cat({b.source, b.target.defined() ? b.target : b.source}) * 2 - 1;
  if (crop >= S) return images;
  auto u = step_uniform(c, step, rank, kCrop, {images.size(0), 2});
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < images.size(0); i++) {
    const int64_t y = std::min<int64_t>(S - crop, static_cast<int64_t>(u[i][0].item<double>() * (S - crop + 1)));
    const int64_t x = std::min<int64_t>(S - crop, static_cast<int64_t>(u[i][1].item<double>() * (S - crop + 1)));
    out.push_back(images[i].narrow(1, y, crop).narrow(2, x, crop));
  }
  return at::stack(out);
}

// Encoder moments → a sample of the posterior and the KL term.
struct Posterior {
  at::Tensor z, mean, logvar;
};
Posterior sample_posterior(const at::Tensor &moments, int64_t z_channels, const at::Tensor &noise) {
  Posterior p;
  p.mean = moments.narrow(1, 0, z_channels);
  // diffusers' DiagonalGaussianDistribution clamps the log-variance the same way.
  p.logvar = moments.narrow(1, z_channels, z_channels).clamp(-30.0, 20.0);
  p.z = p.mean + (0.5 * p.logvar).exp() * noise;
  return p;
}

// The latent normalisation of the trained autoencoder: the mean and the
// standard deviation of the posterior means of `images` (all channels).
std::pair<double, double> latent_statistics(FluxAutoencoder &ae, const at::Tensor &images) {
  at::NoGradGuard no_grad;
  auto mean = ae.encode_moments(images).narrow(1, 0, ae.params().z_channels).to(at::kDouble);
  return {mean.mean().item<double>(), mean.std().item<double>()};
}

void preview(Reporter &rep, FluxAutoencoder &ae, const at::Tensor &images, int64_t step) {
  at::NoGradGuard no_grad;
  const int64_t n = std::min<int64_t>(4, images.size(0));
  auto x = images.narrow(0, 0, n);
  auto moments = ae.encode_moments(x);
  auto recon = ae.decode(moments.narrow(1, 0, ae.params().z_channels));
  auto metrics = region_psnr_ssim((recon.clamp(-1, 1) + 1) / 2, (x + 1) / 2, at::ones({n, 1, x.size(2), x.size(3)}));
  std::vector<std::vector<at::Tensor>> rows;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < n; i++) {
    rows.push_back({((x[i] + 1) / 2).cpu(), ((recon[i].clamp(-1, 1) + 1) / 2).cpu()});
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f dB", metrics.psnr[i].item<double>());
    labels.push_back(buf);
  }
  rep.grid("reconstructions-" + std::to_string(step), rows, {"picture", "reconstruction"}, labels);
}

}  // namespace

void run_ae(const TrainConfig &c, bool resume) {
  const at::Device device = pick_device(c.run_device);
  configure_threads(static_cast<int>(c.run_threads));
  Dist dist(device);
  const AutoencoderParams shape = load_autoencoder_params(c.model_config);
  FluxAutoencoder ae(shape);
  ae.to(device);
  if (c.model_init.empty()) ae.init_weights(derive_seed(c.run_seed, 0, 0, kInit));
  else ae.load(c.model_init + "/diffusion_pytorch_model.safetensors");
  ae.set_trainable(true);
  auto params = ae.parameters();
  auto opt = make_optimizer(c, params);
  SampleSource data(c, dist.rank(), dist.world());

  RunState state;
  CheckpointParts parts{{}, {}, &opt};
  parts.autoencoders["ae"] = &ae;
  if (resume) {
    const std::string ck = find_checkpoint(c.run_out_dir);
    if (ck.empty()) {
      say(dist.rank(), "no checkpoint in " + c.run_out_dir + ": starting from scratch");
    } else {
      state = load_checkpoint(ck, parts);
      say(dist.rank(), "resumed from " + ck + " at step " + std::to_string(state.step));
    }
  }
  dist.broadcast(params);

  const int64_t B = c.optim_batch_size, crop = c.ae_crop, f = shape.downsample_factor();
  if (crop % f || (crop < c.data_size && c.data_size % f))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "ae.crop and data.size must be multiples of the autoencoder's factor " +
                                            std::to_string(f));
  Reporter rep(c, dist.main(), "ae", c.optim_steps, state.step);
  if (dist.main())
    say(0, "ae: " + std::to_string(FluxAutoencoder::parameter_count(shape)) + " parameters, " + std::to_string(f) +
               "x down to " + std::to_string(shape.z_channels) + " channels, on " + device.str() + ", data: " +
               data.describe());

  at::Tensor preview_images;
  while (state.step < c.optim_steps) {
    const int64_t step = state.step;
    Batch b = stack(data.get(state.data_pos, static_cast<int>(B)), device);
    state.data_pos += B;
    auto x = random_crops(b, crop, c, step, dist.rank());
    if (!preview_images.defined()) preview_images = x.narrow(0, 0, std::min<int64_t>(4, x.size(0))).clone();

    auto moments = ae.encode_moments(x);
    auto noise = step_normal(c, step, dist.rank(), kLatentNoise,
                             {x.size(0), shape.z_channels, x.size(2) / f, x.size(3) / f}, device);
    Posterior post = sample_posterior(moments, shape.z_channels, noise);
    auto recon = ae.decode(post.z);
    auto l_rec = reconstruction_loss(recon, x);
    auto l_kl = kl_loss(post.mean, post.logvar);
    auto loss = l_rec + c.ae_kl_weight * l_kl;
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
    state.step++;

    // PSNR of the batch's reconstructions ([−1, 1] → [0, 1]: MSE/4).
    const double mse = (recon.detach().clamp(-1, 1) - x).pow(2).mean().item<double>() / 4.0;
    rep.log(state.step, {{"loss", loss_v},
                         {"l1", l_rec.item<double>()},
                         {"kl", l_kl.item<double>()},
                         {"psnr", -10.0 * std::log10(std::max(mse, 1e-10))},
                         {"grad_norm", grad_norm},
                         {"lr", lr}});
    if (dist.main() && (state.step % c.log_samples_every == 0 || state.step == c.optim_steps))
      preview(rep, ae, preview_images, state.step);
    checkpoint_if_due(c, state, parts, dist);
  }
  rep.finish();
  say(dist.rank(), "weights fingerprint " + weights_fingerprint(params));
  if (dist.main()) {
    // Normalise the latents on whole pictures the run has not trained on
    // (the next samples of the stream).
    Batch held = stack(data.get(state.data_pos, static_cast<int>(std::max<int64_t>(B, 8))), device);
    auto [mean, std] = latent_statistics(ae, at::cat({held.source, held.target.defined() ? held.target : held.source}) * 2 - 1);
    if (!(std > 1e-8)) fail(COCOEDIT_ERR_INTERNAL, "ae: the latents have no variance; the autoencoder did not train");
    ae.set_latent_scaling(1.0 / std, mean);
    ae.save_diffusers_dir(c.run_out_dir + "/model", at::kFloat);
    say(0, "ae: latent mean " + std::to_string(mean) + ", std " + std::to_string(std) + "; wrote " + c.run_out_dir +
               "/model");
  }
}

}  // namespace cocoedit::train
