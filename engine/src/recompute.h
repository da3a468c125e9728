// recompute.h — activation checkpointing ("gradient checkpointing") for the
// trainer: a segment of the model runs without keeping its activations, and
// backward runs it again to get them.  Memory of the transformer's blocks
// drops from O(depth) activations to O(1) for about one extra forward.
//
// libtorch's C++ API has no torch.utils.checkpoint, so this is the
// reentrant variant written as a custom autograd function: forward runs the
// segment with autograd off; backward re-runs it with autograd on (under
// the autocast state of the forward) and back-propagates through the copy,
// which accumulates the gradients of the segment's parameters in place.
// Segments must be deterministic (the model has no dropout).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace cocoedit {

using Segment = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor> &)>;

// Returns segment(inputs), keeping only `inputs` for backward.  Tensors the
// segment needs without gradients (positions, masks) belong in its capture,
// not in `inputs`.  When autograd is off this is a plain call.
std::vector<at::Tensor> recompute_in_backward(const Segment &segment, const std::vector<at::Tensor> &inputs);

}  // namespace cocoedit
