// samples.cpp — see samples.h.
#include "samples.h"

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include "cocodata.h"
#include "error.h"

namespace cocoedit::train {

namespace {

[[noreturn]] void data_error(GError *error, const std::string &context) {
  std::string msg = context + (error ? error->message : "unknown error");
  g_clear_error(&error);
  fail(COCOEDIT_ERR_IO, msg);
}

// RGB8 or GRAY8 pixels → (C, H, W) float in [0, 1], resized to size × size.
at::Tensor to_tensor(const guint8 *pixels, guint w, guint h, int channels, int64_t size, bool nearest) {
  auto t = at::from_blob(const_cast<guint8 *>(pixels), {static_cast<int64_t>(h), static_cast<int64_t>(w), channels},
                         at::kByte)
               .permute({2, 0, 1})
               .to(at::kFloat)
               .div(255.0)
               .unsqueeze(0);
  if (t.size(2) != size || t.size(3) != size)
    t = nearest ? at::upsample_nearest2d(t, {size, size}) : at::upsample_bilinear2d(t, {size, size}, false);
  return t.squeeze(0).contiguous();
}

}  // namespace

struct SampleSource::Impl {
  TrainConfig config;
  int rank = 0, world = 1;
  CocodataAssets *assets = nullptr;
  CocodataGenerator *gen = nullptr;
  CocodataDataset *ds = nullptr;
  std::mutex perm_mutex;
  uint64_t perm_epoch = UINT64_MAX;
  std::vector<size_t> perm;

  // Records of the finite set: the dataset's, or data.pool generator samples.
  size_t finite_size() const { return ds ? cocodata_dataset_size(ds) : static_cast<size_t>(config.data_pool); }

  // The record behind global sample g: a fresh seeded shuffle per epoch.
  size_t record(uint64_t g) {
    const size_t n = finite_size();
    std::lock_guard<std::mutex> lock(perm_mutex);
    const uint64_t epoch = g / n;
    if (epoch != perm_epoch) {
      perm.resize(n);
      for (size_t i = 0; i < n; i++) perm[i] = i;
      std::mt19937_64 rng(static_cast<uint64_t>(config.run_seed) * 1000003u + epoch);
      std::shuffle(perm.begin(), perm.end(), rng);
      perm_epoch = epoch;
    }
    return perm[g % n];
  }

  Sample make(uint64_t g) {
    CocodataSample s = {};
    GError *error = nullptr;
    const uint64_t key = finite_size() ? record(g) : g;
    if (gen) {
      if (!cocodata_generate(gen, key, &s, &error)) data_error(error, "generating sample " + std::to_string(key) + ": ");
    } else {
      if (!cocodata_dataset_get(ds, key, &s, &error)) data_error(error, "");
    }
    Sample out;
    const int64_t S = config.data_size;
    out.source = to_tensor(s.source, s.width, s.height, 3, S, false);
    if (s.target) out.target = to_tensor(s.target, s.width, s.height, 3, S, false);
    out.mask = to_tensor(s.mask, s.width, s.height, 1, S, true);
    out.prompt = s.prompt ? s.prompt : "";
    out.id = s.id ? s.id : std::to_string(key);
    out.key = key;
    out.edit_type = cocodata_edit_type_name(s.edit_type);
    out.lang = s.lang ? s.lang : "";
    cocodata_sample_clear(&s);
    return out;
  }
};

SampleSource::SampleSource(const TrainConfig &c, int rank, int world) : impl_(std::make_unique<Impl>()) {
  impl_->config = c;
  impl_->rank = rank;
  impl_->world = world;
  GError *error = nullptr;
  if (c.data_source == "dataset") {
    CocodataFormat format;
    if (!cocodata_format_parse(c.data_format.c_str(), &format))
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.format: unknown format \"" + c.data_format + "\"");
    impl_->ds = cocodata_dataset_open(c.data_path.c_str(), format, c.data_skip_bad, &error);
    if (!impl_->ds) data_error(error, "");
    if (cocodata_dataset_size(impl_->ds) == 0) fail(COCOEDIT_ERR_INVALID_ARGUMENT, c.data_path + ": the dataset is empty");
    return;
  }
  impl_->assets = cocodata_assets_open(c.data_assets.empty() ? nullptr : c.data_assets.c_str(), &error);
  if (!impl_->assets) data_error(error, "data.assets: ");
  CocodataGenConfig gc;
  cocodata_gen_config_init(&gc);
  // The generator draws at least 64 px; smaller sizes are resized from that.
  gc.size = static_cast<guint>(std::max<int64_t>(c.data_size, 64));
  gc.split = c.data_split == "bench" ? COCODATA_SPLIT_BENCH : COCODATA_SPLIT_TRAIN;
  gc.seed = static_cast<guint64>(c.run_seed);
  for (const auto &entry : c.data_edit_types) {
    // "recolor" or "recolor:3" (drawn 3 times as often as a type of weight 1)
    const auto colon = entry.find(':');
    const std::string name = entry.substr(0, colon);
    CocodataEditType t;
    if (!cocodata_edit_type_parse(name.c_str(), &t)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.edit_types: unknown \"" + name + "\"");
    gc.edit_types |= 1u << t;
    if (colon != std::string::npos) {
      const std::string w = entry.substr(colon + 1);
      gchar *end = nullptr;
      const guint64 v = g_ascii_strtoull(w.c_str(), &end, 10);
      if (w.empty() || *end || v < 1 || v > 1000)
        fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.edit_types: \"" + entry + "\": the weight after ':' must be a whole number from 1 to 1000");
      gc.type_weights[t] = static_cast<guint>(v);
    }
  }
  for (const auto &name : c.data_langs) {
    CocodataLang l;
    if (!cocodata_lang_parse(name.c_str(), &l)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.langs: unknown \"" + name + "\"");
    gc.langs |= 1u << l;
  }
  impl_->gen = cocodata_generator_new(impl_->assets, &gc, &error);
  if (!impl_->gen) data_error(error, "data: ");
}

