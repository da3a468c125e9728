// memory.h — what a model and one edit need on a device, known before any
// weight is loaded, so that the engine never loads more than the device
// holds and the user sees the need (cocoedit info, the plug-in).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace cocoedit {

struct MemoryNeed {
  int64_t weights = 0;     // bytes of weights as they run (after any dtype change)
  int64_t text_weights = 0;  // of which the text encoders' (a part that may
                             // stay in host RAM, see place_text_encoders)
  int64_t edit = 0;        // peak bytes of one edit's activations at edit_long_side
  int edit_long_side = 0;  // the working size the edit figure is for (px)
};

// Bytes free on `device` now (CPU: MemAvailable of /proc/meminfo; CUDA: the
// driver's free figure); -1 when it cannot be told.
int64_t free_memory(const at::Device &device);

// Where the text encoders go when a model runs on `device`.  They run once
// per prompt and hand over a few kilobytes of features, so when the whole
// model does not fit a GPU they can stay in host RAM at little cost:
//   - all of `need` fits the device (or the device is the CPU): with the rest;
//   - else the rest fits the device and the text encoders fit the host:
//     text_on_host;
//   - else COCOEDIT_ERR_OUT_OF_MEMORY naming `what`, both figures and the
//     free bytes.
// `device_free`/`host_free` are free_memory() readings (-1: unknown, taken
// as enough).  need.edit counts on the device side.
struct Placement {
  bool text_on_host = false;
};
Placement place_text_encoders(const std::string &what, const MemoryNeed &need, const at::Device &device,
                              int64_t device_free, int64_t host_free);

// "23.8 GB": bytes for people.
std::string format_bytes(int64_t bytes);

// Bytes of the *.safetensors files in folder `path`, or of the file `path`
// (weights as stored).
int64_t safetensors_bytes(const std::string &path);

}  // namespace cocoedit
