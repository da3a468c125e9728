// stages.h — the subcommands of cocoedit-train.
#pragma once

#include <string>
#include <vector>

#include "train-config.h"

namespace cocoedit::train {

// Trains the image autoencoder of a latent-space model.
void run_ae(const TrainConfig &config, bool resume);

// Supervised flow-matching training from (source, instruction, target).
void run_sft(const TrainConfig &config, bool resume);

// CoCoEdit region-regularized RL (or Flow-GRPO with rl.loss = grpo).
void run_rl(const TrainConfig &config, bool resume);

struct EvalOptions {
  std::string checkpoint;  // model directory
  std::string compare;     // optional second model directory
  std::string out_dir;
  int64_t count = 70;      // cases (a multiple of edit types × languages keeps it balanced)
  int steps = 0;           // 0 = the model's default
  double guidance = -1;    // < 0 = the model's default
  double strength = 1.0;   // < 1 starts from the noised source, as the engine's strength
  double success_psnr = 20.0, success_ssim = 0.5;
};
void run_eval(const TrainConfig &config, const EvalOptions &options);

}  // namespace cocoedit::train
