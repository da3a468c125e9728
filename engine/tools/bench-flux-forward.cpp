// bench-flux-forward.cpp — times the engine's FLUX transformer forward for
// tools/bench-flux-reference, which runs BFL's reference on the same weights:
//
//   bench-flux-forward CONFIG.json WEIGHTS.safetensors SIDE REPEAT [float32]
//
// CONFIG is a diffusers transformer config, WEIGHTS a BFL-named single file.
// The inputs are a Kontext edit's at SIDE×SIDE px: 2·(SIDE/16)² image tokens
// (target and reference) and 512 text tokens.  Prints one JSON line: seconds
// of the first forward, mean seconds of the next REPEAT, peak RSS in bytes.
#include <glib.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>

#include "error.h"
#include "flux/flux_sampling.h"
#include "flux/flux_transformer.h"
#include "flux/flux_weights.h"

using namespace cocoedit;

int main(int argc, char **argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: bench-flux-forward CONFIG WEIGHTS SIDE REPEAT [float32]\n");
    return 2;
  }
  try {
    torch::NoGradGuard no_grad;
    at::set_num_threads(2);  // as the reference side sets it
    const flux::FluxParams p = flux::read_diffusers_config(argv[1]);
    flux::WeightMap w = flux::read_single_file_weights(argv[2], p);
    if (argc > 5 && !std::strcmp(argv[5], "float32"))
      for (auto &kv : w) kv.second = kv.second.to(at::kFloat);
    flux::Flux net(p, w, argv[2]);
    w.clear();
    const int64_t side = g_ascii_strtoll(argv[3], nullptr, 10), repeat = g_ascii_strtoll(argv[4], nullptr, 10);
    const int64_t grid = side / 16, n_txt = 512;
    const at::ScalarType dt = net->dtype();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    const at::Tensor img = at::randn({1, 2 * grid * grid, p.in_channels}, gen).to(dt);
    const at::Tensor ids = at::cat({flux::image_ids(1, grid, grid, 0.0), flux::image_ids(1, grid, grid, 1.0)}, 1);
    const at::Tensor txt = at::randn({1, n_txt, p.context_in_dim}, gen).to(dt);
    const at::Tensor txt_ids = at::zeros({1, n_txt, 3});
    const at::Tensor y = at::randn({1, p.vec_in_dim}, gen).to(dt);
    const at::Tensor t = at::full({1}, 0.5, dt), g = at::full({1}, 2.5, dt);
    gint64 t0 = g_get_monotonic_time();
    net->forward(img, ids, txt, txt_ids, t, y, g);
    const double first = (g_get_monotonic_time() - t0) / 1e6;
    t0 = g_get_monotonic_time();
    for (int64_t i = 0; i < repeat; i++) net->forward(img, ids, txt, txt_ids, t, y, g);
    const double mean = (g_get_monotonic_time() - t0) / 1e6 / static_cast<double>(repeat > 0 ? repeat : 1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("{\"first_s\": %.4f, \"forward_s\": %.4f, \"peak_rss\": %ld}\n", first, mean, ru.ru_maxrss * 1024L);
  } catch (const Error &e) {
    std::fprintf(stderr, "bench-flux-forward: %s\n", e.what());
    return 1;
  }
  return 0;
}
