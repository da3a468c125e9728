// run-state.h — training checkpoints that a killed run resumes from.
//
// <out_dir>/checkpoint/ holds: state.json (step, data position, banned
// prompts, ...), train-config.json (the resolved config), one model
// directory per network ("model", "ema", "old": config.json + safetensors,
// loadable by the engine), lora.safetensors / lora-old.safetensors when
// training LoRA, an autoencoder folder ("ae", diffusers layout) when training
// one, and optimizer.pt (the AdamW state, by torch::save).
//
// A checkpoint is written into checkpoint.new/ and swapped in by renames, so
// a crash or a full disk while saving leaves the previous one intact.  All
// randomness of a step is derived from (seed, step, rank), so step, data
// position, weights and optimizer state are all a resume needs.
#pragma once

#include <torch/optim/adamw.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lora.h"
#include "model.h"
#include "train-config.h"

namespace cocoedit::train {

struct RunState {
  int64_t step = 0;          // optimizer steps done
  uint64_t data_pos = 0;     // next sample of this rank's stream
  int64_t nonfinite_in_row = 0;
  std::vector<std::string> banned;  // RL: prompt ids of saturated groups
};

struct CheckpointParts {
  std::map<std::string, EditModelImpl *> models;  // name → model
  std::map<std::string, Lora *> loras;            // file stem → adapters
  torch::optim::Optimizer *optimizer = nullptr;
  std::map<std::string, FluxAutoencoder *> autoencoders;  // name → diffusers folder
};

// Writes the checkpoint; `keep_extra` may write more files into the new
// directory before it is swapped in.
void save_checkpoint(const std::string &out_dir, const TrainConfig &config, const RunState &state,
                     const CheckpointParts &parts);

// The checkpoint directory to resume from ("" when there is none).
std::string find_checkpoint(const std::string &out_dir);

// Reads the state and loads every part's weights from `dir`.
RunState load_checkpoint(const std::string &dir, const CheckpointParts &parts);

class Dist;

// Whether `state.step` is a checkpoint step: every log.checkpoint_every and the last.
bool checkpoint_due(const TrainConfig &config, const RunState &state);
// Saves on rank 0 when checkpoint_due, then waits for every rank.
void checkpoint_if_due(const TrainConfig &config, const RunState &state, const CheckpointParts &parts, Dist &dist);

// A step whose `what` (loss, gradient, reward) was not finite: it is skipped
// (counted as done, no update) and logged; log.max_nonfinite in a row throw.
void skip_nonfinite_step(RunState &state, const TrainConfig &config, int rank, const std::string &what);

}  // namespace cocoedit::train
