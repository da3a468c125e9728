// golden-flux-params.h — the FluxParams of tests/golden/flux (its README),
// shared by the transformer's golden test and the LoRA test.
#pragma once

#include "flux/flux_transformer.h"

inline cocoedit::flux::FluxParams golden_params() {
  cocoedit::flux::FluxParams p;
  p.in_channels = 64;
  p.out_channels = 64;
  p.vec_in_dim = 32;
  p.context_in_dim = 48;
  p.hidden_size = 64;
  p.mlp_ratio = 4.0;
  p.num_heads = 2;
  p.depth = 2;
  p.depth_single_blocks = 2;
  p.axes_dim = {8, 12, 12};
  p.theta = 10000;
  p.qkv_bias = true;
  p.guidance_embed = true;
  return p;
}
