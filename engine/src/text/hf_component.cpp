// hf_component.cpp — config.json and (sharded) safetensors reading for the
// text encoders, keeping each tensor in its stored dtype.
#include "text/hf_component.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "error.h"
#include "safetensors.h"

namespace cocoedit {
namespace textenc {
namespace {

[[noreturn]] void bad(const std::string &origin, const std::string &what) {
  fail(COCOEDIT_ERR_FORMAT, origin + ": " + what);
}

}  // namespace

// ---- weights -------------------------------------------------------------------

std::map<std::string, at::Tensor> load_weights_checked(const std::string &source, const WeightSpec &spec,
                                                       at::Device device) {
  const WeightFiles files = g_file_test(source.c_str(), G_FILE_TEST_IS_DIR) ? open_weight_files(source, "model")
                                                                             : open_weight_file(source);
  // Every header is checked before any data is read.
  for (const auto &kv : files.tensors) {
    const TensorEntry &e = *kv.second.entry;
    const std::string &path = kv.second.file->path();
    if (spec.ignored.count(e.name)) continue;
    auto it = spec.required.find(e.name);
    if (it == spec.required.end())
      bad(path, "tensor \"" + e.name + "\" is not part of this model (a checkpoint of another model?)");
    if (e.shape != it->second)
      bad(path, "tensor \"" + e.name + "\" has shape " + shape_text(e.shape) + " but the config needs " +
                    shape_text(it->second));
    require_weight_dtype(path, e);
  }
  for (const auto &kv : spec.required)
    if (!files.tensors.count(kv.first))
      bad(source, "the weights lack tensor \"" + kv.first + "\" " + shape_text(kv.second) +
                      " (a checkpoint of another model or config?)");

  std::map<std::string, at::Tensor> out;
  for (const auto &kv : files.tensors)
    if (!spec.ignored.count(kv.first)) out[kv.first] = kv.second.file->read(*kv.second.entry).to(device);
  return out;
}

double lowest_value(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return std::numeric_limits<float>::lowest();
    case at::kBFloat16: return static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kHalf: return static_cast<float>(std::numeric_limits<c10::Half>::lowest());
    case at::kDouble: return std::numeric_limits<double>::lowest();
    default: fail(COCOEDIT_ERR_INVALID_ARGUMENT, "lowest_value: not a floating dtype");
  }
}

at::Tensor checked_token_ids(const at::Tensor &ids, int64_t vocab, int64_t max_length, at::Device device,
                             const char *model) {
  const std::string who = model;
  if (!ids.defined() || ids.dim() != 2)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, who + ": token ids must be a [batch, length] tensor");
  if (!at::isIntegralType(ids.scalar_type(), /*includeBool=*/false))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, who + ": token ids must have an integer dtype");
  if (ids.size(0) < 1 || ids.size(1) < 1)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, who + ": token ids are empty");
  if (ids.size(1) > max_length)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, who + ": " + std::to_string(ids.size(1)) +
                                            " tokens, more than the " + std::to_string(max_length) +
                                            " this model takes");
  at::Tensor out = ids.to(device, at::kLong);
  const int64_t lo = out.min().item<int64_t>(), hi = out.max().item<int64_t>();
  if (lo < 0 || hi >= vocab)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, who + ": token id " + std::to_string(lo < 0 ? lo : hi) +
                                            " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
  return out;
}

at::Tensor take_weight(const std::map<std::string, at::Tensor> &w, const std::string &name, const std::string &model) {
  auto it = w.find(name);
  if (it == w.end()) fail(COCOEDIT_ERR_FORMAT, model + ": missing tensor \"" + name + "\"");
  return it->second;
}

void check_weight_shapes(const WeightSpec &spec, const std::map<std::string, at::Tensor> &w,
                         const std::string &model) {
  for (const auto &kv : spec.required) {
    const at::Tensor t = take_weight(w, kv.first, model);
    if (t.sizes().vec() != kv.second)
      fail(COCOEDIT_ERR_FORMAT, model + ": tensor \"" + kv.first + "\" has shape " + shape_text(t.sizes().vec()) +
                                    ", the config needs " + shape_text(kv.second));
  }
}

}  // namespace textenc
}  // namespace cocoedit
