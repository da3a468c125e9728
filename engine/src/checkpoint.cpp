// checkpoint.cpp — see checkpoint.h.
#include "checkpoint.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "folder_io.h"
#include "json_config.h"
#include "safetensors.h"

namespace cocoedit {

namespace {

int64_t element_count(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The model is built from config.json before its weights are read: check
// first that the weight files hold about as many values as the transformer
// has parameters, so that a small file claiming a huge model cannot make us
// allocate it.  Within a factor of two the model is built, and the loader
// names the first tensor that differs.
void require_weights_cover(const ModelConfig &config, const std::string &dir) {
  int64_t need = 0, have = 0;
  for (const auto &s : flux::flux_parameter_shapes(transformer_params(config))) need += element_count(s.second);
  const WeightFiles files = open_weight_files(dir, "model");
  for (const auto &kv : files.tensors) have += element_count(kv.second.entry->shape);
  if (need > 2 * have)
    fail(COCOEDIT_ERR_FORMAT, dir + ": config.json describes a transformer of " + std::to_string(need) +
                                  " parameters, but the weight files hold " + std::to_string(have) + " values");
}

}  // namespace

EditModel load_model(const std::string &dir, const at::Device &device) {
  if (!g_file_test(dir.c_str(), G_FILE_TEST_IS_DIR))
    fail(COCOEDIT_ERR_IO, dir + ": no such model directory");
  const std::string config_path = dir + G_DIR_SEPARATOR_S + "config.json";
  if (!g_file_test(config_path.c_str(), G_FILE_TEST_EXISTS))
    fail(COCOEDIT_ERR_IO, dir + ": not a model directory (no config.json)");
  ModelConfig config = config_from_file(contained_file(dir, "config.json"));
  const bool legacy = config.format_version == 1;
  require_weights_cover(config, dir);
  EditModel model(config);
  load_model_weights(*model, dir, legacy);
  model->to(device);
  if (config.latent()) attach_autoencoder(*model, contained_file(dir, config.autoencoder), device);
  model->eval();
  return model;
}

void load_model_weights(EditModelImpl &model, const std::string &dir, bool legacy_names) {
  auto file_name = [&](const std::string &n) { return legacy_names ? legacy_parameter_name(n) : n; };
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto &[name, shape] : model.parameter_shapes()) expected[file_name(name)] = shape;
  auto weights = load_weights(dir, expected);
  torch::NoGradGuard no_grad;
  for (auto &item : model.named_parameters()) item.value().copy_(weights.at(file_name(item.key())));
}

void attach_autoencoder(EditModelImpl &model, const std::string &ae_dir, const at::Device &device) {
  if (!g_file_test(ae_dir.c_str(), G_FILE_TEST_IS_DIR))
    fail(COCOEDIT_ERR_IO, ae_dir + ": the model's autoencoder folder is missing");
  auto ae = std::shared_ptr<FluxAutoencoder>(FluxAutoencoder::from_diffusers_dir(ae_dir).release());
  const ModelConfig &c = model.config;
  const AutoencoderParams &p = ae->params();
  if (p.z_channels != c.in_channels || p.in_channels != 3 || p.out_ch != 3)
    fail(COCOEDIT_ERR_FORMAT, ae_dir + ": an RGB autoencoder with " + std::to_string(c.in_channels) +
                                  " latent channels (the model's in_channels) is needed; this one has " +
                                  std::to_string(p.z_channels));
  const int64_t g = static_cast<int64_t>(c.patch_size) * p.downsample_factor();
  if (c.image_size % g)
    fail(COCOEDIT_ERR_FORMAT, ae_dir + ": the model's image_size " + std::to_string(c.image_size) +
                                  " is not a multiple of its " + std::to_string(g) + "-pixel tokens");
  ae->to(device);
  model.codec = ImageCodec(std::move(ae));
}

EditModel create_model(const ModelConfig &config, uint64_t seed, const at::Device &device) {
  EditModel model(config);
  model->init_weights(seed);
  model->to(device);
  model->eval();
  return model;
}

void save_model(EditModelImpl &model, const std::string &dir, size_t max_shard_bytes) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto &item : model.named_parameters()) tensors.emplace_back(item.key(), item.value().detach().cpu());
  // The model's files are written together into a fresh folder that then
  // replaces `dir`: a failed save leaves the previous model whole.  Files of
  // the old folder that are not the model's (a model card) are kept.
  const ModelConfig &c = model.config;
  replace_folder(
      dir,
      [&](const std::string &fresh) {
        save_weights(fresh, tensors, dtype_from_config(c.dtype), max_shard_bytes,
                     {{"architecture", c.architecture}, {"name", c.name}});
        // The autoencoder is small and stays float32: unchanged regions
        // decode as trained.
        if (c.latent()) model.codec.autoencoder()->save_diffusers_dir(fresh + G_DIR_SEPARATOR_S + c.autoencoder, at::kFloat);
        write_file_atomic(fresh + G_DIR_SEPARATOR_S + "config.json", config_to_json(c));
      },
      [](const std::string &name) {
        const bool weights = g_str_has_prefix(name.c_str(), "model") &&
                             (g_str_has_suffix(name.c_str(), ".safetensors") || g_str_has_suffix(name.c_str(), ".json"));
        return !weights && name != "config.json";
      });
}

}  // namespace cocoedit
