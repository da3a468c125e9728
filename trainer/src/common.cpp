// common.cpp — see common.h.
#include "common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include <cstdio>

#include "checkpoint.h"
#include "error.h"

namespace cocoedit::train {

at::Device pick_device(const std::string &name) {
  const bool cuda = torch::cuda::is_available();
  if (name == "cpu") return at::kCPU;
  if (name == "cuda" && !cuda) fail(COCOEDIT_ERR_DEVICE, "run.device is cuda, but libtorch sees no usable GPU");
  if (cuda) {
    const char *lr = std::getenv("LOCAL_RANK");
    return at::Device(at::kCUDA, lr ? static_cast<c10::DeviceIndex>(std::atoi(lr)) : 0);
  }
  return at::kCPU;
}

uint64_t derive_seed(uint64_t seed, uint64_t step, uint64_t rank, uint64_t purpose) {
  uint64_t x = seed;
  for (uint64_t part : {step, rank, purpose}) {
    x += 0x9E3779B97F4A7C15ull + part;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
  }
  return x;
}

at::Tensor step_normal(const TrainConfig &c, int64_t step, int rank, uint64_t purpose, at::IntArrayRef shape,
                       const at::Device &device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(c.run_seed, step, rank, purpose));
  return at::normal(0.0, 1.0, shape, gen).to(device);
}

at::Tensor step_uniform(const TrainConfig &c, int64_t step, int rank, uint64_t purpose, at::IntArrayRef shape) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(c.run_seed, step, rank, purpose));
  return at::rand(shape, gen);
}

EditModel initial_model(const TrainConfig &c, const at::Device &device) {
  EditModel m = c.model_init.empty() ? create_model(config_from_file(c.model_config), c.run_seed, device)
                                     : load_model(c.model_init, device);
  if (c.model_init.empty() && m->config.latent()) {
    if (c.model_autoencoder.empty())
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, c.model_config + " is a latent-space model: set model.autoencoder to the "
                                          "folder of its trained autoencoder (cocoedit-train ae)");
    attach_autoencoder(*m, c.model_autoencoder, device);
  }
  m->train();
  m->recompute_blocks = c.optim_recompute == "on" || (c.optim_recompute == "auto" && device.is_cuda());
  return m;
}

bool use_autocast(const TrainConfig &c, const at::Device &device) { return device.is_cuda() && c.optim_bf16; }

EditModel frozen_copy(EditModelImpl &model, const at::Device &device) {
  EditModel copy(model.config);
  copy->codec = model.codec;
  copy->to(device);
  torch::NoGradGuard no_grad;
  auto src = model.named_parameters();
  for (auto &item : copy->named_parameters()) {
    item.value().copy_(src[item.key()]);
    item.value().set_requires_grad(false);
  }
  copy->eval();
  return copy;
}

torch::optim::AdamW make_optimizer(const TrainConfig &c, const std::vector<at::Tensor> &params) {
  torch::optim::AdamWOptions o(c.optim_lr);
  o.betas({c.optim_beta1, c.optim_beta2});
  o.weight_decay(c.optim_weight_decay);
  return torch::optim::AdamW(params, o);
}

double learning_rate(const TrainConfig &c, int64_t step) {
  if (c.optim_warmup == 0 || step >= c.optim_warmup) return c.optim_lr;
  return c.optim_lr * static_cast<double>(step + 1) / static_cast<double>(c.optim_warmup);
}

void set_learning_rate(torch::optim::AdamW &opt, double lr) {
  for (auto &group : opt.param_groups()) static_cast<torch::optim::AdamWOptions &>(group.options()).lr(lr);
}

void ema_update(const std::vector<at::Tensor> &dst, const std::vector<at::Tensor> &src, double decay) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < dst.size(); i++) dst[i].mul_(decay).add_(src[i].detach(), 1.0 - decay);
}

bool gradients_finite(const std::vector<at::Tensor> &params) {
  for (const auto &p : params)
    if (p.grad().defined() && !at::isfinite(p.grad()).all().item<bool>()) return false;
  return true;
}

std::string weights_fingerprint(const std::vector<at::Tensor> &params) {
  double sum = 0, sumsq = 0;
  for (const auto &p : params) {
    auto d = p.detach().to(at::kCPU, at::kDouble);
    sum += d.sum().item<double>();
    sumsq += d.pow(2).sum().item<double>();
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "sum=%.17g sumsq=%.17g", sum, sumsq);
  return buf;
}

void say(int rank, const std::string &message) {
  if (rank == 0) std::fprintf(stderr, "cocoedit-train: %s\n", message.c_str());
  else std::fprintf(stderr, "cocoedit-train[rank %d]: %s\n", rank, message.c_str());
}

}  // namespace cocoedit::train
