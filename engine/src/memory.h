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
  int64_t edit = 0;        // peak bytes of one edit's activations at edit_long_side
  int edit_long_side = 0;  // the working size the edit figure is for (px)
};

// Bytes free on `device` now (CPU: MemAvailable of /proc/meminfo; CUDA: the
// driver's free figure); -1 when it cannot be told.
int64_t free_memory(const at::Device &device);

// Throws COCOEDIT_ERR_OUT_OF_MEMORY naming `what`, the need and the free
// bytes when `need` is more than `device` has free (nothing when unknown).
void require_memory(const std::string &what, int64_t need, const at::Device &device);

// "23.8 GB": bytes for people.
std::string format_bytes(int64_t bytes);

// Bytes of the *.safetensors files in folder `path`, or of the file `path`
// (weights as stored).
int64_t safetensors_bytes(const std::string &path);

}  // namespace cocoedit
