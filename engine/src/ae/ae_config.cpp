// ae_config.cpp — reading and checking the autoencoder's shape.
#include "ae/ae_config.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <cmath>
#include <set>

#include "error.h"
#include "json_config.h"

namespace cocoedit {
namespace {

[[noreturn]] void bad(const std::string &origin, const std::string &what) {
  fail(COCOEDIT_ERR_FORMAT, origin + ": " + what);
}

std::string quoted(const char *key) { return std::string("\"") + key + "\""; }

bool is_null(JsonObject *o, const char *key) {
  return json_object_has_member(o, key) && JSON_NODE_HOLDS_NULL(json_object_get_member(o, key));
}

int int_value(JsonNode *n, const std::string &what, const std::string &origin) {
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    bad(origin, what + " must be an integer");
  gint64 v = json_node_get_int(n);
  if (v < -(1 << 20) || v > (1 << 20)) bad(origin, what + " is out of range");
  return static_cast<int>(v);
}

// Each getter leaves `out` alone when the key is absent.
void get_int(JsonObject *o, const char *key, int &out, const std::string &origin) {
  if (json_object_has_member(o, key)) out = int_value(json_object_get_member(o, key), quoted(key), origin);
}

void get_double(JsonObject *o, const char *key, double &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) bad(origin, quoted(key) + " must be a number");
  out = json_node_get_double(n);
  if (!std::isfinite(out)) bad(origin, quoted(key) + " is not finite");
}

void get_bool(JsonObject *o, const char *key, bool &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    bad(origin, quoted(key) + " must be true or false");
  out = json_node_get_boolean(n);
}

void get_string(JsonObject *o, const char *key, std::string &out, const std::string &origin) {
  if (!json_object_has_member(o, key)) return;
  JsonNode *n = json_object_get_member(o, key);
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    bad(origin, quoted(key) + " must be a string");
  out = json_node_get_string(n);
}

// An array member; absent leaves `out` alone.
JsonArray *get_array(JsonObject *o, const char *key, const std::string &origin) {
  if (!json_object_has_member(o, key)) return nullptr;
  JsonNode *n = json_object_get_member(o, key);
  if (!JSON_NODE_HOLDS_ARRAY(n)) bad(origin, quoted(key) + " must be an array");
  JsonArray *a = json_node_get_array(n);
  if (json_array_get_length(a) > 16) bad(origin, quoted(key) + " has too many entries");
  return a;
}

void get_int_array(JsonObject *o, const char *key, std::vector<int> &out, const std::string &origin) {
  JsonArray *a = get_array(o, key, origin);
  if (!a) return;
  out.clear();
  for (guint i = 0; i < json_array_get_length(a); i++)
    out.push_back(int_value(json_array_get_element(a, i), quoted(key) + " entries", origin));
}

// Every entry of the string array `key` (when present) must equal `want`.
void require_all(JsonObject *o, const char *key, const char *want, size_t count, const std::string &origin) {
  JsonArray *a = get_array(o, key, origin);
  if (!a) return;
  if (json_array_get_length(a) != count)
    bad(origin, quoted(key) + " must have one entry per block_out_channels entry");
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonNode *n = json_array_get_element(a, i);
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING ||
        std::string(json_node_get_string(n)) != want)
      bad(origin, quoted(key) + " entries must all be \"" + want + "\" (the FLUX autoencoder's blocks)");
  }
}

