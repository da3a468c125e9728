// train-config.cpp — see train-config.h.
#include "train-config.h"

#include <json-glib/json-glib.h>

#include <cmath>
#include <memory>
#include <set>
#include <sstream>

#include "error.h"

namespace cocoedit::train {

namespace {

struct Unref {
  void operator()(gpointer p) const { g_object_unref(p); }
};
struct NodeFree {
  void operator()(JsonNode *n) const { json_node_unref(n); }
};

[[noreturn]] void bad(const std::string &origin, const std::string &key, const std::string &what) {
  fail(COCOEDIT_ERR_INVALID_ARGUMENT, origin + ": " + key + ": " + what);
}

JsonNode *parse_json(const std::string &text, const std::string &origin) {
  std::unique_ptr<JsonParser, Unref> parser(json_parser_new());
  GError *error = nullptr;
  if (!json_parser_load_from_data(parser.get(), text.data(), static_cast<gssize>(text.size()), &error)) {
    std::string msg = error ? error->message : "parse error";
    g_clear_error(&error);
    fail(COCOEDIT_ERR_FORMAT, origin + ": not valid JSON: " + msg);
  }
  JsonNode *root = json_parser_get_root(parser.get());
  return root ? json_node_copy(root) : nullptr;
}

// Typed readers: each refuses a value of another JSON type.
void read(JsonNode *n, std::string &out, const std::string &o, const std::string &k) {
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) bad(o, k, "must be a string");
  out = json_node_get_string(n);
}
void read(JsonNode *n, int64_t &out, const std::string &o, const std::string &k) {
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64) bad(o, k, "must be an integer");
  out = json_node_get_int(n);
}
void read(JsonNode *n, double &out, const std::string &o, const std::string &k) {
  if (!JSON_NODE_HOLDS_VALUE(n) ||
      (json_node_get_value_type(n) != G_TYPE_DOUBLE && json_node_get_value_type(n) != G_TYPE_INT64))
    bad(o, k, "must be a number");
  out = json_node_get_double(n);
}
void read(JsonNode *n, bool &out, const std::string &o, const std::string &k) {
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN) bad(o, k, "must be true or false");
  out = json_node_get_boolean(n);
}
void read(JsonNode *n, StringList &out, const std::string &o, const std::string &k) {
  if (!JSON_NODE_HOLDS_ARRAY(n)) bad(o, k, "must be an array of strings");
  out.clear();
  JsonArray *a = json_node_get_array(n);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    std::string s;
    read(json_array_get_element(a, i), s, o, k);
    out.push_back(s);
  }
}

void write(JsonBuilder *b, const std::string &v) { json_builder_add_string_value(b, v.c_str()); }
void write(JsonBuilder *b, int64_t v) { json_builder_add_int_value(b, v); }
void write(JsonBuilder *b, double v) { json_builder_add_double_value(b, v); }
void write(JsonBuilder *b, bool v) { json_builder_add_boolean_value(b, v); }
void write(JsonBuilder *b, const StringList &v) {
  json_builder_begin_array(b);
  for (const auto &s : v) json_builder_add_string_value(b, s.c_str());
  json_builder_end_array(b);
}

// Sets "section.name" in the object tree to `value`.
void apply_override(JsonObject *root, const std::string &assignment) {
  const size_t eq = assignment.find('=');
  const size_t dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "override \"" + assignment + "\" is not section.key=value");
  const std::string section = assignment.substr(0, dot), key = assignment.substr(dot + 1, eq - dot - 1);
  const std::string value = assignment.substr(eq + 1);
  JsonNode *v = nullptr;
  {
    std::unique_ptr<JsonParser, Unref> parser(json_parser_new());
    if (json_parser_load_from_data(parser.get(), value.c_str(), -1, nullptr) && json_parser_get_root(parser.get()))
      v = json_node_copy(json_parser_get_root(parser.get()));
  }
  if (!v) {
    v = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(v, value.c_str());
  }
  if (!json_object_has_member(root, section.c_str())) json_object_set_object_member(root, section.c_str(), json_object_new());
  JsonNode *sn = json_object_get_member(root, section.c_str());
  if (!JSON_NODE_HOLDS_OBJECT(sn)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "config section " + section + " is not an object");
  json_object_set_member(json_node_get_object(sn), key.c_str(), v);
}

TrainConfig from_tree(JsonNode *root, const std::string &origin) {
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) fail(COCOEDIT_ERR_FORMAT, origin + ": the top level must be an object");
  JsonObject *o = json_node_get_object(root);
  std::set<std::string> known;
  TrainConfig c;
