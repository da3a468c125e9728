// common.h — what every stage of the trainer shares: devices, seeded
// randomness, the model to start from, the optimizer and its schedule.
#pragma once

#include <torch/optim/adamw.h>

#include <string>
#include <vector>

#include "model.h"
#include "train-config.h"

namespace cocoedit::train {

at::Device pick_device(const std::string &name);

// A seed for one purpose of one step of one rank (splitmix64 of the parts),
// so a resumed run draws exactly the numbers an uninterrupted one would.
uint64_t derive_seed(uint64_t seed, uint64_t step, uint64_t rank, uint64_t purpose);
at::Tensor step_normal(const TrainConfig &c, int64_t step, int rank, uint64_t purpose, at::IntArrayRef shape,
                       const at::Device &device);
at::Tensor step_uniform(const TrainConfig &c, int64_t step, int rank, uint64_t purpose, at::IntArrayRef shape);

// The model a stage starts from: model.init when set, else a new seeded
// random model of model.config.  In training mode on `device`, recomputing
// its blocks in backward as optim.recompute says.
EditModel initial_model(const TrainConfig &c, const at::Device &device);
// Whether the trained model's forward runs under bf16 autocast (optim.bf16, CUDA only).
bool use_autocast(const TrainConfig &c, const at::Device &device);
// An independent copy (same config and weights), frozen.
EditModel frozen_copy(EditModelImpl &model, const at::Device &device);

torch::optim::AdamW make_optimizer(const TrainConfig &c, const std::vector<at::Tensor> &params);
// Linear warm-up to optim.lr over optim.warmup steps, then constant.
double learning_rate(const TrainConfig &c, int64_t step);
void set_learning_rate(torch::optim::AdamW &opt, double lr);

// dst ← decay·dst + (1 − decay)·src, tensor by tensor.
void ema_update(const std::vector<at::Tensor> &dst, const std::vector<at::Tensor> &src, double decay);

// True when every gradient is finite (a NaN/Inf step is skipped).
bool gradients_finite(const std::vector<at::Tensor> &params);

// "sum=… sumsq=…" of all values in float64: equal strings on two ranks mean
// (up to summation order, which is the same) equal weights.
std::string weights_fingerprint(const std::vector<at::Tensor> &params);

// Prints to stderr with the rank in front (ranks > 0 only for warnings).
void say(int rank, const std::string &message);

}  // namespace cocoedit::train
