// dist.cpp — see dist.h.
#include "dist.h"

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef COCOEDIT_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <string>

#include "error.h"

namespace cocoedit::train {

namespace {

int env_int(const char *name, int fallback) {
  const char *v = std::getenv(name);
  if (!v || !*v) return fallback;
  char *end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0 || n > 1 << 20)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, std::string(name) + "=\"" + v + "\" is not a non-negative integer");
  return static_cast<int>(n);
}

}  // namespace

struct Dist::Impl {
  c10::intrusive_ptr<c10d::Backend> pg;
};

Dist::Dist(const at::Device &device) : impl_(std::make_unique<Impl>()) {
  world_ = env_int("WORLD_SIZE", 1);
  rank_ = env_int("RANK", 0);
  local_rank_ = env_int("LOCAL_RANK", rank_);
  if (world_ <= 1) return;
  if (rank_ >= world_) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "RANK must be below WORLD_SIZE");
  const char *addr = std::getenv("MASTER_ADDR");
  const int port = env_int("MASTER_PORT", 29500);
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(port);
  opts.isServer = rank_ == 0;
  opts.numWorkers = world_;
  opts.timeout = std::chrono::seconds(300);
  opts.useLibUV = false;  // Debian's libtorch is built without libuv
  auto store = c10::make_intrusive<c10d::TCPStore>(addr && *addr ? addr : "127.0.0.1", opts);
  if (device.is_cuda()) {
#ifdef COCOEDIT_HAVE_NCCL
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank_, world_);
    return;
#else
    fail(COCOEDIT_ERR_DEVICE, "this build has no NCCL: run distributed training on the CPU (Gloo)");
#endif
  }
  auto gloo = c10d::ProcessGroupGloo::Options::create();
  gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank_, world_, gloo);
}

Dist::~Dist() = default;

void Dist::all_reduce_sum(at::Tensor &t) {
  if (world_ <= 1) return;
  std::vector<at::Tensor> ts = {t};
  impl_->pg->allreduce(ts)->wait();
}

void Dist::average_gradients(const std::vector<at::Tensor> &params) {
  if (world_ <= 1) return;
  // One flat buffer: one collective per step instead of one per tensor.
  std::vector<at::Tensor> grads;
  for (const auto &p : params)
    grads.push_back(p.grad().defined() ? p.grad().flatten() : at::zeros({p.numel()}, p.options()));
  auto flat = at::cat(grads);
  all_reduce_sum(flat);
  flat.div_(world_);
  int64_t off = 0;
  for (const auto &p : params) {
    const int64_t n = p.numel();
    if (p.grad().defined()) p.grad().copy_(flat.narrow(0, off, n).view_as(p));
    else p.mutable_grad() = flat.narrow(0, off, n).view_as(p).clone();
    off += n;
  }
}

void Dist::broadcast(const std::vector<at::Tensor> &params) {
  if (world_ <= 1) return;
  at::NoGradGuard no_grad;
  for (const auto &p : params) {
    std::vector<at::Tensor> ts = {p.data()};
    impl_->pg->broadcast(ts)->wait();
  }
}

void Dist::barrier() {
  if (world_ <= 1) return;
  impl_->pg->barrier()->wait();
}

}  // namespace cocoedit::train
