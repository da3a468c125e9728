// recompute.cpp — see recompute.h.
#include "recompute.h"

#include <torch/autograd.h>
#include <torch/custom_class.h>

#include "autocast.h"

namespace cocoedit {

namespace {

// The segment and the autocast state it ran under, kept in the autograd context.
struct SegmentState : torch::CustomClassHolder {
  Segment segment;
  at::DeviceType device_type = at::kCPU;
  bool autocast = false;
  at::ScalarType autocast_dtype = at::kBFloat16;
};

struct RecomputeFunction : torch::autograd::Function<RecomputeFunction> {
  // Runs with autograd off (Function::apply sees to it): nothing inside is kept.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext *ctx,
                                                at::TensorList inputs, const at::Tensor & /*anchor*/,
                                                c10::intrusive_ptr<SegmentState> state) {
    ctx->save_for_backward(inputs.vec());
    auto outputs = state->segment(inputs.vec());
    ctx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    return outputs;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto holder = ctx->saved_data["state"].toCapsule();
    const auto &state = *static_cast<SegmentState *>(holder.get());
    std::vector<at::Tensor> inputs;
    for (const auto &saved : ctx->get_saved_variables())
      inputs.push_back(saved.detach().requires_grad_(saved.requires_grad()));

    std::vector<at::Tensor> outputs;
    {
      at::AutoGradMode grad(true);
      AutocastScope autocast(state.device_type, state.autocast, state.autocast_dtype);
      outputs = state.segment(inputs);
    }
    // Back-propagate through the recomputed copy: the segment's parameters
    // accumulate their gradients; the inputs' gradients are returned.
    std::vector<at::Tensor> outs, grads;
    for (size_t i = 0; i < outputs.size(); i++) {
      if (!outputs[i].requires_grad() || !grad_outputs[i].defined()) continue;
      outs.push_back(outputs[i]);
      grads.push_back(grad_outputs[i]);
    }
    // retain_graph: a LoRA-merged weight's own graph (outside the segment)
    // must survive for the next use of that weight in the same backward.
    if (!outs.empty()) torch::autograd::backward(outs, grads, /*retain_graph=*/true);

    torch::autograd::variable_list input_grads;
    for (auto &x : inputs) input_grads.push_back(x.requires_grad() ? x.grad() : at::Tensor());
    input_grads.push_back(at::Tensor());  // the anchor
    input_grads.push_back(at::Tensor());  // the state
    return input_grads;
  }
};

}  // namespace

std::vector<at::Tensor> recompute_in_backward(const Segment &segment, const std::vector<at::Tensor> &inputs) {
  if (!at::GradMode::is_enabled()) return segment(inputs);
  auto state = c10::make_intrusive<SegmentState>();
  state->segment = segment;
  state->device_type = inputs.empty() ? at::kCPU : inputs.front().device().type();
  state->autocast = at::autocast::is_autocast_enabled(state->device_type);
  state->autocast_dtype = at::autocast::get_autocast_dtype(state->device_type);
  // The segment's parameters are not inputs of the node, so when no input
  // needs a gradient (a frozen base under LoRA) autograd would drop the node
  // and the parameters with it: an anchor that needs one keeps it.
  const auto options = inputs.empty() ? at::TensorOptions() : inputs.front().options();
  const at::Tensor anchor = at::empty({0}, options).requires_grad_(true);
  // A TensorList (not a vector) makes each input a node of the graph.
  return RecomputeFunction::apply(at::TensorList(inputs), anchor, state);
}

}  // namespace cocoedit
