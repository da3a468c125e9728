// kontext_pipeline.h — the FLUX.1 Kontext [dev] family: tokenizers (CLIP
// BPE, T5 SentencePiece), text encoders (CLIP-L, T5-XXL), the FLUX
// transformer and autoencoder, wired as BFL's reference runs them
// (flux/src/flux/cli_kontext.py and sampling.py).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kontext_files.h"
#include "pipeline.h"

namespace cocoedit {

// Opens the model whose files `files` names (kontext_files.h).  `dtype`:
// what the transformer and text encoders compute in (Undefined: the
// transformer's stored dtype, bf16 for the real files); the autoencoder
// always encodes in float32, as the reference does.  `loras` are merged
// into the transformer's weights, in order, before it is built.
std::unique_ptr<Pipeline> open_kontext_pipeline(const KontextFiles &files, const at::Device &device,
                                                at::ScalarType dtype = at::ScalarType::Undefined,
                                                const std::vector<LoraFile> &loras = {},
                                                const StageFn &on_stage = {});

}  // namespace cocoedit
