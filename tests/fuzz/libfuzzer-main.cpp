// libfuzzer-main.cpp — one libFuzzer target: COCOEDIT_FUZZ_PARSE names the
// reader (readers.h); tests/fuzz/meson.build builds one target per reader.
// A reader's cocoedit::Error is a rejected input; any other exception is a
// bug, reported as a crash so that libFuzzer keeps the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "error.h"
#include "readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    cocoedit::fuzz::COCOEDIT_FUZZ_PARSE(std::string(reinterpret_cast<const char *>(data), size));
  } catch (const cocoedit::Error &) {
    // rejected with a message: the expected outcome for most inputs
  } catch (const std::exception &e) {
    std::fprintf(stderr, "fuzz: unexpected exception (not cocoedit::Error): %s\n", e.what());
    std::abort();
  }
  return 0;
}
