// samples.h — training samples as tensors, from libcocodata's generator
// (endless, made in parallel, or a pool of data.pool samples) or from a
// dataset on disk.  A finite set (dataset or pool) is drawn in a fresh
// seeded order every epoch.
//
// Sample k of rank r is global sample k·world + r, so ranks never share a
// sample and a run resumed at data position k sees exactly what an
// uninterrupted run would have.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "train-config.h"

namespace cocoedit::train {

struct Sample {
  at::Tensor source;  // (3, S, S) float in [0, 1]
  at::Tensor target;  // like source; undefined when the data has none
  at::Tensor mask;    // (1, S, S) in [0, 1], 1 = edit region
  std::string prompt, id, edit_type, lang;
  uint64_t key = 0;  // the dataset record or generator sample it is: equal keys, equal pictures
};

class SampleSource {
 public:
  SampleSource(const TrainConfig &config, int rank, int world);
  ~SampleSource();
  SampleSource(const SampleSource &) = delete;
  SampleSource &operator=(const SampleSource &) = delete;

  // Samples first, first + 1, ..., first + n − 1 of this rank's stream.
  std::vector<Sample> get(uint64_t first, int n);
  // Number of records of a dataset or the generator's pool; 0 for the endless generator.
  size_t size() const;
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Stacks samples into a batch: (N, 3, S, S) sources, targets, (N, 1, S, S) masks.
struct Batch {
  at::Tensor source, target, mask;
  std::vector<std::string> prompts, ids, edit_types, langs;
  std::vector<uint64_t> keys;
};
Batch stack(const std::vector<Sample> &samples, const at::Device &device);
// The instructions of samples [i, i + n) of a batch.
std::vector<std::string> prompts_of(const Batch &b, int64_t i, int64_t n);

}  // namespace cocoedit::train
