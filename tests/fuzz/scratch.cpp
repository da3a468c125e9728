// scratch.cpp — the readers' scratch folder and small helpers (readers.h).
#include <glib.h>
#include <glib/gstdio.h>

#include <cstdlib>
#include <mutex>

#include "readers.h"

namespace cocoedit::fuzz {
namespace {

std::string g_root;

void remove_tree(const std::string &path) {
  if (GDir *d = g_dir_open(path.c_str(), 0, nullptr)) {
    while (const char *n = g_dir_read_name(d)) {
      const std::string child = path + "/" + n;
      if (g_file_test(child.c_str(), G_FILE_TEST_IS_DIR) && !g_file_test(child.c_str(), G_FILE_TEST_IS_SYMLINK))
        remove_tree(child);
      else
        g_remove(child.c_str());
    }
    g_dir_close(d);
  }
  g_rmdir(path.c_str());
}

void remove_root() { remove_tree(g_root); }

}  // namespace

std::string scratch_dir(const std::string &sub) {
  static std::once_flag once;
  std::call_once(once, [] {
    gchar *d = g_dir_make_tmp("cocoedit-fuzz-XXXXXX", nullptr);
    if (!d) std::abort();
    g_root = d;
    g_free(d);
    std::atexit(remove_root);
  });
  const std::string dir = g_root + "/" + sub;
  if (g_mkdir_with_parents(dir.c_str(), 0700) != 0) std::abort();
  return dir;
}

void write_bytes(const std::string &path, const std::string &bytes) {
  if (!g_file_set_contents(path.c_str(), bytes.data(), static_cast<gssize>(bytes.size()), nullptr)) std::abort();
}

std::vector<std::string> split_parts(const std::string &in, size_t n) {
  std::vector<std::string> out;
  size_t at = 0;
  while (out.size() + 1 < n) {
    const size_t z = in.find('\0', at);
    if (z == std::string::npos) break;
    out.push_back(in.substr(at, z - at));
    at = z + 1;
  }
  out.push_back(in.substr(at));
  out.resize(n);
  return out;
}

}  // namespace cocoedit::fuzz
