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

// A shard name from an index must name a file in the folder itself.
bool plain_file_name(const std::string &name) {
  return !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
         name.find("..") == std::string::npos && name != ".";
}

// tensor -> shard file name, from model.safetensors.index.json.
std::map<std::string, std::string> read_index(const std::string &index_path) {
  std::string text = read_text_file(index_path, 64u << 20);
  JsonParser *parser = json_parser_new();
  GError *error = nullptr;
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), &error)) {
    std::string msg = error ? error->message : "unknown error";
    g_clear_error(&error);
    g_object_unref(parser);
    bad(index_path, "not valid JSON: " + msg);
  }
  std::map<std::string, std::string> where;
  std::string problem;
  JsonNode *root = json_parser_get_root(parser);
  JsonNode *wm = root && JSON_NODE_HOLDS_OBJECT(root)
                     ? json_object_get_member(json_node_get_object(root), "weight_map") : nullptr;
  if (!wm || !JSON_NODE_HOLDS_OBJECT(wm)) {
    problem = "missing \"weight_map\" object";
  } else {
    JsonObject *m = json_node_get_object(wm);
    GList *names = json_object_get_members(m);
    for (GList *l = names; l && problem.empty(); l = l->next) {
      const std::string tensor = static_cast<const char *>(l->data);
      JsonNode *v = json_object_get_member(m, tensor.c_str());
      const char *file = JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING
                             ? json_node_get_string(v) : nullptr;
      if (!file || !plain_file_name(file))
        problem = "weight_map entry for \"" + tensor + "\" is not a file name in the component folder";
      else
        where[tensor] = file;
    }
    g_list_free(names);
    if (problem.empty() && where.empty()) problem = "\"weight_map\" is empty";
  }
  g_object_unref(parser);
  if (!problem.empty()) bad(index_path, problem);
  return where;
}

}  // namespace

// ---- weights -------------------------------------------------------------------

std::map<std::string, at::Tensor> load_weights_checked(const std::string &source, const WeightSpec &spec,
                                                       at::Device device) {
  // Which files to open, and (for shards) which file the index says holds
  // each tensor.
  std::vector<std::string> files;
  std::map<std::string, std::string> where;
  if (g_file_test(source.c_str(), G_FILE_TEST_IS_DIR)) {
    const std::string index_path = path_in(source, "model.safetensors.index.json");
    if (g_file_test(index_path.c_str(), G_FILE_TEST_EXISTS)) {
      for (const auto &kv : read_index(index_path)) {
        where[kv.first] = path_in(source, kv.second);
        if (std::find(files.begin(), files.end(), where[kv.first]) == files.end())
          files.push_back(where[kv.first]);
      }
    } else {
      files.push_back(path_in(source, "model.safetensors"));
      if (!g_file_test(files[0].c_str(), G_FILE_TEST_EXISTS))
        fail(COCOEDIT_ERR_IO, "\"" + source + "\" has neither model.safetensors nor model.safetensors.index.json");
    }
  } else if (g_file_test(source.c_str(), G_FILE_TEST_EXISTS)) {
    files.push_back(source);
  } else {
    fail(COCOEDIT_ERR_IO, "\"" + source + "\" does not exist");
  }

  // Every header is checked before any data is read.
  std::vector<std::unique_ptr<SafetensorsFile>> opened;
  std::map<std::string, std::pair<const SafetensorsFile *, const TensorEntry *>> found;
  for (const auto &path : files) {
    opened.push_back(std::make_unique<SafetensorsFile>(path));
    const SafetensorsFile &f = *opened.back();
    for (const auto &e : f.entries()) {
      if (!where.empty()) {
        auto w = where.find(e.name);
        if (w == where.end()) bad(path, "tensor \"" + e.name + "\" is not listed in the index");
        if (w->second != path) bad(path, "tensor \"" + e.name + "\" is listed in another shard by the index");
      }
      if (found.count(e.name)) bad(path, "tensor \"" + e.name + "\" appears twice");
      if (spec.ignored.count(e.name)) continue;
      auto it = spec.required.find(e.name);
      if (it == spec.required.end())
        bad(path, "tensor \"" + e.name + "\" is not part of this model (a checkpoint of another model?)");
      if (e.shape != it->second)
        bad(path, "tensor \"" + e.name + "\" has shape " + shape_text(e.shape) + " but the config needs " +
                      shape_text(it->second));
      require_weight_dtype(path, e);
      found[e.name] = {&f, &e};
    }
  }
  for (const auto &kv : where)
    if (!found.count(kv.first) && !spec.ignored.count(kv.first))
      bad(kv.second, "tensor \"" + kv.first + "\" listed by the index is missing from this shard");
  for (const auto &kv : spec.required)
    if (!found.count(kv.first))
      bad(source, "the weights lack tensor \"" + kv.first + "\" " + shape_text(kv.second) +
                      " (a checkpoint of another model or config?)");

  std::map<std::string, at::Tensor> out;
  for (const auto &kv : found) out[kv.first] = kv.second.first->read(*kv.second.second).to(device);
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
