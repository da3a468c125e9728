// config.cpp — config.json reading (json-glib) with a clear error per field.
#include "config.h"

#include <json-glib/json-glib.h>

#include <cmath>
#include <memory>

#include "error.h"
#include "json_config.h"

namespace cocoedit {
namespace {

struct GObjectDeleter {
  void operator()(gpointer p) const { if (p) g_object_unref(p); }
};

[[noreturn]] void bad(const std::string &origin, const std::string &what) {
  fail(COCOEDIT_ERR_FORMAT, origin + ": " + what);
}

// Each getter leaves `out` alone when the key is absent and rejects a value
// of the wrong type, so a typo in config.json is named instead of ignored.
void get_int(JsonObject *o, const char *key, int &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    bad(origin, std::string("\"") + key + "\" must be an integer");
  gint64 v = json_node_get_int(n);
  if (v < INT32_MIN || v > INT32_MAX) bad(origin, std::string("\"") + key + "\" is out of range");
  out = static_cast<int>(v);
}

void get_double(JsonObject *o, const char *key, double &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    bad(origin, std::string("\"") + key + "\" must be a number");
  out = json_node_get_double(n);
  if (!std::isfinite(out)) bad(origin, std::string("\"") + key + "\" is not finite");
}

void get_bool(JsonObject *o, const char *key, bool &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    bad(origin, std::string("\"") + key + "\" must be true or false");
  out = json_node_get_boolean(n);
}

void get_string(JsonObject *o, const char *key, std::string &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    bad(origin, std::string("\"") + key + "\" must be a string");
  out = json_node_get_string(n);
}

}  // namespace

void ModelConfig::validate(const std::string &o) const {
  auto require = [&](bool ok, const std::string &what) { if (!ok) bad(o, what); };
  require(architecture == "cocoedit-kontext",
          "unknown architecture \"" + architecture + "\" (this engine runs \"cocoedit-kontext\")");
  require(format_version == 1 || format_version == kModelFormatVersion,
          "unsupported format_version " + std::to_string(format_version) + " (this engine reads 1 and " +
              std::to_string(kModelFormatVersion) + ")");
  require(patch_size >= 1 && patch_size <= 64, "patch_size must be in 1..64");
  require(image_size >= patch_size && image_size <= 4096 && image_size % patch_size == 0,
          "image_size must be a multiple of patch_size in patch_size..4096");
  if (autoencoder.empty()) {
    require(in_channels == 3, "in_channels must be 3 (RGB) for a pixel-space model");
  } else {
    // A folder name inside the model folder, never a path out of it.
    bool plain = autoencoder != "." && autoencoder != ".." && autoencoder.size() <= 64;
    for (char ch : autoencoder) plain = plain && (g_ascii_isalnum(ch) || ch == '_' || ch == '-' || ch == '.');
    require(plain, "\"autoencoder\" must be the name of a subfolder of the model folder (letters, digits, . _ -)");
    require(in_channels >= 1 && in_channels <= 1024, "in_channels (the latent channels) must be in 1..1024");
  }
  require(hidden_size >= 8 && hidden_size <= 8192, "hidden_size must be in 8..8192");
  require(num_heads >= 1 && hidden_size % num_heads == 0, "hidden_size must be a multiple of num_heads");
  require(head_dim() % 2 == 0, "the head dimension (hidden_size / num_heads) must be even");
  require(axes_dim[0] + axes_dim[1] + axes_dim[2] == head_dim(),
          "axes_dim must add up to hidden_size / num_heads (" + std::to_string(head_dim()) + ")");
  for (int a : axes_dim) require(a >= 0 && a % 2 == 0, "every axes_dim entry must be even and >= 0");
  require(depth_double >= 0 && depth_double <= 128 && depth_single >= 0 && depth_single <= 256,
          "depth_double/depth_single out of range");
  require(depth_double + depth_single >= 1, "the model needs at least one block");
  require(mlp_ratio >= 0.5 && mlp_ratio <= 16, "mlp_ratio must be in 0.5..16");
  require(rope_theta > 1, "rope_theta must be > 1");
  require(text_max_bytes >= 8 && text_max_bytes <= 4096, "text_max_bytes must be in 8..4096");
  require(text_hidden_size >= 8 && text_heads >= 1 && text_hidden_size % text_heads == 0,
          "text_hidden_size must be a multiple of text_heads");
  require(text_depth >= 0 && text_depth <= 64, "text_depth must be in 0..64");
  require(time_shift > 0 && time_shift <= 100, "time_shift must be in (0, 100]");
  require(default_steps >= 1 && default_steps <= 1000, "default_steps must be in 1..1000");
  require(default_guidance >= 0 && default_guidance <= 50, "default_guidance must be in 0..50");
  require(dtype == "float32" || dtype == "float16" || dtype == "bfloat16",
          "dtype must be float32, float16 or bfloat16");
}

ModelConfig config_from_json(const std::string &text, const std::string &origin) {
  std::unique_ptr<JsonParser, GObjectDeleter> parser(json_parser_new());
  GError *error = nullptr;
  if (!json_parser_load_from_data(parser.get(), text.data(), static_cast<gssize>(text.size()), &error)) {
    std::string msg = error ? error->message : "unknown error";
    g_clear_error(&error);
    bad(origin, "not valid JSON: " + msg);
  }
  JsonNode *root = json_parser_get_root(parser.get());
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) bad(origin, "the top level must be a JSON object");
  JsonObject *o = json_node_get_object(root);