AutoencoderParams from_diffusers(JsonObject *o, const std::string &origin) {
  AutoencoderParams p;
  std::string cls = "AutoencoderKL";
  get_string(o, "_class_name", cls, origin);
  if (cls != "AutoencoderKL") bad(origin, "\"_class_name\" is \"" + cls + "\", not AutoencoderKL");

  std::vector<int> widths;
  get_int_array(o, "block_out_channels", widths, origin);
  if (widths.empty()) bad(origin, "\"block_out_channels\" must not be empty");
  if (widths[0] <= 0) bad(origin, "\"block_out_channels\" entries must be positive");
  // BFL writes the widths as ch·ch_mult: each must be a multiple of the first.
  p.ch = widths[0];
  p.ch_mult.clear();
  for (int w : widths) {
    if (w <= 0 || w % p.ch != 0)
      bad(origin, "\"block_out_channels\" entries must be positive multiples of the first entry");
    p.ch_mult.push_back(w / p.ch);
  }
  get_int(o, "in_channels", p.in_channels, origin);
  get_int(o, "out_channels", p.out_ch, origin);
  get_int(o, "layers_per_block", p.num_res_blocks, origin);
  get_int(o, "latent_channels", p.z_channels, origin);
  get_int(o, "norm_num_groups", p.norm_groups, origin);
  get_int(o, "sample_size", p.resolution, origin);

  // Diffusers' defaults differ from FLUX's (0.18215, no shift): both must be given.
  if (!json_object_has_member(o, "scaling_factor") || is_null(o, "scaling_factor"))
    bad(origin, "\"scaling_factor\" is required");
  if (!json_object_has_member(o, "shift_factor") || is_null(o, "shift_factor"))
    bad(origin, "\"shift_factor\" is required (the FLUX autoencoder shifts its latents)");
  get_double(o, "scaling_factor", p.scale_factor, origin);
  get_double(o, "shift_factor", p.shift_factor, origin);

  std::string act = "silu";
  get_string(o, "act_fn", act, origin);
  if (act != "silu") bad(origin, "\"act_fn\" must be \"silu\", not \"" + act + "\"");
  require_all(o, "down_block_types", "DownEncoderBlock2D", widths.size(), origin);
  require_all(o, "up_block_types", "UpDecoderBlock2D", widths.size(), origin);

  // AutoencoderKL builds quant convs unless told not to; FLUX has none.
  bool quant = true, post_quant = true, mid_attention = true;
  get_bool(o, "use_quant_conv", quant, origin);
  get_bool(o, "use_post_quant_conv", post_quant, origin);
  get_bool(o, "mid_block_add_attention", mid_attention, origin);
  if (quant || post_quant)
    bad(origin, "\"use_quant_conv\" and \"use_post_quant_conv\" must be false (FLUX has no quant convs)");
  if (!mid_attention) bad(origin, "\"mid_block_add_attention\" must be true");
  for (const char *key : {"latents_mean", "latents_std"})
    if (json_object_has_member(o, key) && !is_null(o, key))
      bad(origin, quoted(key) + " is not supported (FLUX uses scaling_factor and shift_factor)");
  return p;
}

AutoencoderParams from_bfl(JsonObject *o, const std::string &origin) {
  static const std::set<std::string> known = {"resolution", "in_channels", "ch", "out_ch", "ch_mult",
                                              "num_res_blocks", "z_channels", "scale_factor", "shift_factor"};
  // A misspelt field would silently keep its default: name it instead.
  GList *members = json_object_get_members(o);
  for (GList *m = members; m; m = m->next) {
    std::string key = static_cast<const char *>(m->data);
    if (!known.count(key)) {
      g_list_free(members);
      bad(origin, "unknown field \"" + key + "\" (expected AutoEncoderParams fields or a diffusers config)");
    }
  }
  g_list_free(members);

  AutoencoderParams p;
  get_int(o, "resolution", p.resolution, origin);
  get_int(o, "in_channels", p.in_channels, origin);
  get_int(o, "ch", p.ch, origin);
  get_int(o, "out_ch", p.out_ch, origin);
  get_int_array(o, "ch_mult", p.ch_mult, origin);
  get_int(o, "num_res_blocks", p.num_res_blocks, origin);
  get_int(o, "z_channels", p.z_channels, origin);
  get_double(o, "scale_factor", p.scale_factor, origin);
  get_double(o, "shift_factor", p.shift_factor, origin);
  return p;
}

}  // namespace

