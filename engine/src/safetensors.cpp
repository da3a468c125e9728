// safetensors.cpp — see safetensors.h.
#include "safetensors.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "error.h"
#include "json_config.h"

namespace cocoedit {
namespace {

// Headers of real checkpoints are a few hundred KiB; anything much larger is
// either corrupt or an attempt to make us allocate without bound.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;
constexpr int64_t kMaxDims = 8;

struct GObjectDeleter {
  void operator()(gpointer p) const { if (p) g_object_unref(p); }
};

[[noreturn]] void bad(const std::string &origin, const std::string &what) {
  fail(COCOEDIT_ERR_FORMAT, origin + ": " + what);
}

size_t element_size(at::ScalarType t) {
  switch (t) {
    case at::kDouble: case at::kLong: return 8;
    case at::kFloat: case at::kInt: return 4;
    case at::kByte: return 1;
    default: return 2;  // F16, BF16
  }
}

// Weights are F32, F16 or BF16; the other dtypes are read for test vectors
// and token ids (is_weight_dtype keeps them out of models).
bool parse_dtype(const char *s, at::ScalarType &out) {
  if (!strcmp(s, "F32")) out = at::kFloat;
  else if (!strcmp(s, "F16")) out = at::kHalf;
  else if (!strcmp(s, "BF16")) out = at::kBFloat16;
  else if (!strcmp(s, "F64")) out = at::kDouble;
  else if (!strcmp(s, "I64")) out = at::kLong;
  else if (!strcmp(s, "I32")) out = at::kInt;
  else if (!strcmp(s, "U8")) out = at::kByte;
  else return false;
  return true;
}

bool get_uint(JsonNode *n, uint64_t &out) {
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64) return false;
  gint64 v = json_node_get_int(n);
  if (v < 0) return false;
  out = static_cast<uint64_t>(v);
  return true;
}


}  // namespace

const char *dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kByte: return "U8";
    default: fail(COCOEDIT_ERR_INVALID_ARGUMENT, "safetensors: unsupported dtype");
  }
}

bool is_weight_dtype(at::ScalarType t) {
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
}

void require_weight_dtype(const std::string &origin, const TensorEntry &e) {
  if (!is_weight_dtype(e.dtype))
    bad(origin, "tensor \"" + e.name + "\" has dtype " + dtype_name(e.dtype) + "; F32, F16 or BF16 expected");
}

at::ScalarType dtype_from_config(const std::string &d) {
  if (d == "float32") return at::kFloat;
  if (d == "float16") return at::kHalf;
  if (d == "bfloat16") return at::kBFloat16;
  fail(COCOEDIT_ERR_FORMAT, "unknown dtype \"" + d + "\"");
}

SafetensorsFile::SafetensorsFile(const std::string &path) : path_(path) {
  GError *error = nullptr;
  GMappedFile *m = g_mapped_file_new(path.c_str(), FALSE, &error);
  if (!m) {
    std::string msg = error ? error->message : "cannot open";
    g_clear_error(&error);
    fail(COCOEDIT_ERR_IO, msg);
  }
  mapped_ = m;
  try {
    parse(reinterpret_cast<const uint8_t *>(g_mapped_file_get_contents(m)), g_mapped_file_get_length(m));
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    g_mapped_file_unref(m);
    mapped_ = nullptr;
    throw;
  }
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::from_bytes(const uint8_t *data, size_t size,
                                                             const std::string &origin) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = origin;
  f->parse(data, size);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapped_) g_mapped_file_unref(static_cast<GMappedFile *>(mapped_));
}

