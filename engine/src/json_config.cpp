// json_config.cpp — see json_config.h.
#include "json_config.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <cmath>

#include "error.h"

namespace cocoedit {
namespace {

[[noreturn]] void bad(const std::string &origin, const std::string &what) {
  fail(COCOEDIT_ERR_FORMAT, origin + ": " + what);
}

}  // namespace

std::string read_text_file(const std::string &path, size_t limit) {
  gchar *contents = nullptr;
  gsize length = 0;
  GError *error = nullptr;
  if (!g_file_get_contents(path.c_str(), &contents, &length, &error)) {
    std::string msg = error ? error->message : "cannot read";
    g_clear_error(&error);
    fail(COCOEDIT_ERR_IO, path + ": " + msg);
  }
  std::string text(contents, length);
  g_free(contents);
  if (length > limit) bad(path, "larger than " + std::to_string(limit >> 20) + " MiB, not what it should be");
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
