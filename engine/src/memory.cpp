// memory.cpp — see memory.h.
#include "memory.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <cstdio>

#include "error.h"

#ifdef COCOEDIT_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace cocoedit {

int64_t free_memory(const at::Device &device) {
  if (device.is_cuda()) {
#ifdef COCOEDIT_HAVE_CUDA
    c10::cuda::CUDAGuard guard(device);
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) return static_cast<int64_t>(free_b);
#endif
    return -1;
  }
  gchar *text = nullptr;
  if (!g_file_get_contents("/proc/meminfo", &text, nullptr, nullptr)) return -1;
  int64_t kib = -1;
  gchar **lines = g_strsplit(text, "\n", -1);
  for (gchar **l = lines; *l; l++) {
    long long v = 0;
    if (std::sscanf(*l, "MemAvailable: %lld kB", &v) == 1) kib = v;
  }
  g_strfreev(lines);
  g_free(text);
  return kib < 0 ? -1 : kib * 1024;
}

std::string format_bytes(int64_t bytes) {
  char buf[32];
  if (bytes >= 1000LL * 1000 * 1000) std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  return buf;
}

Placement place_text_encoders(const std::string &what, const MemoryNeed &need, const at::Device &device,
                              int64_t device_free, int64_t host_free) {
  auto fits = [](int64_t bytes, int64_t free_b) { return free_b < 0 || bytes <= free_b; };
  const int64_t all = need.weights + need.edit, rest = all - need.text_weights;
  Placement p;
  if (!device.is_cuda()) {
    if (!fits(all, host_free))
      fail(COCOEDIT_ERR_OUT_OF_MEMORY, what + " needs about " + format_bytes(all) + " of RAM (weights and one edit at " +
                                           std::to_string(need.edit_long_side) + " px), but only " +
                                           format_bytes(host_free) + " is free");
    return p;
  }
  if (fits(all, device_free)) return p;
  if (fits(rest, device_free) && fits(need.text_weights, host_free)) {
    p.text_on_host = true;
    return p;
  }
  fail(COCOEDIT_ERR_OUT_OF_MEMORY,
       what + " needs about " + format_bytes(all) + " on " + device.str() + ", or " + format_bytes(rest) +
           " with its text encoders (" + format_bytes(need.text_weights) + ") in RAM, but only " +
           format_bytes(device_free) + " is free there" +
           (fits(need.text_weights, host_free) ? "" : " and " + format_bytes(host_free) + " in RAM"));
}

int64_t safetensors_bytes(const std::string &path) {
  GStatBuf st;
  if (g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR))
    return g_stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  int64_t total = 0;
  const std::string &dir = path;
  GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
  if (!d) return 0;
  while (const gchar *name = g_dir_read_name(d)) {
    if (!g_str_has_suffix(name, ".safetensors")) continue;
    gchar *file = g_build_filename(dir.c_str(), name, nullptr);
    if (g_stat(file, &st) == 0) total += static_cast<int64_t>(st.st_size);
    g_free(file);
  }
  g_dir_close(d);
  return total;
}

}  // namespace cocoedit
