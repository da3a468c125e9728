// readers-data.cpp — dataset index files and images (readers.h).
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "cocodata.h"
#include "error.h"
#include "image-io.h"
#include "readers.h"

namespace cocoedit::fuzz {
namespace {

[[noreturn]] void rethrow(GError *e) {
  const std::string msg = e ? e->message : "unknown error";
  g_clear_error(&e);
  fail(COCOEDIT_ERR_FORMAT, msg);
}

void save_png(const std::string &path, guint w, guint h, guint channels) {
  std::vector<guint8> px(static_cast<size_t>(w) * h * channels, 200);
  CocoeditPixels p{w, h, channels, px.data()};
  if (!cocoedit_pixels_save_png(&p, path.c_str(), nullptr)) std::abort();
}

// data/: a.png, a_mask.png, a_target.png (8×8), b.png (4×4) and
// link.png -> ../outside.png, an image outside it.
std::string data_dir() {
  static std::once_flag once;
  static std::string dir;
  std::call_once(once, [] {
    dir = scratch_dir("data");
    save_png(scratch_dir("") + "/outside.png", 8, 8, 4);
    save_png(dir + "/a.png", 8, 8, 4);
    save_png(dir + "/a_mask.png", 8, 8, 1);
    save_png(dir + "/a_target.png", 8, 8, 4);
    save_png(dir + "/b.png", 4, 4, 4);
    if (symlink("../outside.png", (dir + "/link.png").c_str()) != 0) std::abort();
  });
  return dir;
}

}  // namespace

// The same lines as this project's manifest.jsonl, CoCoEdit-40K's
// metadata.jsonl and a masked bench's instructions.jsonl; every sample the
// open accepts is decoded.
void parse_manifest(const std::string &in) {
  const std::string dir = data_dir();
  const std::pair<const char *, CocodataFormat> formats[] = {{"manifest.jsonl", COCODATA_FORMAT_MANIFEST},
                                                             {"metadata.jsonl", COCODATA_FORMAT_COCOEDIT40K},
                                                             {"instructions.jsonl", COCODATA_FORMAT_MASKED_BENCH}};
  GError *first = nullptr;
  for (const auto &f : formats) {
    const std::string path = dir + "/" + f.first;
    write_bytes(path, in);
    GError *e = nullptr;
    CocodataDataset *ds = cocodata_dataset_open(path.c_str(), f.second, TRUE, &e);
    g_remove(path.c_str());
    if (!ds) {
      if (!first) first = e;
      else g_clear_error(&e);
      continue;
    }
    for (gsize i = 0; i < cocodata_dataset_size(ds); i++) {
      CocodataSample s{};
      if (cocodata_dataset_get(ds, i, &s, &e)) cocodata_sample_clear(&s);
      else g_clear_error(&e);
    }
    cocodata_dataset_free(ds);
  }
  if (first) rethrow(first);
}

void parse_image(const std::string &in) {
  const std::string path = scratch_dir("image") + "/in";
  write_bytes(path, in);
  for (guint channels : {0u, 1u, 3u, 4u}) {
    CocoeditPixels px{};
    GError *e = nullptr;
    if (!cocoedit_pixels_load(path.c_str(), channels, 4096, &px, &e)) rethrow(e);
    cocoedit_pixels_clear(&px);
  }
}

}  // namespace cocoedit::fuzz
