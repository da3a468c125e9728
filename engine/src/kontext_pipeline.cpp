// kontext_pipeline.cpp — see kontext_pipeline.h.  The steps follow BFL's
// cli_kontext.py: tokenize (CLIP 77, T5 512, no masks), encode the text,
// encode the reference (the crop) with the autoencoder in float32, draw the
// noise as get_noise() does, run the Euler loop of sampling.py:denoise with
// embedded guidance, decode.
#include "kontext_pipeline.h"

#include <glib.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <utility>

#include "ae/flux_autoencoder.h"
#include "ae/latent_packing.h"
#include "autocast.h"
#include "error.h"
#include "flux/flux_sampling.h"
#include "flux/flux_weights.h"
#include "kontext_files.h"
#include "flux/flux_lora.h"
#include "memory.h"
#include "region.h"
#include "text/clip_text.h"
#include "text/t5_encoder.h"
#include "tokenizers/clip_tokenizer.h"
#include "tokenizers/t5_tokenizer.h"

namespace cocoedit {
namespace {

// BFL util.py PREFERED_KONTEXT_RESOLUTIONS, (width, height).
constexpr int kPreferred[][2] = {
    {672, 1568}, {688, 1504}, {720, 1456}, {752, 1392}, {800, 1328}, {832, 1248},
    {880, 1184}, {944, 1104}, {1024, 1024}, {1104, 944}, {1184, 880}, {1248, 832},
    {1328, 800}, {1392, 752}, {1456, 720}, {1504, 688}, {1568, 672}};
constexpr int kGranularity = 16;  // 8× autoencoder, then 2×2 packing
constexpr int kT5Length = 512;
constexpr int kDefaultSteps = 30;
constexpr double kDefaultGuidance = 2.5;

// The preferred resolution of the aspect ratio nearest the crop's (the first
// one on ties, as Python's min over tuples), snapped as prepare_kontext does.
std::pair<int, int> preferred_dims(int64_t w, int64_t h) {
  const double aspect = static_cast<double>(w) / static_cast<double>(h);
  double best = std::numeric_limits<double>::infinity();
  int bw = 1024, bh = 1024;
  for (const auto &r : kPreferred) {
    const double d = std::fabs(aspect - static_cast<double>(r[0]) / r[1]);
    if (d < best) best = d, bw = r[0], bh = r[1];
  }
  return {bw / kGranularity * kGranularity, bh / kGranularity * kGranularity};
}

int64_t count(const std::vector<at::Tensor> &ts) {
  int64_t n = 0;
  for (const auto &t : ts) n += t.numel();
  return n;
}

std::string dtype_text(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kFloat: return "float32";
    default: return c10::toString(t);
  }
}

bool is_dir(const std::string &p) { return g_file_test(p.c_str(), G_FILE_TEST_IS_DIR); }

// Loads one component; when its sizes came from the FLUX.1 preset (a single
// file without a config), a shape mismatch says how to give the right ones.
template <typename Load>
auto with_preset_hint(const char *config_key, const std::string &config, Load load) -> decltype(load()) {
  try {
    return load();
  } catch (const Error &e) {
    if (!config.empty() || e.code() != COCOEDIT_ERR_FORMAT) throw;
    fail(COCOEDIT_ERR_FORMAT, std::string(e.what()) + " (no " + config_key +
                                  " was given, so the full FLUX.1 sizes were assumed; name its config.json as \"" +
                                  config_key + "\" in a model description file)");
  }
}

int64_t dtype_bytes(at::ScalarType t) { return static_cast<int64_t>(c10::elementSize(t)); }

// What the folder's weights take as they will run, and one edit at the
// default working size (1024 px long side), from the configs and file sizes
// alone.  Activations: the transformer's live tensors at L tokens (about 12
// rows of L×hidden; attention runs fused, so nothing grows with L²) and the
// autoencoder's decode at full resolution (about 6 maps of ch×H×W in fp32).
MemoryNeed kontext_memory(const flux::FluxParams &p, const AutoencoderParams &ae, const std::string &transformer,
                          const std::string &clip, const std::string &t5, at::ScalarType dtype) {
  int64_t n_transformer = 0;
  for (const auto &kv : flux::flux_parameter_shapes(p)) {
    int64_t n = 1;
    for (int64_t d : kv.second) n *= d;
    n_transformer += n;
  }
  MemoryNeed m;
  m.text_weights = safetensors_bytes(clip) + safetensors_bytes(t5);
  m.weights = (dtype == at::ScalarType::Undefined ? safetensors_bytes(transformer)
                                                  : n_transformer * dtype_bytes(dtype)) +
              m.text_weights + FluxAutoencoder::parameter_count(ae) * 4;
  m.edit_long_side = 1024;
  const int64_t side = m.edit_long_side, tokens = kT5Length + 2 * (side / kGranularity) * (side / kGranularity);
  const int64_t act_bytes = dtype == at::kFloat ? 4 : 2;
  m.edit = 12 * tokens * p.hidden_size * act_bytes + 6 * ae.ch * side * side * 4;
  return m;
}

class KontextPipeline : public Pipeline {
 public:
  KontextPipeline(const KontextFiles &files, const at::Device &device, at::ScalarType dtype,
                  const std::vector<LoraFile> &loras, const StageFn &on_stage)
      : device_(device) {
    // Never load more than the device holds: say so before the first byte.
    const bool transformer_dir = is_dir(files.transformer);
    const flux::FluxParams params = !files.transformer_config.empty()
                                        ? flux::read_diffusers_config(files.transformer_config)
                                        : flux::flux_preset("flux-dev-kontext");
    const AutoencoderParams ae_params =
        files.vae_config.empty() ? AutoencoderParams{} : load_autoencoder_params(files.vae_config);
    info_.memory = kontext_memory(params, ae_params, files.transformer, files.clip, files.t5, dtype);
    const Placement placement = place_text_encoders("FLUX.1 Kontext", info_.memory, device_, free_memory(device_),
                                                    free_memory(at::kCPU));
    text_device_ = placement.text_on_host ? at::Device(at::kCPU) : device_;

    const std::string &dir = files.origin;
    enter_stage(on_stage, COCOEDIT_STAGE_LOAD_TEXT_ENCODERS);
    clip_tokenizer_ = std::make_unique<ClipTokenizer>(files.clip_tokenizer);
    t5_tokenizer_ = std::make_unique<T5Tokenizer>(files.t5_tokenizer);
    clip_ = with_preset_hint("clip_l_config", files.clip_config, [&] {
      return load_clip_text(files.clip_config.empty() ? clip_vit_l14_config()
                                                      : clip_text_config_from_file(files.clip_config),
                            files.clip, text_device_);
    });
    t5_ = with_preset_hint("t5xxl_config", files.t5_config, [&] {
      return load_t5_encoder(files.t5_config.empty() ? t5_v1_1_xxl_config() : t5_config_from_file(files.t5_config),
                             files.t5, text_device_);
    });
    enter_stage(on_stage, COCOEDIT_STAGE_LOAD_IMAGE_CODEC);
    ae_ = with_preset_hint("vae_config", files.vae_config, [&] {
      std::unique_ptr<FluxAutoencoder> ae;
      if (is_dir(files.vae)) {
        ae = FluxAutoencoder::from_diffusers_dir(files.vae, ae_params, at::kFloat);
      } else {
        ae = std::make_unique<FluxAutoencoder>(ae_params, at::kFloat);
        ae->load(files.vae);
      }
      return ae;
    });
    ae_->to(device_);
    enter_stage(on_stage, COCOEDIT_STAGE_LOAD_TRANSFORMER);
    net_ = with_preset_hint("transformer_config", files.transformer_config, [&] {
      flux::WeightMap weights = transformer_dir ? flux::read_diffusers_weights(files.transformer, params)
                                                : flux::read_single_file_weights(files.transformer, params);
      // A dtype other than the stored one is a converted copy the user asked
      // for, made tensor by tensor.
      if (dtype != at::ScalarType::Undefined)
        for (auto &kv : weights) kv.second = kv.second.to(dtype);
      // LoRAs go into the tensors, in the dtype they run in, before the
      // module takes them.
      for (const auto &l : loras) flux::merge_lora(weights, params, l.path, l.scale);
      return flux::Flux(params, weights, files.transformer);
    });
    net_->to(device_);
    dtype_ = net_->dtype();

    const auto &p = net_->params;
    info_.family = "flux-kontext";
    info_.name = files.name;
    info_.architecture = "flux";
    info_.dtype = dtype_text(dtype_);
    info_.working_size = 1024;
    info_.granularity = kGranularity;
    info_.default_steps = kDefaultSteps;
    info_.default_guidance = kDefaultGuidance;
    info_.guidance_embedded = p.guidance_embed;
    info_.mask_channel = false;
    const int64_t n_net = count(net_->parameters());
    const int64_t n_ae = FluxAutoencoder::parameter_count(ae_->params());
    info_.components = {
        {"transformer", "flux", n_net, dtype_text(dtype_)},
        {"vae", "flux-ae", n_ae, dtype_text(ae_->dtype())},
        {"text_encoder", "clip-text", clip_->parameter_count(), dtype_text(clip_->stored_dtype())},
        {"text_encoder_2", "t5-encoder", t5_->parameter_count(), dtype_text(t5_->stored_dtype())},
    };
    for (const auto &c : info_.components) info_.n_parameters += c.n_parameters;
    if (p.context_in_dim != t5_->config().d_model || p.vec_in_dim != clip_->config().hidden_size)
      fail(COCOEDIT_ERR_FORMAT, dir + ": the transformer expects text features of width " +
                                    std::to_string(p.context_in_dim) + " and pooled width " +
                                    std::to_string(p.vec_in_dim) + ", but T5 gives " +
                                    std::to_string(t5_->config().d_model) + " and CLIP " +
                                    std::to_string(clip_->config().hidden_size));
  }

