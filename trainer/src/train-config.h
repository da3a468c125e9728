// train-config.h — one run's settings: a JSON file plus `--set key=value`
// overrides, saved resolved next to every checkpoint.
//
// The file is a JSON object of sections ("run", "data", "optim", "ae", "sft",
// "rl", "lora", "reward", "log"); each key below is `section.name`.  Unknown
// keys are errors (a typo must not silently fall back to a default).  The
// defaults are the CoCoEdit authors' settings where the paper gives one
// (design/cocoedit-rl.md); docs/training.md lists them all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lora_targets.h"

namespace cocoedit::train {

using StringList = std::vector<std::string>;

// X(type, section, name, default, help)
#define COCOEDIT_TRAIN_FIELDS(X)                                                                          \
  X(std::string, run, out_dir, "runs/default", "directory for checkpoints, metrics and plots")            \
  X(int64_t, run, seed, 0, "seed of everything random (data, noise, init)")                               \
  X(std::string, run, device, "auto", "auto, cpu or cuda")                                                \
  X(int64_t, run, threads, 0, "CPU threads for libtorch (0 = all cores)")                                 \
  X(std::string, model, config, "data/configs/base.json", "config.json of a new model (ae: an AutoencoderKL config)") \
  X(std::string, model, autoencoder, "", "trained autoencoder folder of a new latent-space model (from ae)")  \
  X(std::string, model, init, "", "checkpoint directory to start from (sft: optional; rl: the base)")     \
  X(std::string, data, source, "generator", "generator (libcocodata, endless) or dataset (a directory)")   \
  X(std::string, data, assets, "", "asset directory of the generator (empty: default cache)")             \
  X(std::string, data, path, "", "dataset directory or index file when data.source is dataset")           \
  X(std::string, data, format, "auto", "dataset format: auto, manifest, cocoedit40k, masked-bench")       \
  X(bool, data, skip_bad, true, "leave out bad dataset records instead of failing")                       \
  X(int64_t, data, size, 256, "image side the generator makes / datasets are resized to")                 \
  X(std::string, data, split, "train", "generator split: train or bench")                                \
  X(StringList, data, edit_types, {}, "generator edit types (empty: all); \"recolor:3\": drawn 3× as often")                                \
  X(StringList, data, langs, {}, "generator languages (empty: all)")                                      \
  X(int64_t, data, workers, 2, "threads that make samples")                                                \
  X(int64_t, data, pool, 0, "generator: draw from this many samples, reshuffled every epoch (0: every one new)") \
  X(bool, data, cache_latents, true, "sft of a latent model on finite data: encode each picture once")       \
  X(int64_t, optim, steps, 1000, "optimizer steps of the run")                                             \
  X(int64_t, optim, batch_size, 8, "sft: samples per step and rank")                                       \
  X(double, optim, lr, 1e-4, "AdamW learning rate (rl with LoRA: 3e-4)")                                  \
  X(double, optim, beta1, 0.9, "AdamW beta1")                                                              \
  X(double, optim, beta2, 0.999, "AdamW beta2")                                                            \
  X(double, optim, weight_decay, 1e-4, "AdamW weight decay")                                               \
  X(int64_t, optim, warmup, 100, "linear learning-rate warm-up steps")                                     \
  X(double, optim, grad_clip, 1.0, "gradient norm clip")                                                   \
  X(bool, optim, bf16, true, "bf16 autocast on CUDA (ignored on CPU)")                                     \
  X(std::string, optim, recompute, "auto", "gradient checkpointing of the blocks: auto (on CUDA), on, off")   \
  X(int64_t, ae, crop, 128, "ae: side of the random square cropped from each picture")                   \
  X(double, ae, kl_weight, 1e-6, "ae: weight of the KL term (per latent value) beside the L1 loss")       \
  X(double, sft, ema, 0.999, "EMA decay of the weights the sft checkpoint ships")                          \
  X(double, sft, edit_weight, 0.0, "loss weight 1 + edit_weight·mask: spend the loss where the edit is")   \
  X(double, sft, text_dropout, 0.1, "probability of an empty instruction (for CFG)")                       \
  X(double, sft, t_mean, 0.0, "logit-normal time sampling: mean")                                          \
  X(double, sft, t_std, 1.0, "logit-normal time sampling: std")                                            \
  X(std::string, rl, loss, "nft", "policy loss: nft (DiffusionNFT) or grpo (Flow-GRPO)")                  \
  X(int64_t, rl, prompts, 24, "prompts per step (P)")                                                      \
  X(int64_t, rl, group, 12, "rollouts per prompt (G)")                                                     \
  X(int64_t, rl, micro_batch, 8, "samples per forward in the loss")                                         \
  X(int64_t, rl, rollout_steps, 10, "solver steps of a rollout")                                           \
  X(std::string, rl, rollout_solver, "dpm2", "nft rollouts: dpm2 (DPM-Solver++(2M), the authors') or euler") \
  X(double, rl, rollout_sigma_min, 0.1, "last sigma of the rollout grid (then a one-step x0 estimate)")    \
  X(double, rl, rollout_guidance, 1.0, "CFG scale of rollouts (1 = none)")                                 \
  X(int64_t, rl, train_timesteps, 9, "timesteps per sample in the loss (of rollout_steps)")               \
  X(double, rl, beta, 1.0, "NFT beta")                                                                      \
  X(double, rl, loss_scale, 5.0, "NFT loss multiplier")                                                     \
  X(double, rl, adv_clip, 5.0, "advantage clip")                                                            \
  X(double, rl, group_std_min, 0.02, "a group is valid only if its reward std exceeds this")               \
  X(double, rl, group_mean_max, 0.9, "... and its mean is below this")                                     \
  X(bool, rl, ban_saturated, true, "ban prompts whose group is saturated (std < min, mean > max)")          \
  X(double, rl, kl_weight, 1e-4, "weight of mean((v_theta - v_ref)^2)")                                    \
  X(double, rl, eta_rate, 0.001, "old policy EMA: eta = min(eta_rate * step, eta_max)")                    \
  X(double, rl, eta_max, 0.5, "old policy EMA: cap of eta")                                                \
  X(bool, rl, regularizer, true, "CoCoEdit's region regularizer on/off")                                   \
  X(double, rl, lambda_pos, 0.02, "lambda+ of L_ner+ (keep the non-edit region for high reward)")          \
  X(double, rl, lambda_neg, 0.02, "lambda- of L_er- (move the edit region for low reward)")                \
  X(double, rl, tau_pos, 1e-3, "L_ner+ = ReLU(d+ - tau_pos)")                                              \
  X(double, rl, tau_neg, 3e-2, "L_er- = ReLU(tau_neg - d-)")                                               \
  X(int64_t, rl, erode_radius, 2, "mask erosion radius on the patch grid")                                 \
  X(double, rl, ring_weight, 0.2, "weight of the boundary ring in W+ and W-")                              \
  X(double, rl, grpo_clip, 1e-4, "Flow-GRPO ratio clip")                                                    \
  X(double, rl, grpo_noise, 0.7, "Flow-GRPO SDE noise level a")                                             \
  X(double, rl, grpo_kl, 0.0, "Flow-GRPO KL weight on the step means")                                     \
  X(int64_t, lora, rank, 0, "LoRA rank (0 = full fine-tuning)")                                            \
  X(double, lora, alpha, 64.0, "LoRA alpha")                                                                \
  X(StringList, lora, targets, cocoedit::kCocoeditLoraTargets, "modules adapted (PEFT target_modules, diffusers names)") \
  X(std::string, reward, edit, "reference", "editing reward: reference (vs target), mllm, or none")        \
  X(double, reward, w_edit, 0.9, "weight of the editing reward")                                           \
  X(double, reward, w_pixel, 0.1, "weight of the pixel similarity reward on the non-edit region")          \
  X(double, reward, pixel_w_ssim, 0.35, "R_pix = w_ssim * SSIM_ne + w_psnr * clamp(PSNR_ne / max)")        \
  X(double, reward, pixel_w_psnr, 0.65, "see pixel_w_ssim")                                                 \
  X(double, reward, pixel_psnr_max, 40.0, "PSNR (dB) that counts as a perfect score")                      \
  X(std::string, reward, mllm_url, "http://127.0.0.1:8000/v1", "OpenAI-compatible server")                \
  X(std::string, reward, mllm_model, "", "model name to ask for")                                          \
  X(bool, reward, mllm_logprobs, false, "score by first-token probabilities (Edit-R1)")                    \
  X(int64_t, reward, mllm_concurrency, 8, "requests in flight")                                            \
  X(double, reward, mllm_timeout, 60.0, "seconds per request")                                             \
  X(int64_t, log, every, 10, "steps between metric lines")                                                 \
  X(int64_t, log, plot_every, 100, "steps between plot updates")                                           \
  X(int64_t, log, samples_every, 100, "steps between sample grids")                                        \
  X(int64_t, log, checkpoint_every, 100, "steps between checkpoints")                                      \
  X(int64_t, log, max_nonfinite, 5, "stop after this many non-finite steps in a row")

// rl.loss, parsed once.
enum class PolicyLoss { kNft, kGrpo };

struct TrainConfig {
#define COCOEDIT_DECLARE_FIELD(type, section, name, def, help) type section##_##name = def;
  COCOEDIT_TRAIN_FIELDS(COCOEDIT_DECLARE_FIELD)
#undef COCOEDIT_DECLARE_FIELD
  PolicyLoss rl_policy = PolicyLoss::kNft;  // from rl_loss, set when a config is read

  // Throws cocoedit::Error naming the key for bad values.
  void validate() const;
};

// Reads `path` (empty: all defaults) and applies `overrides` ("rl.beta=0.5";
// the value is JSON when it parses as JSON, else a string).
TrainConfig load_train_config(const std::string &path, const std::vector<std::string> &overrides);
TrainConfig train_config_from_json(const std::string &text, const std::string &origin);
std::string train_config_to_json(const TrainConfig &config);
// A setting's value as the config file spells it (for messages and docs).
std::string show(const std::string &v);
std::string show(int64_t v);
std::string show(double v);
std::string show(bool v);
std::string show(const StringList &v);
// Markdown table of every key, its default and help (docs/training.md).
std::string train_config_reference();

}  // namespace cocoedit::train
