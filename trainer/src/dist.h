// dist.h — data-parallel training with PyTorch's c10d: Gloo on CPU, NCCL on
// CUDA, configured by the usual RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// LOCAL_RANK environment.  With WORLD_SIZE unset or 1 every call is a no-op.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <vector>

namespace cocoedit::train {

class Dist {
 public:
  // Reads the environment; connects to the other ranks when WORLD_SIZE > 1.
  explicit Dist(const at::Device &device);
  ~Dist();
  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }
  bool main() const { return rank_ == 0; }

  // Sums `t` over ranks in place.
  void all_reduce_sum(at::Tensor &t);
  // Averages the gradients of `params` over ranks.
  void average_gradients(const std::vector<at::Tensor> &params);
  // Copies rank 0's values into every rank's `params`.
  void broadcast(const std::vector<at::Tensor> &params);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_ = 1, local_rank_ = 0;
};

}  // namespace cocoedit::train