  const PipelineInfo &info() const override { return info_; }
  std::string placement() const override {
    return text_device_ == device_ ? "" : "text encoders on the CPU (the model does not fit " + device_.str() + ")";
  }
  const at::Device &device() const override { return device_; }

  at::Tensor edit(const at::Tensor &source, const at::Tensor &mask, const EditRequest &req) override {
    const int64_t h = source.size(2), w = source.size(3);
    const auto [ww, wh] = req.working_size > 0
                              ? working_dims(static_cast<int>(w), static_cast<int>(h), req.working_size, kGranularity)
                              : preferred_dims(w, h);

    enter_stage(req.on_stage, COCOEDIT_STAGE_ENCODE);
    const auto [txt, vec] = text_features(req.prompt);

    // The reference: the crop at the working size, encoded in float32, then
    // cast to the transformer's dtype and packed with ids (1, row, col).
    const at::Tensor x = (resize(source, wh, ww) * 2.0 - 1.0).to(device_);
    const at::Tensor ref_latent = ae_->encode(x).to(dtype_);
    const int64_t rows = ref_latent.size(2) / 2, cols = ref_latent.size(3) / 2;
    const at::Tensor img_cond = pack_latents(ref_latent);
    const at::Tensor img_cond_ids = flux::image_ids(1, rows, cols, 1.0).to(device_);

    // get_noise: bf16 normals from a CPU generator seeded with the seed
    // (then cast for a float32 run, as the reference's fp32 pipeline does).
    auto gen = at::make_generator<at::CPUGeneratorImpl>(req.seed);
    const at::Tensor noise = at::randn({1, 16, 2 * ((wh + 15) / 16), 2 * ((ww + 15) / 16)}, gen,
                                       at::TensorOptions().dtype(at::kBFloat16));
    const at::Tensor img = pack_latents(noise.to(device_, dtype_));
    const at::Tensor img_ids = flux::image_ids(1, rows, cols, 0.0).to(device_);
    const at::Tensor txt_ids = flux::text_ids(1, txt.size(1)).to(device_);

    const auto schedule = flux::get_schedule(req.steps, img.size(1));
    enter_stage(req.on_stage, COCOEDIT_STAGE_SAMPLE);
    int done = 0;
    const at::Tensor out = flux::denoise(
        net_, img, img_ids, txt, txt_ids, vec, schedule, req.guidance, img_cond, img_cond_ids,
        [&](int, const at::Tensor &) {
          ++done;
          if (req.on_step && !req.on_step(done, req.steps)) fail(COCOEDIT_ERR_CANCELLED, "cancelled");
        });

    // Decode as cli_kontext.py: under bf16 autocast when the model runs in
    // bf16, in float32 otherwise.
    enter_stage(req.on_stage, COCOEDIT_STAGE_DECODE);
    const at::Tensor latent = unpack_tokens(out.to(at::kFloat), rows, cols);
    at::Tensor decoded;
    {
      AutocastScope autocast(device_.type(), dtype_ == at::kBFloat16);
      decoded = ae_->decode(latent);
    }
    const at::Tensor pixels = ((decoded.to(at::kCPU, at::kFloat).clamp(-1.0, 1.0) + 1.0) * 0.5);
    return (wh == h && ww == w) ? pixels : resize(pixels, static_cast<int>(h), static_cast<int>(w));
  }