SampleSource::~SampleSource() {
  if (impl_->gen) cocodata_generator_free(impl_->gen);
  if (impl_->assets) cocodata_assets_free(impl_->assets);
  if (impl_->ds) cocodata_dataset_free(impl_->ds);
}

size_t SampleSource::size() const { return impl_->finite_size(); }

std::string SampleSource::describe() const {
  if (impl_->ds) return impl_->config.data_path + " (" + std::to_string(size()) + " records)";
  const std::string pool = size() ? ", pool of " + std::to_string(size()) + " samples" : "";
  return "generator, split " + impl_->config.data_split + ", " + std::to_string(impl_->config.data_size) + " px" + pool;
}

std::vector<Sample> SampleSource::get(uint64_t first, int n) {
  std::vector<Sample> out(n);
  std::vector<std::string> errors(n);
  const int workers = std::max(1, std::min<int>(impl_->config.data_workers, n));
  auto work = [&](int w) {
    for (int i = w; i < n; i += workers) {
      try {
        out[i] = impl_->make((first + i) * impl_->world + impl_->rank);
      } catch (const std::exception &e) {
        errors[i] = e.what();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; w++) threads.emplace_back(work, w);
  work(0);
  for (auto &t : threads) t.join();
  for (const auto &e : errors)
    if (!e.empty()) fail(COCOEDIT_ERR_IO, e);
  return out;
}

Batch stack(const std::vector<Sample> &samples, const at::Device &device) {
  Batch b;
  std::vector<at::Tensor> src, tgt, mask;
  bool targets = true;
  for (const auto &s : samples) {
    src.push_back(s.source);
    mask.push_back(s.mask);
    targets = targets && s.target.defined();
    if (s.target.defined()) tgt.push_back(s.target);
    b.prompts.push_back(s.prompt);
    b.ids.push_back(s.id);
    b.edit_types.push_back(s.edit_type);
    b.langs.push_back(s.lang);
    b.keys.push_back(s.key);
  }
  b.source = at::stack(src).to(device);
  b.mask = at::stack(mask).to(device);
  if (targets && !tgt.empty()) b.target = at::stack(tgt).to(device);
  return b;
}

std::vector<std::string> prompts_of(const Batch &b, int64_t i, int64_t n) {
  return std::vector<std::string>(b.prompts.begin() + i, b.prompts.begin() + i + n);
}

}  // namespace cocoedit::train
