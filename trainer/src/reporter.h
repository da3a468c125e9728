// reporter.h — what a run tells its user: metrics.jsonl, a progress line,
// PNG plots of the curves and grids of samples, all under run.out_dir
// (drawn by trainer/report, in C with cairo).  Only rank 0 reports.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "train-config.h"

namespace cocoedit::train {

class Reporter {
 public:
  // `resume_step` > 0 truncates metrics.jsonl to the steps before it.
  Reporter(const TrainConfig &config, bool main, const std::string &stage, int64_t total_steps, int64_t resume_step);
  ~Reporter();

  // One line of metrics for `step` (1-based steps done); redraws the plots
  // every log.plot_every steps.
  void log(int64_t step, const std::map<std::string, double> &metrics);
  // A grid PNG, one row per sample: images (3, H, W) in [0, 1] or masks
  // (1, H, W), with column titles and a label per row.
  void grid(const std::string &name, const std::vector<std::vector<at::Tensor>> &rows,
            const std::vector<std::string> &columns, const std::vector<std::string> &row_labels);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cocoedit::train
