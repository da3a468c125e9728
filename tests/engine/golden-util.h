// golden-util.h — what the component golden tests share: reading golden
// tensors through the engine's SafetensorsFile (which takes the I64 ids, F64
// schedules and U8 tables of test vectors too), max |Δ| and rms figures, and
// expect_error.  Header-only (each test is its own executable); global names, as the
// tests' own `golden` variables hold their folders.
#pragma once

#include <glib.h>

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "error.h"
#include "safetensors.h"

// Tensor `name` of the safetensors file at `path` (files stay open, so a
// test reading many tensors of one file parses its header once).  A missing
// file or tensor ends the test with a message naming both.
inline at::Tensor read_golden(const std::string &path, const std::string &name) {
  static std::map<std::string, std::unique_ptr<cocoedit::SafetensorsFile>> files;
  auto &f = files[path];
  if (!f) {
    try {
      f = std::make_unique<cocoedit::SafetensorsFile>(path);
    } catch (const cocoedit::Error &e) {
      g_error("cannot read golden file %s: %s", path.c_str(), e.what());
    }
  }
  const cocoedit::TensorEntry *e = f->find(name);
  if (!e) g_error("%s has no tensor %s", path.c_str(), name.c_str());
  return f->read(*e);
}

// max |a − b| and rms(a − b), in double; the shapes must match.
inline double max_abs_diff(const at::Tensor &a, const at::Tensor &b) {
  g_assert_true(a.sizes() == b.sizes());
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

inline double rms_diff(const at::Tensor &a, const at::Tensor &b) {
  g_assert_true(a.sizes() == b.sizes());
  return (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).mean().sqrt().item<double>();
}

inline double rms_of(const at::Tensor &a) { return a.to(at::kDouble).pow(2).mean().sqrt().item<double>(); }

// Runs `body` and checks that it throws cocoedit::Error with `code` and a
// message containing `fragment`.
inline void expect_error(cocoedit_status code, const std::string &fragment, const std::function<void()> &body) {
  try {
    body();
  } catch (const cocoedit::Error &e) {
    if (e.code() != code || std::string(e.what()).find(fragment) == std::string::npos)
      g_error("expected status %d with \"%s\", got %d: %s", code, fragment.c_str(), e.code(), e.what());
    g_test_message("refused as expected: %s", e.what());
    return;
  }
  g_error("expected an error containing \"%s\", got none", fragment.c_str());
}
