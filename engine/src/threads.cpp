// threads.cpp — see threads.h.
#include "threads.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace cocoedit {

int configure_threads(int n) {
  // Looked up at run time: the BLAS behind libblas.so.3 is the system's
  // choice (OpenBLAS, BLIS or the reference one), not ours.
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(1);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "bli_thread_set_num_threads"))) f(1);
  const int count = n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(count);
  // oneDNN's bf16 kernels (chosen by libtorch on CPUs with AVX512) round
  // differently from the plain ones; COCOEDIT_ONEDNN=0 gives the numbers a
  // CPU without them gives (docs/reliability.md).
  if (const char *v = std::getenv("COCOEDIT_ONEDNN"); v && std::strcmp(v, "0") == 0)
    at::globalContext().setUserEnabledMkldnn(false);
  return count;
}

}  // namespace cocoedit