void SafetensorsFile::parse(const uint8_t *bytes, size_t size) {
  const std::string &o = path_;
  if (size < 8) bad(o, "truncated: shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
  if (n < 2) bad(o, "header length " + std::to_string(n) + " is too small");
  if (n > kMaxHeaderBytes) bad(o, "header length " + std::to_string(n) + " exceeds the 100 MiB limit");
  if (n > size - 8) bad(o, "truncated: header says " + std::to_string(n) + " bytes, file has " +
                           std::to_string(size - 8));
  const uint64_t data_size = size - 8 - n;
  data_ = bytes + 8 + n;

  std::unique_ptr<JsonParser, GObjectDeleter> parser(json_parser_new());
  GError *error = nullptr;
  if (!json_parser_load_from_data(parser.get(), reinterpret_cast<const char *>(bytes + 8),
                                  static_cast<gssize>(n), &error)) {
    std::string msg = error ? error->message : "parse error";
    g_clear_error(&error);
    bad(o, "header is not valid JSON: " + msg);
  }
  JsonNode *root = json_parser_get_root(parser.get());
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) bad(o, "header is not a JSON object");
  JsonObject *obj = json_node_get_object(root);

  GList *members = json_object_get_members(obj);
  for (GList *l = members; l; l = l->next) {
    const char *name = static_cast<const char *>(l->data);
    JsonNode *node = json_object_get_member(obj, name);
    if (!strcmp(name, "__metadata__")) {
      if (!JSON_NODE_HOLDS_OBJECT(node)) { g_list_free(members); bad(o, "__metadata__ is not an object"); }
      JsonObject *mo = json_node_get_object(node);
      GList *mk = json_object_get_members(mo);
      for (GList *k = mk; k; k = k->next) {
        JsonNode *v = json_object_get_member(mo, static_cast<const char *>(k->data));
        if (!JSON_NODE_HOLDS_VALUE(v) || json_node_get_value_type(v) != G_TYPE_STRING) {
          g_list_free(mk);
          g_list_free(members);
          bad(o, "__metadata__ values must be strings");
        }
        metadata_[static_cast<const char *>(k->data)] = json_node_get_string(v);
      }
      g_list_free(mk);
      continue;
    }
    std::string where = "tensor \"" + std::string(name) + "\": ";
    try {
      if (!JSON_NODE_HOLDS_OBJECT(node)) bad(o, where + "entry is not an object");
      JsonObject *t = json_node_get_object(node);
      TensorEntry e;
      e.name = name;
      JsonNode *d = json_object_get_member(t, "dtype");
      if (!d || !JSON_NODE_HOLDS_VALUE(d) || json_node_get_value_type(d) != G_TYPE_STRING)
        bad(o, where + "missing dtype");
      if (!parse_dtype(json_node_get_string(d), e.dtype))
        bad(o, where + "unsupported dtype \"" + json_node_get_string(d) + "\" (F32, F16, BF16, F64, I64, I32, U8 are)");
      JsonNode *s = json_object_get_member(t, "shape");
      if (!s || !JSON_NODE_HOLDS_ARRAY(s)) bad(o, where + "missing shape");
      JsonArray *sa = json_node_get_array(s);
      if (json_array_get_length(sa) > kMaxDims) bad(o, where + "too many dimensions");
      uint64_t numel = 1;
      for (guint i = 0; i < json_array_get_length(sa); i++) {
        uint64_t dim = 0;
        if (!get_uint(json_array_get_element(sa, i), dim) || dim > (1ull << 40))
          bad(o, where + "shape entries must be non-negative integers");
        e.shape.push_back(static_cast<int64_t>(dim));
        if (dim && numel > (UINT64_MAX / 8) / dim) bad(o, where + "shape is absurdly large");
        numel *= dim;
      }
      JsonNode *off = json_object_get_member(t, "data_offsets");
      if (!off || !JSON_NODE_HOLDS_ARRAY(off) || json_array_get_length(json_node_get_array(off)) != 2)
        bad(o, where + "data_offsets must be [begin, end]");
      JsonArray *oa = json_node_get_array(off);
      if (!get_uint(json_array_get_element(oa, 0), e.begin) || !get_uint(json_array_get_element(oa, 1), e.end))
        bad(o, where + "data_offsets must be non-negative integers");
      if (e.begin > e.end) bad(o, where + "data_offsets begin after they end");
      if (e.end > data_size)
        bad(o, where + "data_offsets end at " + std::to_string(e.end) + ", past the data section's " +
                   std::to_string(data_size) + " bytes (truncated file?)");
      if (e.end - e.begin != numel * element_size(e.dtype))
        bad(o, where + "data_offsets span " + std::to_string(e.end - e.begin) + " bytes but shape " +
                   shape_text(e.shape) + " needs " + std::to_string(numel * element_size(e.dtype)));
      entries_.push_back(std::move(e));
    } catch (...) {
      g_list_free(members);
      throw;
    }
  }
  g_list_free(members);

  // Two tensors sharing bytes means a corrupt or hostile file.
  std::vector<const TensorEntry *> sorted;
  for (const auto &e : entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto *a, auto *b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); i++)
    if (sorted[i]->begin < sorted[i - 1]->end && sorted[i]->begin != sorted[i]->end)
      bad(o, "tensors \"" + sorted[i - 1]->name + "\" and \"" + sorted[i]->name + "\" overlap");
}

