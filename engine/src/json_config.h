// json_config.h — reading small JSON files (model configs, indexes) that are
// untrusted input: typed getters that name the file and the key when a value
// is missing or of the wrong type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

typedef struct _JsonObject JsonObject;

namespace cocoedit {

// A parsed JSON object: typed getters that fall back to a default when the
// key is absent or null (as transformers' and diffusers' config classes do)
// and reject a value of the wrong type, naming `origin` and the key
// (COCOEDIT_ERR_FORMAT).
class JsonConfig {
 public:
  // A file of at most `limit` bytes (COCOEDIT_ERR_IO when it cannot be read).
  static JsonConfig from_file(const std::string &path, size_t limit = 1u << 20);
  static JsonConfig from_text(const std::string &text, const std::string &origin);
  ~JsonConfig();
  JsonConfig(JsonConfig &&other) noexcept;
  JsonConfig(const JsonConfig &) = delete;
  JsonConfig &operator=(const JsonConfig &) = delete;

  bool has(const char *key) const;
  int64_t get_int(const char *key, int64_t fallback) const;
  int64_t require_int(const char *key) const;
  double get_double(const char *key, double fallback) const;
  bool get_bool(const char *key, bool fallback) const;
  std::string get_string(const char *key, const std::string &fallback) const;
  const std::string &origin() const { return origin_; }
  // The top-level object, for members the getters do not cover (lists,
  // nested objects); owned by this JsonConfig.
  JsonObject *object() const { return root_; }

 private:
  JsonConfig() = default;
  void *parser_ = nullptr;  // JsonParser, owns the tree
  JsonObject *root_ = nullptr;
  std::string origin_;
};

// A small text file whole (COCOEDIT_ERR_IO naming it when it cannot be read);
// one larger than `limit` is not what it claims to be (COCOEDIT_ERR_FORMAT).
std::string read_text_file(const std::string &path, size_t limit);
// A config file's text (at most 1 MiB).
std::string read_config_text(const std::string &path);
// `name` inside folder `dir`.
std::string path_in(const std::string &dir, const std::string &name);
// `name` inside folder `dir`, refusing a path whose real location (after
// symlinks) is outside the folder, so that a model folder cannot make the
// engine read other files.  One exception, for the Hugging Face cache, whose
// snapshot folders hold symlinks to ../../blobs: inside
// <...>/models--<org>--<name>/snapshots/<revision>/ the whole
// models--<org>--<name> folder counts as inside.  COCOEDIT_ERR_IO when the
// file does not exist, COCOEDIT_ERR_FORMAT when it lies outside.
std::string contained_file(const std::string &dir, const std::string &name);

}  // namespace cocoedit