  ModelConfig c;
  get_string(o, "name", c.name, origin);
  get_string(o, "architecture", c.architecture, origin);
  get_int(o, "format_version", c.format_version, origin);
  get_int(o, "image_size", c.image_size, origin);
  get_int(o, "patch_size", c.patch_size, origin);
  get_int(o, "in_channels", c.in_channels, origin);
  get_string(o, "autoencoder", c.autoencoder, origin);
  get_bool(o, "mask_channel", c.mask_channel, origin);
  get_int(o, "hidden_size", c.hidden_size, origin);
  get_int(o, "num_heads", c.num_heads, origin);
  get_int(o, "depth_double", c.depth_double, origin);
  get_int(o, "depth_single", c.depth_single, origin);
  get_double(o, "mlp_ratio", c.mlp_ratio, origin);
  get_double(o, "rope_theta", c.rope_theta, origin);
  if (json_object_has_member(o, "axes_dim")) {
    JsonNode *n = json_object_get_member(o, "axes_dim");
    if (!JSON_NODE_HOLDS_ARRAY(n) || json_array_get_length(json_node_get_array(n)) != 3)
      bad(origin, "\"axes_dim\" must be an array of three integers");
    JsonArray *a = json_node_get_array(n);
    for (guint i = 0; i < 3; i++) {
      JsonNode *e = json_array_get_element(a, i);
      if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_INT64)
        bad(origin, "\"axes_dim\" must be an array of three integers");
      gint64 v = json_node_get_int(e);
      if (v < 0 || v > 4096) bad(origin, "\"axes_dim\" entries must be in 0..4096");
      c.axes_dim[i] = static_cast<int>(v);
    }
  }
  if (json_object_has_member(o, "text")) {
    JsonNode *n = json_object_get_member(o, "text");
    if (!JSON_NODE_HOLDS_OBJECT(n)) bad(origin, "\"text\" must be an object");
    JsonObject *t = json_node_get_object(n);
    get_int(t, "max_bytes", c.text_max_bytes, origin);
    get_int(t, "hidden_size", c.text_hidden_size, origin);
    get_int(t, "depth", c.text_depth, origin);
    get_int(t, "num_heads", c.text_heads, origin);
  }
  get_bool(o, "guidance_embed", c.guidance_embed, origin);
  get_double(o, "time_shift", c.time_shift, origin);
  get_int(o, "default_steps", c.default_steps, origin);
  get_double(o, "default_guidance", c.default_guidance, origin);
  get_string(o, "dtype", c.dtype, origin);
  c.validate(origin);
  return c;
}

ModelConfig config_from_file(const std::string &path) {
  return config_from_json(read_config_text(path), path);
}

std::string config_to_json(const ModelConfig &c) {
  std::unique_ptr<JsonBuilder, GObjectDeleter> b(json_builder_new());
  JsonBuilder *j = b.get();
  auto s = [&](const char *k, const std::string &v) { json_builder_set_member_name(j, k); json_builder_add_string_value(j, v.c_str()); };
  auto i = [&](const char *k, gint64 v) { json_builder_set_member_name(j, k); json_builder_add_int_value(j, v); };
  auto d = [&](const char *k, double v) { json_builder_set_member_name(j, k); json_builder_add_double_value(j, v); };
  auto bo = [&](const char *k, bool v) { json_builder_set_member_name(j, k); json_builder_add_boolean_value(j, v); };
  json_builder_begin_object(j);
  s("name", c.name);
  s("architecture", c.architecture);
  i("format_version", c.format_version);
  i("image_size", c.image_size);
  i("patch_size", c.patch_size);
  i("in_channels", c.in_channels);
  if (c.latent()) s("autoencoder", c.autoencoder);
  bo("mask_channel", c.mask_channel);
  i("hidden_size", c.hidden_size);
  i("num_heads", c.num_heads);
  i("depth_double", c.depth_double);
  i("depth_single", c.depth_single);
  d("mlp_ratio", c.mlp_ratio);
  d("rope_theta", c.rope_theta);
  json_builder_set_member_name(j, "axes_dim");
  json_builder_begin_array(j);
  for (int a : c.axes_dim) json_builder_add_int_value(j, a);
  json_builder_end_array(j);
  json_builder_set_member_name(j, "text");
  json_builder_begin_object(j);
  i("max_bytes", c.text_max_bytes);
  i("hidden_size", c.text_hidden_size);
  i("depth", c.text_depth);
  i("num_heads", c.text_heads);
  json_builder_end_object(j);
  bo("guidance_embed", c.guidance_embed);
  d("time_shift", c.time_shift);
  i("default_steps", c.default_steps);
  d("default_guidance", c.default_guidance);
  s("dtype", c.dtype);
  json_builder_end_object(j);

  std::unique_ptr<JsonGenerator, GObjectDeleter> gen(json_generator_new());
  JsonNode *root = json_builder_get_root(j);
  json_generator_set_root(gen.get(), root);
  json_generator_set_pretty(gen.get(), TRUE);
  gchar *text = json_generator_to_data(gen.get(), nullptr);
  std::string out(text);
  g_free(text);
  json_node_unref(root);
  return out + "\n";
}

}  // namespace cocoedit
