// kontext_pipeline.h — the FLUX.1 Kontext [dev] family: tokenizers (CLIP
// BPE, T5 SentencePiece), text encoders (CLIP-L, T5-XXL), the FLUX
// transformer and autoencoder, wired as BFL's reference runs them
// (flux/src/flux/cli_kontext.py and sampling.py).
#pragma once

#include <memory>
#include <string>

#include "pipeline.h"

namespace cocoedit {

// Opens a diffusers FLUX.1-Kontext-dev folder (model_index.json and its
// component folders).  Every missing component is named in the error.
// `dtype`: what the transformer and text encoders compute in (Undefined: the
// transformer's stored dtype, bf16 for the real files); the autoencoder
// always encodes in float32, as the reference does.
std::unique_ptr<Pipeline> open_kontext_pipeline(const std::string &path, const at::Device &device,
                                                at::ScalarType dtype = at::ScalarType::Undefined);

}  // namespace cocoedit
