// json_config.cpp — see json_config.h.
#include "json_config.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "error.h"

namespace cocoedit {
namespace {

[[noreturn]] void bad(const std::string &origin, const std::string &what) {
  fail(COCOEDIT_ERR_FORMAT, origin + ": " + what);
}

// The real path of an existing file or folder.
std::string real_path(const std::string &path) {
  char *r = realpath(path.c_str(), nullptr);
  if (!r) fail(COCOEDIT_ERR_IO, path + ": " + g_strerror(errno));
  std::string out(r);
  free(r);
  return out;
}

bool is_within(const std::string &path, const std::string &root) {
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          (root.back() == '/' || path[root.size()] == '/'));
}

// The folder that counts as inside for `real_dir`: the models--* folder of a
// Hugging Face cache snapshot (…/models--o--n/snapshots/<rev>[/…]), else
// the folder itself.
std::string containment_root(const std::string &real_dir) {
  const std::string marker = "/snapshots/";
  const size_t at = real_dir.rfind(marker);
  if (at == std::string::npos) return real_dir;
  const size_t parent = real_dir.rfind('/', at - 1);
  if (parent == std::string::npos || real_dir.compare(parent + 1, 8, "models--") != 0) return real_dir;
  if (real_dir.size() <= at + marker.size()) return real_dir;  // ".../snapshots/" itself
  return real_dir.substr(0, at);
}

}  // namespace

std::string read_text_file(const std::string &path, size_t limit) {
  // The size is checked before anything is read: a "config.json" that is a
  // huge file, a device or a FIFO must not make us allocate or block.
  struct stat st;
  if (stat(path.c_str(), &st) != 0) fail(COCOEDIT_ERR_IO, path + ": " + g_strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(COCOEDIT_ERR_IO, path + ": not a regular file");
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) fail(COCOEDIT_ERR_IO, path + ": " + g_strerror(errno));
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {  // replaced meanwhile
    std::fclose(f);
    fail(COCOEDIT_ERR_IO, path + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > limit) {
    std::fclose(f);
    bad(path, "larger than " + std::to_string(limit >> 20) + " MiB, not what it should be");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  const size_t n = text.empty() ? 0 : std::fread(&text[0], 1, text.size(), f);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || n != text.size()) fail(COCOEDIT_ERR_IO, path + ": could not be read whole");
  return text;
}

std::string read_config_text(const std::string &path) {
  return read_text_file(path, 1u << 20);
}

std::string path_in(const std::string &dir, const std::string &name) {
  gchar *p = g_build_filename(dir.c_str(), name.c_str(), nullptr);
  std::string out(p);
  g_free(p);
  return out;
}

std::string contained_file(const std::string &dir, const std::string &name) {
  const std::string path = path_in(dir, name);
  const std::string real_dir = real_path(dir);
  if (!g_file_test(path.c_str(), G_FILE_TEST_EXISTS)) fail(COCOEDIT_ERR_IO, path + ": no such file");
  const std::string real = real_path(path);
  if (!is_within(real, containment_root(real_dir)))
    bad(path, "leads outside the model folder (to " + real + "); refusing to read it");
  return path;
}

JsonConfig JsonConfig::from_file(const std::string &path, size_t limit) {
  return from_text(read_text_file(path, limit), path);
}

JsonConfig JsonConfig::from_text(const std::string &text, const std::string &origin) {
  JsonConfig c;
  c.origin_ = origin;
  JsonParser *parser = json_parser_new();
  c.parser_ = parser;
  GError *error = nullptr;
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), &error)) {
    std::string msg = error ? error->message : "unknown error";
    g_clear_error(&error);
    bad(origin, "not valid JSON: " + msg);
  }
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) bad(origin, "the top level must be a JSON object");
  c.root_ = json_node_get_object(root);
  return c;
}

JsonConfig::~JsonConfig() {
  if (parser_) g_object_unref(parser_);
}

JsonConfig::JsonConfig(JsonConfig &&other) noexcept
    : parser_(other.parser_), root_(other.root_), origin_(std::move(other.origin_)) {
  other.parser_ = nullptr;
  other.root_ = nullptr;
}

bool JsonConfig::has(const char *key) const {
  return json_object_has_member(root_, key) && !JSON_NODE_HOLDS_NULL(json_object_get_member(root_, key));
}

int64_t JsonConfig::get_int(const char *key, int64_t fallback) const {
  if (!has(key)) return fallback;
  JsonNode *n = json_object_get_member(root_, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    bad(origin_, std::string("\"") + key + "\" must be an integer");
  return json_node_get_int(n);
}

int64_t JsonConfig::require_int(const char *key) const {
  if (!has(key)) bad(origin_, std::string("\"") + key + "\" is missing");
  return get_int(key, 0);
}

double JsonConfig::get_double(const char *key, double fallback) const {
  if (!has(key)) return fallback;
  JsonNode *n = json_object_get_member(root_, key);
  GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) bad(origin_, std::string("\"") + key + "\" must be a number");
  double v = json_node_get_double(n);
  if (!std::isfinite(v)) bad(origin_, std::string("\"") + key + "\" is not finite");
  return v;
}

bool JsonConfig::get_bool(const char *key, bool fallback) const {
  if (!has(key)) return fallback;
  JsonNode *n = json_object_get_member(root_, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    bad(origin_, std::string("\"") + key + "\" must be true or false");
  return json_node_get_boolean(n);
}

std::string JsonConfig::get_string(const char *key, const std::string &fallback) const {
  if (!has(key)) return fallback;
  JsonNode *n = json_object_get_member(root_, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    bad(origin_, std::string("\"") + key + "\" must be a string");
  return json_node_get_string(n);
}

}  // namespace cocoedit
