// hf_component.h — reading a Hugging Face component folder (config.json and
// safetensors weights, one file or shards behind model.safetensors.index.json)
// for the text encoders.  Everything read is untrusted: each helper names the
// file and the problem when something is wrong.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

typedef struct _JsonObject JsonObject;

namespace cocoedit {
namespace textenc {

// A parsed config.json: typed getters that fall back to a default when the key
// is absent (as transformers' config classes do) and reject a value of the
// wrong type, naming the key.
class JsonConfig {
 public:
  static JsonConfig from_file(const std::string &path);
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

 private:
  JsonConfig() = default;
  void *parser_ = nullptr;  // JsonParser, owns the tree
  JsonObject *root_ = nullptr;
  std::string origin_;
};

// A config file's text (at most 1 MiB), and `name` inside folder `dir`.
std::string read_config_text(const std::string &path);
std::string path_in(const std::string &dir, const std::string &name);

// Where the weights of a component live and what they must look like.
struct WeightSpec {
  std::map<std::string, std::vector<int64_t>> required;  // name -> exact shape
  std::set<std::string> ignored;  // may be present (tied copies, old buffers); never read
};

// Loads the tensors of `source` — a component folder (model.safetensors, or
// model.safetensors.index.json and its shards) or one .safetensors file —
// after checking every header against `spec`: each required name present
// once with its exact shape and a floating dtype, no unknown names.  The
// tensors keep their stored dtype and are moved to `device` one by one.
std::map<std::string, at::Tensor> load_weights_checked(const std::string &source, const WeightSpec &spec,
                                                       at::Device device);

// "[a, b, c]" for messages.
std::string shape_text(const std::vector<int64_t> &shape);

// The most negative finite value of a floating dtype (torch.finfo(dtype).min),
// which transformers adds to masked attention scores.
double lowest_value(at::ScalarType dtype);

// Checks a token-id tensor before it indexes an embedding: 2-D [batch, length]
// of an integer dtype, length in 1..max_length, every id in [0, vocab).
// Returns it as int64 on `device`.
at::Tensor checked_token_ids(const at::Tensor &ids, int64_t vocab, int64_t max_length, at::Device device,
                             const char *model);

}  // namespace textenc
}  // namespace cocoedit
