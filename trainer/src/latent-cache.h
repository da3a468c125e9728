// latent-cache.h — the autoencoder latents of a finite training set,
// computed once.
//
// A latent model's sft spends most of a CPU step encoding the batch's
// sources and targets (256 px, batch 16: ~10 of ~14 s on 2 cores) with a
// frozen autoencoder, so the same picture always gives the same latents.
// On a finite set (a dataset, or the generator with data.pool) each record
// is encoded the first time it is drawn and kept, keyed by its record
// number; later epochs only run the model.
//
// Entries are written to `<out_dir>/latent-cache/rank-R-NNNNNNNN.safetensors`
// (the entries added since the last write, float32, atomically) just before
// a checkpoint is written, and read back by a run resumed at step N from the
// files of steps ≤ N: it holds what the uninterrupted run held at step N, so
// `--resume` gives the same numbers.  Each file records the
// autoencoder's weight fingerprint and the picture size; files made with
// another autoencoder or size are left unread (with a message).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>

#include "image_codec.h"
#include "samples.h"
#include "train-config.h"

namespace cocoedit::train {

// Fails (naming the settings) when the settings that decide which picture
// each record number is differ between the config a checkpoint was written
// with (`checkpoint`/train-config.json) and `c`: the cache would hand the
// resumed run the latents of other pictures.
void require_same_pictures(const std::string &checkpoint, const TrainConfig &c);

class LatentCache {
 public:
  // `dir` empty: memory only.  Reads the files of `rank` up to `step` already in `dir`.
  LatentCache(const ImageCodec &codec, int64_t size, const std::string &dir, int rank, int64_t step);

  // (encode(2·target − 1), encode(2·source − 1)) of the batch, encoding
  // only the rows not cached yet (in one call) and keeping them.
  std::pair<at::Tensor, at::Tensor> encode(const Batch &b);

  // Writes the entries added since the last call (no file when none).
  void save(int64_t step);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    at::Tensor target, source;  // (C, h, w) float32 CPU
  };
  const ImageCodec &codec_;
  std::string dir_, identity_;
  int rank_;
  std::map<uint64_t, Entry> entries_;
  std::map<uint64_t, Entry> unsaved_;
};

}  // namespace cocoedit::train
