// cocoedit_pipeline.h — the project's own model family (config.json with
// architecture "cocoedit-kontext"): a pixel-space in-context editing
// transformer with its byte-level text encoder (model.h), sampled by
// sampler.h.  The trainer writes these models; the engine edits with them.
#pragma once

#include <memory>
#include <string>

#include "model.h"
#include "pipeline.h"

namespace cocoedit {

class CocoeditPipeline : public Pipeline {
 public:
  CocoeditPipeline(EditModel net, const at::Device &device);
  const PipelineInfo &info() const override { return info_; }
  const at::Device &device() const override { return device_; }
  at::Tensor edit(const at::Tensor &source, const at::Tensor &mask, const EditRequest &req) override;
  EditModelImpl *cocoedit_model() override { return net_.get(); }

 private:
  EditModel net_;
  at::Device device_;
  PipelineInfo info_;
};

// The pipeline of the model directory `dir` (config.json + weights).
std::unique_ptr<Pipeline> open_cocoedit_pipeline(const std::string &dir, const at::Device &device);

}  // namespace cocoedit
