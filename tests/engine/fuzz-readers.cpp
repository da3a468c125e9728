// fuzz-readers.cpp — a bounded mutation fuzzer for the checkpoint and config
// readers: `fuzz-readers SECONDS [SEED]`.  Valid inputs are mutated (bit
// flips, byte changes, insertions, deletions, truncation, number splices)
// and fed to SafetensorsFile::from_bytes and config_from_json.  Rejection
// with cocoedit::Error is the expected outcome; any other exception, a
// crash or a sanitizer report fails the run.
#include <glib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "config.h"
#include "error.h"
#include "safetensors.h"

using namespace cocoedit;

static std::string seed_safetensors() {
  const std::string header =
      R"({"__metadata__":{"architecture":"cocoedit-kontext"},)"
      R"("a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b.bias":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},)"
      R"("c":{"dtype":"F16","shape":[],"data_offsets":[32,34]}})";
  std::string out(8, '\0');
  for (int i = 0; i < 8; i++) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + std::string(34, '\x3f');
}

static std::string seed_config() {
  return R"({"name":"x","architecture":"cocoedit-kontext","format_version":1,"image_size":32,)"
         R"("patch_size":4,"hidden_size":64,"num_heads":2,"depth_double":1,"depth_single":1,)"
         R"("axes_dim":[8,12,12],"text":{"max_bytes":64,"hidden_size":32,"depth":1,"num_heads":2},)"
         R"("dtype":"float32"})";
}

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

int main(int argc, char **argv) {
  const double seconds = argc > 1 ? g_ascii_strtod(argv[1], nullptr) : 5.0;
  const guint32 seed = argc > 2 ? static_cast<guint32>(g_ascii_strtoull(argv[2], nullptr, 10)) : 1;
  GRand *r = g_rand_new_with_seed(seed);
  const std::string st = seed_safetensors(), cfg = seed_config();
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(seconds * 1e6);
  long runs = 0, accepted = 0;

  // The seeds themselves must be accepted, or the fuzzer tests nothing.
  SafetensorsFile::from_bytes(reinterpret_cast<const uint8_t *>(st.data()), st.size(), "seed");
  config_from_json(cfg, "seed");

  while (g_get_monotonic_time() < end) {
    for (int i = 0; i < 200; i++, runs++) {
      const bool is_st = runs % 2 == 0;
      const std::string input = mutate(is_st ? st : cfg, r);
      try {
        if (is_st) {
          auto f = SafetensorsFile::from_bytes(reinterpret_cast<const uint8_t *>(input.data()), input.size(), "fuzz");
          for (const auto &e : f->entries()) f->read(e);  // reading what was accepted must be safe
        } else {
          config_from_json(input, "fuzz");
        }
        accepted++;
      } catch (const Error &) {
        // rejected with a message: fine
      } catch (const std::exception &e) {
        std::fprintf(stderr, "fuzz: unexpected exception on input %ld: %s\n", runs, e.what());
        return 1;
      }
    }
  }
  std::printf("fuzz-readers: %ld inputs in %.0f s, %ld accepted, no crash\n", runs, seconds, accepted);
  g_rand_free(r);
  return 0;
}
