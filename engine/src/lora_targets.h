// lora_targets.h — the CoCoEdit authors' LoRA targets for FLUX.1 Kontext
// (diffusers module names; see lora.h): q/k/v/out of both streams of the
// double blocks, and q/k/v (the first rows of linear1) of the single
// blocks.  A header of its own so that configs can default to it without
// the model's headers.
#pragma once

#include <string>
#include <vector>

namespace cocoedit {

extern const std::vector<std::string> kCocoeditLoraTargets;

}  // namespace cocoedit
