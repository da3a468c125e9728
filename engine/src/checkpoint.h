// checkpoint.h — a model directory (config.json + safetensors weights) to a
// ready model and back.  The C API, the trainer and the tests all go
// through these, so a checkpoint the trainer writes is one the engine reads.
#pragma once

#include <string>

#include "model.h"

namespace cocoedit {

// Reads `<dir>/config.json` and the weights (validated against the config's
// parameter shapes) into a model on `device`, in eval mode.  Checkpoints of
// format_version 1 (before the transformer became flux::Flux) load too.
EditModel load_model(const std::string &dir, const at::Device &device);

// Fills `model`'s parameters from the weights in `dir` (shapes checked).
// `legacy_names`: the file is of format_version 1 (legacy_parameter_name).
void load_model_weights(EditModelImpl &model, const std::string &dir, bool legacy_names = false);

// Loads the diffusers AutoencoderKL folder `ae_dir` as `model`'s image codec
// on `device`; its latent channels must be the config's in_channels and the
// working size a multiple of its tokens (COCOEDIT_ERR_FORMAT naming both).
void attach_autoencoder(EditModelImpl &model, const std::string &ae_dir, const at::Device &device);

// A model with seeded random weights (the same seed gives the same weights).
EditModel create_model(const ModelConfig &config, uint64_t seed, const at::Device &device);

// Writes config.json and the weights in the config's dtype, sharded when
// `max_shard_bytes` is not 0, and a latent model's autoencoder into its
// subfolder; every file atomically, config.json last.
void save_model(EditModelImpl &model, const std::string &dir, size_t max_shard_bytes);

}  // namespace cocoedit