 private:
  at::Device device_;
  at::ScalarType dtype_ = at::kBFloat16;
  PipelineInfo info_;
  // T5's hidden states and CLIP's pooled output for `prompt`, no attention
  // masks (BFL's HFEmbedder), on the transformer's device.  The last
  // prompt's are kept: the plug-in's preview and apply, and variations,
  // run the same prompt again, and T5-XXL is the slow part on a CPU.
  std::pair<at::Tensor, at::Tensor> text_features(const std::string &prompt) {
    std::lock_guard<std::mutex> lock(text_mutex_);
    if (!cached_txt_.defined() || cached_prompt_ != prompt) {
      const ClipTokens ct = clip_tokenizer_->encode(prompt);
      const T5Tokens tt = t5_tokenizer_->encode(prompt, kT5Length);
      const at::Tensor clip_ids = at::tensor(ct.ids, at::kLong).unsqueeze(0).to(text_device_);
      const at::Tensor t5_ids = at::tensor(tt.ids, at::kLong).unsqueeze(0).to(text_device_);
      cached_txt_ = t5_->forward(t5_ids, dtype_).to(device_);
      cached_vec_ = clip_->forward(clip_ids, dtype_).pooled.to(device_);
      cached_prompt_ = prompt;
    }
    return {cached_txt_, cached_vec_};
  }

  std::unique_ptr<ClipTokenizer> clip_tokenizer_;
  std::unique_ptr<T5Tokenizer> t5_tokenizer_;
  std::unique_ptr<ClipTextModel> clip_;
  std::unique_ptr<T5Encoder> t5_;
  std::unique_ptr<FluxAutoencoder> ae_;
  flux::Flux net_{nullptr};
  at::Device text_device_{at::kCPU};  // device_, or the CPU when the GPU is short
  std::mutex text_mutex_;
  std::string cached_prompt_;
  at::Tensor cached_txt_, cached_vec_;
};

}  // namespace

std::unique_ptr<Pipeline> open_kontext_pipeline(const KontextFiles &files, const at::Device &device,
                                                at::ScalarType dtype, const std::vector<LoraFile> &loras,
                                                const StageFn &on_stage) {
  return std::make_unique<KontextPipeline>(files, device, dtype, loras, on_stage);
}

}  // namespace cocoedit
