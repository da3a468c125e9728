// run-state.cpp — see run-state.h.
#include "run-state.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <torch/serialize.h>

#include <cerrno>
#include <cstring>

#include "checkpoint.h"
#include "common.h"
#include "dist.h"
#include "error.h"
#include "folder_io.h"
#include "safetensors.h"

namespace cocoedit::train {

namespace {

std::string join(const std::string &a, const std::string &b) { return a + G_DIR_SEPARATOR_S + b; }

std::string state_to_json(const RunState &s) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "step");
  json_builder_add_int_value(b, s.step);
  json_builder_set_member_name(b, "data_pos");
  json_builder_add_int_value(b, static_cast<gint64>(s.data_pos));
  json_builder_set_member_name(b, "nonfinite_in_row");
  json_builder_add_int_value(b, s.nonfinite_in_row);
  json_builder_set_member_name(b, "banned");
  json_builder_begin_array(b);
  for (const auto &id : s.banned) json_builder_add_string_value(b, id.c_str());
  json_builder_end_array(b);
  json_builder_end_object(b);
  JsonNode *root = json_builder_get_root(b);
  gchar *text = json_to_string(root, TRUE);
  std::string out(text);
  g_free(text);
  json_node_unref(root);
  g_object_unref(b);
  return out + "\n";
}

RunState state_from_json(const std::string &path) {
  JsonParser *p = json_parser_new();
  GError *error = nullptr;
  if (!json_parser_load_from_file(p, path.c_str(), &error)) {
    std::string msg = error->message;
    g_clear_error(&error);
    g_object_unref(p);
    fail(COCOEDIT_ERR_FORMAT, path + ": " + msg);
  }
  JsonNode *root = json_parser_get_root(p);
  RunState s;
  bool ok = root && JSON_NODE_HOLDS_OBJECT(root);
  if (ok) {
    JsonObject *o = json_node_get_object(root);
    ok = json_object_has_member(o, "step") && json_object_has_member(o, "data_pos");
    if (ok) {
      s.step = json_object_get_int_member(o, "step");
      s.data_pos = static_cast<uint64_t>(json_object_get_int_member(o, "data_pos"));
      if (json_object_has_member(o, "nonfinite_in_row")) s.nonfinite_in_row = json_object_get_int_member(o, "nonfinite_in_row");
      if (json_object_has_member(o, "banned")) {
        JsonArray *a = json_object_get_array_member(o, "banned");
        for (guint i = 0; a && i < json_array_get_length(a); i++) s.banned.push_back(json_array_get_string_element(a, i));
      }
    }
  }
  g_object_unref(p);
  if (!ok || s.step < 0) fail(COCOEDIT_ERR_FORMAT, path + ": not a training state (needs step and data_pos)");
  return s;
}

}  // namespace

void save_checkpoint(const std::string &out_dir, const TrainConfig &config, const RunState &state,
                     const CheckpointParts &parts) {
  // Every part into a fresh folder that then replaces the checkpoint whole:
  // a failed save (disk full, I/O error, kill) leaves the previous one.
  replace_folder(join(out_dir, "checkpoint"), [&](const std::string &fresh) {
    try {
      for (const auto &[name, model] : parts.models) save_model(*model, join(fresh, name), 0);
      for (const auto &[stem, lora] : parts.loras) lora->save(join(fresh, stem + ".safetensors"));
      for (const auto &[name, ae] : parts.autoencoders) ae->save_diffusers_dir(join(fresh, name), at::kFloat);
      if (parts.optimizer) torch::save(*parts.optimizer, join(fresh, "optimizer.pt"));
    } catch (const c10::Error &e) {
      fail(COCOEDIT_ERR_IO, "saving the checkpoint failed (disk full?): " + std::string(e.what_without_backtrace()));
    }
    write_file_atomic(join(fresh, "train-config.json"), train_config_to_json(config));
    write_file_atomic(join(fresh, "state.json"), state_to_json(state));
  });
}

std::string find_checkpoint(const std::string &out_dir) {
  for (const char *name : {"checkpoint", "checkpoint.old"}) {
    const std::string d = join(out_dir, name);
    if (g_file_test(join(d, "state.json").c_str(), G_FILE_TEST_EXISTS)) return d;
  }
  return "";
}

RunState load_checkpoint(const std::string &dir, const CheckpointParts &parts) {
  RunState s = state_from_json(join(dir, "state.json"));
  for (const auto &[name, model] : parts.models) load_model_weights(*model, join(dir, name));
  for (const auto &[stem, lora] : parts.loras) lora->load(join(dir, stem + ".safetensors"));
  for (const auto &[name, ae] : parts.autoencoders) ae->load(join(join(dir, name), "diffusion_pytorch_model.safetensors"));
  if (parts.optimizer) torch::load(*parts.optimizer, join(dir, "optimizer.pt"));
  return s;
}

bool checkpoint_due(const TrainConfig &c, const RunState &state) {
  return state.step % c.log_checkpoint_every == 0 || state.step == c.optim_steps;
}

void checkpoint_if_due(const TrainConfig &c, const RunState &state, const CheckpointParts &parts, Dist &dist) {
  if (!checkpoint_due(c, state)) return;
  if (dist.main()) save_checkpoint(c.run_out_dir, c, state, parts);
  dist.barrier();
}

void skip_nonfinite_step(RunState &state, const TrainConfig &c, int rank, const std::string &what) {
  state.step++;
  if (++state.nonfinite_in_row >= c.log_max_nonfinite)
    fail(COCOEDIT_ERR_INTERNAL,
         "stopping: " + std::to_string(state.nonfinite_in_row) + " steps in a row had a non-finite " + what);
  say(rank, "step " + std::to_string(state.step) + ": non-finite " + what + ", step skipped");
}

}  // namespace cocoedit::train