const TensorEntry *SafetensorsFile::find(const std::string &name) const {
  for (const auto &e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

at::Tensor SafetensorsFile::read(const TensorEntry &e) const {
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
  if (e.end > e.begin) std::memcpy(t.data_ptr(), data_ + e.begin, e.end - e.begin);
  return t;
}

std::map<std::string, std::string> parse_weight_index(const std::string &text, const std::string &origin) {
  const JsonConfig index = JsonConfig::from_text(text, origin);
  JsonNode *wm = json_object_get_member(index.object(), "weight_map");
  if (!wm || !JSON_NODE_HOLDS_OBJECT(wm)) bad(origin, "missing \"weight_map\" object");
  JsonObject *m = json_node_get_object(wm);
  std::map<std::string, std::string> where;
  std::string problem;
  GList *names = json_object_get_members(m);
  for (GList *l = names; l && problem.empty(); l = l->next) {
    const std::string tensor = static_cast<const char *>(l->data);
    JsonNode *v = json_object_get_member(m, tensor.c_str());
    const char *file = JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING
                           ? json_node_get_string(v) : nullptr;
    // Shards sit in the folder itself: no paths, no "..".
    if (!file || !*file || strchr(file, '/') || strchr(file, '\\') || !strcmp(file, ".") || !strcmp(file, ".."))
      problem = "weight_map entry for \"" + tensor + "\" is not a file name in the folder";
    else
      where[tensor] = file;
  }
  g_list_free(names);
  if (problem.empty() && where.empty()) problem = "the weight_map is empty";
  if (!problem.empty()) bad(origin, problem);
  return where;
}

namespace {

void add_file(WeightFiles &out, const std::string &path, const std::map<std::string, std::string> *where,
              const std::string &shard) {
  out.files.push_back(std::make_unique<SafetensorsFile>(path));
  const SafetensorsFile *f = out.files.back().get();
  for (const auto &e : f->entries()) {
    if (where) {
      auto it = where->find(e.name);
      if (it == where->end()) bad(f->path(), "tensor \"" + e.name + "\" is not listed in the index");
      if (it->second != shard) bad(f->path(), "tensor \"" + e.name + "\" is listed in another shard by the index");
    }
    if (out.tensors.count(e.name)) bad(f->path(), "tensor \"" + e.name + "\" appears twice");
    out.tensors[e.name] = {f, &e};
  }
}

}  // namespace

WeightFiles open_weight_files(const std::string &dir, const std::string &stem) {
  if (!g_file_test(dir.c_str(), G_FILE_TEST_IS_DIR)) fail(COCOEDIT_ERR_IO, "\"" + dir + "\" is not a folder");
  WeightFiles out;
  const std::string single = stem + ".safetensors", index_name = single + ".index.json";
  const std::string index_path = path_in(dir, index_name);
  if (g_file_test(index_path.c_str(), G_FILE_TEST_EXISTS)) {
    const auto where = parse_weight_index(read_text_file(contained_file(dir, index_name), 64u << 20), index_path);
    std::vector<std::string> shards;
    for (const auto &kv : where)
      if (std::find(shards.begin(), shards.end(), kv.second) == shards.end()) shards.push_back(kv.second);
    for (const auto &shard : shards) add_file(out, contained_file(dir, shard), &where, shard);
    for (const auto &kv : where)
      if (!out.tensors.count(kv.first))
        bad(path_in(dir, kv.second), "tensor \"" + kv.first + "\" listed by the index is missing from this shard");
  } else if (g_file_test(path_in(dir, single).c_str(), G_FILE_TEST_EXISTS)) {
    add_file(out, contained_file(dir, single), nullptr, "");
  } else {
    fail(COCOEDIT_ERR_IO, "\"" + dir + "\" has neither " + single + " nor " + index_name);
  }
  return out;
}

WeightFiles open_weight_file(const std::string &path) {
  if (!g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR)) fail(COCOEDIT_ERR_IO, "\"" + path + "\" does not exist");
  WeightFiles out;
  add_file(out, path, nullptr, "");
  return out;
}

std::map<std::string, at::Tensor> load_weights(
    const std::string &dir, const std::map<std::string, std::vector<int64_t>> &expected) {
  if (!g_file_test(dir.c_str(), G_FILE_TEST_IS_DIR))
    fail(COCOEDIT_ERR_IO, "model directory \"" + dir + "\" does not exist");
  const WeightFiles files = open_weight_files(dir, "model");
  std::map<std::string, at::Tensor> out;
  for (const auto &kv : files.tensors) {
    const TensorEntry &e = *kv.second.entry;
    const std::string &origin = kv.second.file->path();
    auto it = expected.find(e.name);
    if (it == expected.end())
      bad(origin, "tensor \"" + e.name + "\" is not part of this model's architecture "
                  "(a checkpoint of another model or config?)");
    if (e.shape != it->second)
      bad(origin, "tensor \"" + e.name + "\" has shape " + shape_text(e.shape) +
                  " but the config needs " + shape_text(it->second));
    require_weight_dtype(origin, e);
  }
  for (const auto &kv : expected)
    if (!files.tensors.count(kv.first))
      bad(dir, "the weights lack tensor \"" + kv.first + "\" " + shape_text(kv.second) +
               " (a checkpoint of another model or config?)");
  // Every header checked: now the data.
  for (const auto &kv : files.tensors) out[kv.first] = kv.second.file->read(*kv.second.entry).to(at::kFloat);
  return out;
}

void write_file_atomic(const std::string &path, const std::string &contents) {
  GError *error = nullptr;
  // g_file_set_contents writes a temporary file in the same directory,
  // fsyncs it and renames it over `path`.
  if (!g_file_set_contents(path.c_str(), contents.data(), static_cast<gssize>(contents.size()), &error)) {
    std::string msg = error->message;
    g_clear_error(&error);
    fail(COCOEDIT_ERR_IO, msg);
  }
}

namespace {

std::string header_json(const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                        at::ScalarType dtype, const std::map<std::string, std::string> &metadata) {
  std::unique_ptr<JsonBuilder, GObjectDeleter> b(json_builder_new());
  JsonBuilder *j = b.get();
  json_builder_begin_object(j);
  if (!metadata.empty()) {
    json_builder_set_member_name(j, "__metadata__");
    json_builder_begin_object(j);
    for (const auto &kv : metadata) {
      json_builder_set_member_name(j, kv.first.c_str());
      json_builder_add_string_value(j, kv.second.c_str());
    }
    json_builder_end_object(j);
  }
  uint64_t offset = 0;
  for (const auto &nt : tensors) {
    uint64_t bytes = static_cast<uint64_t>(nt.second.numel()) * element_size(dtype);
    json_builder_set_member_name(j, nt.first.c_str());
    json_builder_begin_object(j);
    json_builder_set_member_name(j, "dtype");
    json_builder_add_string_value(j, dtype_name(dtype));
    json_builder_set_member_name(j, "shape");
    json_builder_begin_array(j);
    for (int64_t d : nt.second.sizes()) json_builder_add_int_value(j, d);
    json_builder_end_array(j);
    json_builder_set_member_name(j, "data_offsets");
    json_builder_begin_array(j);
    json_builder_add_int_value(j, static_cast<gint64>(offset));
    json_builder_add_int_value(j, static_cast<gint64>(offset + bytes));
    json_builder_end_array(j);
    json_builder_end_object(j);
    offset += bytes;
  }
  json_builder_end_object(j);
  std::unique_ptr<JsonGenerator, GObjectDeleter> gen(json_generator_new());
  JsonNode *root = json_builder_get_root(j);
  json_generator_set_root(gen.get(), root);
  gchar *text = json_generator_to_data(gen.get(), nullptr);
  std::string r(text);
  g_free(text);
  json_node_unref(root);
  // Pad so that the data section starts 8-byte aligned, as other writers do.
  while ((r.size() + 8) % 8) r += ' ';
  return r;
}

}  // namespace

void write_safetensors(const std::string &path,
                       const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                       at::ScalarType dtype, const std::map<std::string, std::string> &metadata) {
  std::string header = header_json(tensors, dtype, metadata);
  std::string buf;
  uint64_t n = header.size();
  for (int i = 0; i < 8; i++) buf += static_cast<char>((n >> (8 * i)) & 0xff);
  buf += header;
  for (const auto &nt : tensors) {
    at::Tensor t = nt.second.detach().to(at::kCPU).to(dtype).contiguous();
    buf.append(static_cast<const char *>(t.data_ptr()), t.numel() * element_size(dtype));
  }
  write_file_atomic(path, buf);
}

void save_weights(const std::string &dir,
                  const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                  at::ScalarType dtype, size_t max_shard_bytes,
                  const std::map<std::string, std::string> &metadata) {
  if (g_mkdir_with_parents(dir.c_str(), 0755) != 0)
    fail(COCOEDIT_ERR_IO, "cannot create \"" + dir + "\": " + g_strerror(errno));

  // Split into shards greedily, in order.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  size_t shard_bytes = 0, total = 0;
  for (const auto &nt : tensors) {
    size_t bytes = static_cast<size_t>(nt.second.numel()) * element_size(dtype);
    if (max_shard_bytes && shard_bytes && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(nt);
    shard_bytes += bytes;
    total += bytes;
  }

  if (shards.size() == 1) {
    write_safetensors(path_in(dir, "model.safetensors"), tensors, dtype, metadata);
  } else {
    std::unique_ptr<JsonBuilder, GObjectDeleter> b(json_builder_new());
    JsonBuilder *j = b.get();
    json_builder_begin_object(j);
    json_builder_set_member_name(j, "metadata");
    json_builder_begin_object(j);
    json_builder_set_member_name(j, "total_size");
    json_builder_add_int_value(j, static_cast<gint64>(total));
    json_builder_end_object(j);
    json_builder_set_member_name(j, "weight_map");
    json_builder_begin_object(j);
    for (size_t k = 0; k < shards.size(); k++) {
      gchar *name = g_strdup_printf("model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
      write_safetensors(path_in(dir, name), shards[k], dtype, metadata);
      for (const auto &nt : shards[k]) {
        json_builder_set_member_name(j, nt.first.c_str());
        json_builder_add_string_value(j, name);
      }
      g_free(name);
    }
    json_builder_end_object(j);
    json_builder_end_object(j);
    std::unique_ptr<JsonGenerator, GObjectDeleter> gen(json_generator_new());
    JsonNode *root = json_builder_get_root(j);
    json_generator_set_root(gen.get(), root);
    json_generator_set_pretty(gen.get(), TRUE);
    gchar *text = json_generator_to_data(gen.get(), nullptr);
    write_file_atomic(path_in(dir, "model.safetensors.index.json"), std::string(text) + "\n");
    g_free(text);
    json_node_unref(root);
  }
}

std::string shape_text(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace cocoedit
