// fuzz-readers.cpp — a bounded mutation fuzzer over every reader of
// untrusted input (readers.h): `fuzz-readers SECONDS CORPUS [SEED]`.
// Every input of CORPUS/<reader>/ runs first (seeds and the regression inputs
// of crashes found before), then mutations of them (bit flips, byte changes,
// insertions, deletions, truncation, number splices) until SECONDS have
// passed.  Rejection with cocoedit::Error is the expected outcome; any other
// exception, a crash or a sanitizer report fails the run.  It needs no clang
// and runs in every build; the libFuzzer targets (-Dfuzz=true) search
// further, guided by coverage.
#include <glib.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "error.h"
#include "readers.h"

using namespace cocoedit;

static std::string mutate(std::string s, GRand *r) {
  const int n = g_rand_int_range(r, 1, 5);
  static const char *splices[] = {"-1", "0", "18446744073709551615", "1e309", "\"\"", "[]", "{}",
                                  "null", "9999999999", "\xff\xfe", "\"F64\"", "[0,0]"};
  for (int i = 0; i < n && !s.empty(); i++) {
    const size_t pos = g_rand_int_range(r, 0, static_cast<gint32>(s.size()));
    switch (g_rand_int_range(r, 0, 6)) {
      case 0: s[pos] = static_cast<char>(s[pos] ^ (1 << g_rand_int_range(r, 0, 8))); break;
      case 1: s[pos] = static_cast<char>(g_rand_int_range(r, 0, 256)); break;
      case 2: s.insert(pos, 1, static_cast<char>(g_rand_int_range(r, 0, 256))); break;
      case 3: s.erase(pos, g_rand_int_range(r, 1, 8)); break;
      case 4: s.resize(pos); break;
      case 5: s.insert(pos, splices[g_rand_int_range(r, 0, G_N_ELEMENTS(splices))]); break;
    }
  }
  return s;
}

// The files of `dir`, in name order.
static std::vector<std::string> corpus_of(const std::string &dir) {
  std::vector<std::string> names, out;
  if (GDir *d = g_dir_open(dir.c_str(), 0, nullptr)) {
    while (const char *n = g_dir_read_name(d)) names.push_back(n);
    g_dir_close(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto &n : names) {
    gchar *data = nullptr;
    gsize len = 0;
    if (g_file_get_contents((dir + "/" + n).c_str(), &data, &len, nullptr)) out.emplace_back(data, len);
    g_free(data);
  }
  return out;
}

// One input through one reader: false (and a message) when it is a bug.
static bool try_input(const fuzz::Reader &rd, const std::string &input, const char *what, bool *accepted) {
  try {
    rd.parse(input);
    *accepted = true;
  } catch (const Error &) {
    *accepted = false;  // rejected with a message: fine
  } catch (const std::exception &e) {
    std::fprintf(stderr, "fuzz: %s: unexpected exception on %s: %s\n", rd.name, what, e.what());
    return false;
  }
  return true;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz-readers SECONDS CORPUS [SEED]\n");
    return 2;
  }
  const double seconds = g_ascii_strtod(argv[1], nullptr);
  const std::string corpus = argv[2];
  const guint32 seed = argc > 3 ? static_cast<guint32>(g_ascii_strtoull(argv[3], nullptr, 10)) : 1;
  GRand *r = g_rand_new_with_seed(seed);
  const auto &readers = fuzz::readers();

  // The corpus: at least one input per reader must be accepted, or the
  // fuzzer would only ever test the first check.
  std::vector<std::vector<std::string>> seeds(readers.size());
  for (size_t k = 0; k < readers.size(); k++) {
    seeds[k] = corpus_of(corpus + "/" + readers[k].name);
    long accepted = 0;
    for (size_t i = 0; i < seeds[k].size(); i++) {
      bool ok = false;
      const std::string what = "corpus input " + std::to_string(i);
      if (!try_input(readers[k], seeds[k][i], what.c_str(), &ok)) return 1;
      accepted += ok;
    }
    if (!accepted) {
      std::fprintf(stderr, "fuzz: no input of %s/%s is accepted\n", corpus.c_str(), readers[k].name);
      return 1;
    }
  }

  std::vector<long> tried(readers.size()), took(readers.size());
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(seconds * 1e6);
  long runs = 0;
  while (g_get_monotonic_time() < end) {
    for (int i = 0; i < 20; i++, runs++) {
      const size_t k = static_cast<size_t>(runs) % readers.size();
      const auto &pool = seeds[k];
      const std::string input = mutate(pool[g_rand_int_range(r, 0, static_cast<gint32>(pool.size()))], r);
      bool ok = false;
      const std::string what = "mutated input " + std::to_string(runs);
      tried[k]++;
      if (!try_input(readers[k], input, what.c_str(), &ok)) return 1;
      took[k] += ok;
    }
  }
  std::printf("fuzz-readers: %ld inputs in %.0f s, no crash\n", runs, seconds);
  for (size_t k = 0; k < readers.size(); k++)
    std::printf("  %-18s %8ld inputs, %7ld accepted\n", readers[k].name, tried[k], took[k]);
  g_rand_free(r);
  return 0;
}
