// threads.h — how many CPU threads the engine and the trainer use.
#pragma once

namespace cocoedit {

// Sets libtorch's intra-op thread pool to `n` threads (0 = every core) and
// returns the count.  OpenBLAS, which Debian's libtorch calls for matrix
// products, is kept single-threaded: its own threads compete with
// libtorch's pool for the same cores.  Measured with tools/bench-engine
// (small config, 64 px, 16 steps, 2 cores): 4.99 s per edit with OpenBLAS
// threads, 0.27 s without.  COCOEDIT_ONEDNN=0 in the environment turns
// libtorch's oneDNN kernels off: on CPUs with AVX512-BF16 they change bf16
// results by more than bf16 rounding (the golden FLUX.1 Kontext case:
// mean 16.9/255 from the reference with them, 0.78 without).
int configure_threads(int n);

}  // namespace cocoedit