void AutoencoderParams::validate(const std::string &o) const {
  auto require = [&](bool ok, const std::string &what) { if (!ok) bad(o, what); };
  require(in_channels >= 1 && in_channels <= 64, "in_channels must be in 1..64");
  require(out_ch >= 1 && out_ch <= 64, "out_ch (out_channels) must be in 1..64");
  require(z_channels >= 1 && z_channels <= 1024, "z_channels (latent_channels) must be in 1..1024");
  require(ch >= 1 && ch <= 4096, "ch must be in 1..4096");
  require(!ch_mult.empty() && ch_mult.size() <= 8, "ch_mult must have 1..8 entries");
  require(num_res_blocks >= 1 && num_res_blocks <= 16, "num_res_blocks (layers_per_block) must be in 1..16");
  require(norm_groups >= 1 && norm_groups <= 1024, "norm_num_groups must be in 1..1024");
  for (int m : ch_mult) {
    require(m >= 1 && m <= 64, "ch_mult entries must be in 1..64");
    require(static_cast<long>(ch) * m <= 8192, "a level is wider than 8192 channels");
    require((ch * m) % norm_groups == 0,
            "every width ch·ch_mult[i] must be a multiple of the " + std::to_string(norm_groups) + " GroupNorm groups");
  }
  require(resolution >= 1, "resolution must be positive");
  require(std::isfinite(scale_factor) && scale_factor != 0, "scale_factor must be finite and not 0");
  require(std::isfinite(shift_factor), "shift_factor must be finite");
}

AutoencoderParams autoencoder_params_from_json(const std::string &text, const std::string &origin) {
  const JsonConfig cfg = JsonConfig::from_text(text, origin);
  JsonObject *o = cfg.object();
  AutoencoderParams p = json_object_has_member(o, "block_out_channels") ? from_diffusers(o, origin)
                                                                        : from_bfl(o, origin);
  p.validate(origin);
  return p;
}

std::string autoencoder_params_to_diffusers_json(const AutoencoderParams &p) {
  p.validate();
  JsonBuilder *b = json_builder_new();
  auto member = [&](const char *key) { json_builder_set_member_name(b, key); };
  auto int_member = [&](const char *key, int v) { member(key); json_builder_add_int_value(b, v); };
  auto strings = [&](const char *key, const char *value) {
    member(key);
    json_builder_begin_array(b);
    for (size_t i = 0; i < p.ch_mult.size(); i++) json_builder_add_string_value(b, value);
    json_builder_end_array(b);
  };
  json_builder_begin_object(b);
  member("_class_name");
  json_builder_add_string_value(b, "AutoencoderKL");
  member("act_fn");
  json_builder_add_string_value(b, "silu");
  member("block_out_channels");
  json_builder_begin_array(b);
  for (int m : p.ch_mult) json_builder_add_int_value(b, static_cast<gint64>(p.ch) * m);
  json_builder_end_array(b);
  strings("down_block_types", "DownEncoderBlock2D");
  strings("up_block_types", "UpDecoderBlock2D");
  int_member("in_channels", p.in_channels);
  int_member("out_channels", p.out_ch);
  int_member("latent_channels", p.z_channels);
  int_member("layers_per_block", p.num_res_blocks);
  int_member("norm_num_groups", p.norm_groups);
  int_member("sample_size", p.resolution);
  member("scaling_factor");
  json_builder_add_double_value(b, p.scale_factor);
  member("shift_factor");
  json_builder_add_double_value(b, p.shift_factor);
  member("use_quant_conv");
  json_builder_add_boolean_value(b, FALSE);
  member("use_post_quant_conv");
  json_builder_add_boolean_value(b, FALSE);
  member("mid_block_add_attention");
  json_builder_add_boolean_value(b, TRUE);
  json_builder_end_object(b);
  JsonNode *root = json_builder_get_root(b);
  gchar *text = json_to_string(root, TRUE);
  std::string out(text);
  g_free(text);
  json_node_unref(root);
  g_object_unref(b);
  return out + "\n";
}

AutoencoderParams load_autoencoder_params(const std::string &path) {
  return autoencoder_params_from_json(read_config_text(path), path);
}

}  // namespace cocoedit