#define COCOEDIT_READ_FIELD(type, section, name, def, help)                                   \
  known.insert(#section "." #name);                                                           \
  if (json_object_has_member(o, #section)) {                                                  \
    JsonNode *s = json_object_get_member(o, #section);                                        \
    if (!JSON_NODE_HOLDS_OBJECT(s)) bad(origin, #section, "must be an object");               \
    JsonObject *so = json_node_get_object(s);                                                 \
    if (json_object_has_member(so, #name))                                                    \
      read(json_object_get_member(so, #name), c.section##_##name, origin, #section "." #name); \
  }
  COCOEDIT_TRAIN_FIELDS(COCOEDIT_READ_FIELD)
#undef COCOEDIT_READ_FIELD
  // Every key must be one we know.
  GList *sections = json_object_get_members(o);
  for (GList *s = sections; s; s = s->next) {
    JsonNode *sn = json_object_get_member(o, static_cast<const char *>(s->data));
    if (!JSON_NODE_HOLDS_OBJECT(sn)) continue;
    GList *keys = json_object_get_members(json_node_get_object(sn));
    for (GList *k = keys; k; k = k->next) {
      const std::string full = std::string(static_cast<const char *>(s->data)) + "." + static_cast<const char *>(k->data);
      if (!known.count(full)) {
        g_list_free(keys);
        g_list_free(sections);
        bad(origin, full, "unknown setting (see docs/training.md)");
      }
    }
    g_list_free(keys);
  }
  g_list_free(sections);
  c.validate();
  c.rl_policy = c.rl_loss == "grpo" ? PolicyLoss::kGrpo : PolicyLoss::kNft;
  return c;
}

}  // namespace

std::string show(const std::string &v) { return "\"" + v + "\""; }
std::string show(int64_t v) { return std::to_string(v); }
std::string show(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
std::string show(bool v) { return v ? "true" : "false"; }
std::string show(const StringList &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); i++) s += (i ? ", " : "") + show(v[i]);
  return s + "]";
}

void TrainConfig::validate() const {
  auto req = [](bool ok, const char *key, const char *what) {
    if (!ok) bad("config", key, what);
  };
  req(run_device == "auto" || run_device == "cpu" || run_device == "cuda", "run.device", "must be auto, cpu or cuda");
  req(run_seed >= 0, "run.seed", "must be >= 0");
  req(data_source == "generator" || data_source == "dataset", "data.source", "must be generator or dataset");
  req(data_source != "dataset" || !data_path.empty(), "data.path", "is needed when data.source is dataset");
  req(data_size >= 8 && data_size <= 2048, "data.size", "must be in 8..2048");
  req(data_split == "train" || data_split == "bench", "data.split", "must be train or bench");
  req(data_workers >= 1 && data_workers <= 256, "data.workers", "must be in 1..256");
  req(data_pool >= 0, "data.pool", "must be >= 0");
  req(data_pool == 0 || data_source == "generator", "data.pool", "is for the generator (a dataset is finite already)");
  req(optim_steps >= 0, "optim.steps", "must be >= 0");
  req(optim_batch_size >= 1, "optim.batch_size", "must be >= 1");
  req(optim_lr > 0 && std::isfinite(optim_lr), "optim.lr", "must be > 0");
  req(optim_warmup >= 0, "optim.warmup", "must be >= 0");
  req(optim_grad_clip > 0, "optim.grad_clip", "must be > 0");
  req(sft_ema >= 0 && sft_ema < 1, "sft.ema", "must be in [0, 1)");
  req(sft_text_dropout >= 0 && sft_text_dropout <= 1, "sft.text_dropout", "must be in [0, 1]");
  req(sft_edit_weight >= 0 && sft_edit_weight <= 1000, "sft.edit_weight", "must be in [0, 1000]");
  req(ae_crop >= 8 && ae_crop <= 4096, "ae.crop", "must be in 8..4096");
  req(ae_kl_weight >= 0 && ae_kl_weight <= 1, "ae.kl_weight", "must be in [0, 1]");
  req(sft_t_std > 0, "sft.t_std", "must be > 0");
  req(optim_recompute == "auto" || optim_recompute == "on" || optim_recompute == "off", "optim.recompute",
      "must be auto, on or off");
  req(rl_rollout_solver == "dpm2" || rl_rollout_solver == "euler", "rl.rollout_solver", "must be dpm2 or euler");
  req(rl_loss == "nft" || rl_loss == "grpo", "rl.loss", "must be nft or grpo");
  req(rl_prompts >= 1 && rl_group >= 2, "rl.group", "needs prompts >= 1 and group >= 2");
  req(rl_micro_batch >= 1, "rl.micro_batch", "must be >= 1");
  req(rl_rollout_steps >= 1 && rl_rollout_steps <= 1000, "rl.rollout_steps", "must be in 1..1000");
  req(rl_rollout_sigma_min >= 0 && rl_rollout_sigma_min < 1, "rl.rollout_sigma_min", "must be in [0, 1)");
  req(rl_train_timesteps >= 1 && rl_train_timesteps <= rl_rollout_steps, "rl.train_timesteps",
      "must be in 1..rl.rollout_steps");
  req(rl_beta > 0, "rl.beta", "must be > 0");
  req(rl_erode_radius >= 0, "rl.erode_radius", "must be >= 0");
  req(lora_rank >= 0, "lora.rank", "must be >= 0");
  req(reward_edit == "reference" || reward_edit == "mllm" || reward_edit == "none", "reward.edit",
      "must be reference, mllm or none");
  req(reward_w_edit >= 0 && reward_w_pixel >= 0, "reward.w_edit", "weights must be >= 0");
  req(log_every >= 1 && log_plot_every >= 1 && log_samples_every >= 1 && log_checkpoint_every >= 1, "log.every",
      "intervals must be >= 1");
  req(log_max_nonfinite >= 1, "log.max_nonfinite", "must be >= 1");
}

TrainConfig train_config_from_json(const std::string &text, const std::string &origin) {
  std::unique_ptr<JsonNode, NodeFree> root(parse_json(text, origin));
  return from_tree(root.get(), origin);
}

TrainConfig load_train_config(const std::string &path, const std::vector<std::string> &overrides) {
  std::string text = "{}", origin = "defaults";
  if (!path.empty()) {
    gchar *contents = nullptr;
    GError *error = nullptr;
    if (!g_file_get_contents(path.c_str(), &contents, nullptr, &error)) {
      std::string msg = error->message;
      g_clear_error(&error);
      fail(COCOEDIT_ERR_IO, msg);
    }
    text = contents;
    g_free(contents);
    origin = path;
  }
  std::unique_ptr<JsonNode, NodeFree> root(parse_json(text, origin));
  if (!root || !JSON_NODE_HOLDS_OBJECT(root.get())) fail(COCOEDIT_ERR_FORMAT, origin + ": the top level must be an object");
  for (const auto &o : overrides) apply_override(json_node_get_object(root.get()), o);
  return from_tree(root.get(), origin);
}

std::string train_config_to_json(const TrainConfig &c) {
  std::unique_ptr<JsonBuilder, Unref> b(json_builder_new());
  json_builder_begin_object(b.get());
  std::string open;
#define COCOEDIT_WRITE_FIELD(type, section, name, def, help) \
  if (open != #section) {                                    \
    if (!open.empty()) json_builder_end_object(b.get());     \
    json_builder_set_member_name(b.get(), #section);         \
    json_builder_begin_object(b.get());                      \
    open = #section;                                         \
  }                                                          \
  json_builder_set_member_name(b.get(), #name);              \
  write(b.get(), c.section##_##name);
  COCOEDIT_TRAIN_FIELDS(COCOEDIT_WRITE_FIELD)
#undef COCOEDIT_WRITE_FIELD
  json_builder_end_object(b.get());
  json_builder_end_object(b.get());
  std::unique_ptr<JsonGenerator, Unref> gen(json_generator_new());
  JsonNode *root = json_builder_get_root(b.get());
  json_generator_set_root(gen.get(), root);
  json_generator_set_pretty(gen.get(), TRUE);
  gchar *text = json_generator_to_data(gen.get(), nullptr);
  std::string out(text);
  g_free(text);
  json_node_unref(root);
  return out + "\n";
}

std::string train_config_reference() {
  TrainConfig d;
  std::string out = "| key | default | meaning |\n|---|---|---|\n";
#define COCOEDIT_DOC_FIELD(type, section, name, def, help) \
  out += "| `" #section "." #name "` | `" + show(d.section##_##name) + "` | " + help + " |\n";
  COCOEDIT_TRAIN_FIELDS(COCOEDIT_DOC_FIELD)
#undef COCOEDIT_DOC_FIELD
  return out;
}

}  // namespace cocoedit::train
