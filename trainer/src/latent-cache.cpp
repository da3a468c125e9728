// latent-cache.cpp — see latent-cache.h.
#include "latent-cache.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <cstdio>
#include <vector>

#include "common.h"
#include "error.h"
#include "safetensors.h"

namespace cocoedit::train {

namespace {

const char *kIdentity = "cocoedit.latent_cache";

std::string file_prefix(int rank) { return "rank-" + std::to_string(rank) + "-"; }

}  // namespace

void require_same_pictures(const std::string &checkpoint, const TrainConfig &c) {
  const TrainConfig was = load_train_config(checkpoint + G_DIR_SEPARATOR_S + "train-config.json", {});
  std::string changed;
  auto compare = [&](const char *name, const auto &before, const auto &now) {
    if (!(before == now)) changed += std::string(changed.empty() ? "" : "; ") + name + " was " + show(before) + ", now " + show(now);
  };
  compare("run.seed", was.run_seed, c.run_seed);
  compare("data.source", was.data_source, c.data_source);
  compare("data.path", was.data_path, c.data_path);
  compare("data.format", was.data_format, c.data_format);
  compare("data.skip_bad", was.data_skip_bad, c.data_skip_bad);
  compare("data.size", was.data_size, c.data_size);
  compare("data.split", was.data_split, c.data_split);
  compare("data.edit_types", was.data_edit_types, c.data_edit_types);
  compare("data.langs", was.data_langs, c.data_langs);
  compare("data.pool", was.data_pool, c.data_pool);
  if (!changed.empty())
    fail(COCOEDIT_ERR_INVALID_ARGUMENT,
         "the data settings changed since " + checkpoint + " (" + changed +
             "): its latent cache holds the encodings of other pictures. Resume with the checkpoint's settings, or "
             "delete the run's latent-cache folder (or set data.cache_latents=false) to train on the new ones");
}

LatentCache::LatentCache(const ImageCodec &codec, int64_t size, const std::string &dir, int rank, int64_t step)
    : codec_(codec), dir_(dir), rank_(rank) {
  identity_ = "autoencoder " + weights_fingerprint(codec.autoencoder()->parameters()) + ", " + std::to_string(size) + " px";
  if (dir_.empty() || !g_file_test(dir_.c_str(), G_FILE_TEST_IS_DIR)) return;
  GDir *d = g_dir_open(dir_.c_str(), 0, nullptr);
  if (!d) return;
  std::vector<std::string> names;
  const std::string prefix = file_prefix(rank_);
  while (const char *name = g_dir_read_name(d)) {
    // rank-R-<step>.safetensors, written at <step>; later ones belong to a run that went past the checkpoint.
    gchar *end = nullptr;
    if (!g_str_has_prefix(name, prefix.c_str())) continue;
    const guint64 written = g_ascii_strtoull(name + prefix.size(), &end, 10);
    if (end != name + prefix.size() && g_strcmp0(end, ".safetensors") == 0 && written <= static_cast<guint64>(step))
      names.push_back(name);
  }
  g_dir_close(d);
  for (const auto &name : names) {
    const std::string path = dir_ + G_DIR_SEPARATOR_S + name;
    SafetensorsFile f(path);
    auto it = f.metadata().find(kIdentity);
    if (it == f.metadata().end() || it->second != identity_) {
      say(rank_, path + ": made with another autoencoder or picture size; not used");
      continue;
    }
    std::map<uint64_t, Entry> found;
    for (const auto &e : f.entries()) {
      // "<key>/target" or "<key>/source"
      const auto slash = e.name.find('/');
      gchar *end = nullptr;
      const std::string key_text = e.name.substr(0, slash);
      const guint64 key = g_ascii_strtoull(key_text.c_str(), &end, 10);
      if (slash == std::string::npos || key_text.empty() || *end || e.dtype != at::kFloat)
        fail(COCOEDIT_ERR_FORMAT, path + ": unexpected tensor \"" + e.name + "\" in a latent cache file");
      Entry &entry = found[key];
      (e.name.substr(slash + 1) == "target" ? entry.target : entry.source) = f.read(e);
    }
    for (auto &[key, entry] : found) {
      if (!entry.target.defined() || !entry.source.defined())
        fail(COCOEDIT_ERR_FORMAT, path + ": record " + std::to_string(key) + " lacks its source or target latents");
      entries_[key] = std::move(entry);
    }
  }
  if (!entries_.empty()) say(rank_, "latent cache: " + std::to_string(entries_.size()) + " records read from " + dir_);
}

std::pair<at::Tensor, at::Tensor> LatentCache::encode(const Batch &b) {
  const int64_t n = b.source.size(0);
  std::vector<int64_t> missing;
  for (int64_t i = 0; i < n; i++)
    if (!entries_.count(b.keys[i])) missing.push_back(i);
  if (!missing.empty()) {
    at::NoGradGuard no_grad;
    auto rows = at::tensor(missing, at::kLong).to(b.source.device());
    auto target = codec_.encode(b.target.index_select(0, rows) * 2 - 1).cpu();
    auto source = codec_.encode(b.source.index_select(0, rows) * 2 - 1).cpu();
    for (size_t j = 0; j < missing.size(); j++) {
      Entry e{target[j].clone(), source[j].clone()};
      entries_[b.keys[missing[j]]] = e;
      if (!dir_.empty()) unsaved_[b.keys[missing[j]]] = e;
    }
  }
  std::vector<at::Tensor> target, source;
  for (int64_t i = 0; i < n; i++) {
    const Entry &e = entries_.at(b.keys[i]);
    target.push_back(e.target);
    source.push_back(e.source);
  }
  return {at::stack(target).to(b.source.device()), at::stack(source).to(b.source.device())};
}

void LatentCache::save(int64_t step) {
  if (dir_.empty() || unsaved_.empty()) return;
  if (g_mkdir_with_parents(dir_.c_str(), 0755) != 0)
    fail(COCOEDIT_ERR_IO, dir_ + ": cannot create the latent cache folder");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto &[key, e] : unsaved_) {
    tensors.emplace_back(std::to_string(key) + "/target", e.target);
    tensors.emplace_back(std::to_string(key) + "/source", e.source);
  }
  char name[64];
  std::snprintf(name, sizeof name, "%08lld.safetensors", static_cast<long long>(step));
  write_safetensors(dir_ + G_DIR_SEPARATOR_S + file_prefix(rank_) + name, tensors, at::kFloat, {{kIdentity, identity_}});
  unsaved_.clear();
}

}  // namespace cocoedit::train
