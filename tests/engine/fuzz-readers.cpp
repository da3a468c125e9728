// fuzz-readers.cpp — a bounded mutation fuzzer for the checkpoint and config
// readers: `fuzz-readers SECONDS [SEED]`.  Valid inputs are mutated (bit
// flips, byte changes, insertions, deletions, truncation, number splices)
// and fed to SafetensorsFile::from_bytes, the CoCoEdit config reader, the
// FLUX.1 Kontext component configs (transformer, T5, CLIP, autoencoder) and
// the FLUX LoRA reader.  Rejection
// with cocoedit::Error is the expected outcome; any other exception, a
// crash or a sanitizer report fails the run.
#include <glib.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "ae/ae_config.h"
#include "config.h"
#include "error.h"
#include "flux/flux_lora.h"
#include "flux/flux_weights.h"
#include "safetensors.h"
#include "text/clip_text.h"
#include "text/t5_encoder.h"

using namespace cocoedit;

// A safetensors file of `header` and `data_len` bytes of data.
static std::string safetensors_bytes_of(const std::string &header, size_t data_len) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; i++) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + std::string(data_len, '\x3f');
}

static std::string seed_safetensors() {
  return safetensors_bytes_of(
      R"({"__metadata__":{"architecture":"cocoedit-kontext"},)"
      R"("a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b.bias":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},)"
      R"("c":{"dtype":"F16","shape":[],"data_offsets":[32,34]}})",
      34);
}

// A rank-2 diffusers LoRA on one module of the kFluxConfig transformer
// (hidden size 64), and a kohya one with its alpha.
static std::string seed_lora() {
  return safetensors_bytes_of(
      R"({"__metadata__":{"lora_adapter_metadata":"{\"transformer.lora_alpha\": 4, \"transformer.r\": 2}"},)"
      R"("transformer.transformer_blocks.0.attn.to_k.lora_A.weight":{"dtype":"F32","shape":[2,64],"data_offsets":[0,512]},)"
      R"("transformer.transformer_blocks.0.attn.to_k.lora_B.weight":{"dtype":"BF16","shape":[64,2],"data_offsets":[512,768]},)"
      R"("lora_unet_single_blocks_1_linear2.lora_down.weight":{"dtype":"F16","shape":[1,320],"data_offsets":[768,1408]},)"
      R"("lora_unet_single_blocks_1_linear2.lora_up.weight":{"dtype":"F16","shape":[64,1],"data_offsets":[1408,1536]},)"
      R"("lora_unet_single_blocks_1_linear2.alpha":{"dtype":"F32","shape":[],"data_offsets":[1536,1540]}})",
      1540);
}

static std::string seed_config() {
  return R"({"name":"x","architecture":"cocoedit-kontext","format_version":1,"image_size":32,)"
         R"("patch_size":4,"hidden_size":64,"num_heads":2,"depth_double":1,"depth_single":1,)"
         R"("axes_dim":[8,12,12],"text":{"max_bytes":64,"hidden_size":32,"depth":1,"num_heads":2},)"
         R"("dtype":"float32"})";
}

// The component configs of a diffusers FLUX.1-Kontext-dev folder, as small
// as the tiny golden folder's.
static const char *kFluxConfig =
    R"({"_class_name":"FluxTransformer2DModel","attention_head_dim":32,"axes_dims_rope":[8,12,12],)"
    R"("guidance_embeds":true,"in_channels":64,"joint_attention_dim":32,"num_attention_heads":2,)"
    R"("num_layers":2,"num_single_layers":2,"out_channels":null,"patch_size":1,"pooled_projection_dim":24})";
static const char *kT5Config =
    R"({"d_ff":80,"d_kv":8,"d_model":32,"dense_act_fn":"gelu_new","feed_forward_proj":"gated-gelu",)"
    R"("layer_norm_epsilon":1e-06,"num_heads":4,"num_layers":2,"relative_attention_max_distance":128,)"
    R"("relative_attention_num_buckets":32,"vocab_size":32128})";
static const char *kClipConfig =
    R"({"bos_token_id":0,"eos_token_id":2,"hidden_act":"quick_gelu","hidden_size":24,)"
    R"("intermediate_size":96,"layer_norm_eps":1e-05,"max_position_embeddings":77,)"
    R"("num_attention_heads":2,"num_hidden_layers":2,"vocab_size":49408})";
static const char *kAeConfig =
    R"({"_class_name":"AutoencoderKL","act_fn":"silu","block_out_channels":[32,32,32,64],)"
    R"("down_block_types":["DownEncoderBlock2D","DownEncoderBlock2D","DownEncoderBlock2D","DownEncoderBlock2D"],)"
    R"("in_channels":3,"latent_channels":16,"layers_per_block":1,"mid_block_add_attention":true,)"
    R"("norm_num_groups":32,"out_channels":3,"scaling_factor":0.3611,"shift_factor":0.1159,)"
    R"("up_block_types":["UpDecoderBlock2D","UpDecoderBlock2D","UpDecoderBlock2D","UpDecoderBlock2D"],)"
    R"("use_post_quant_conv":false,"use_quant_conv":false})";

static std::string mutate(std::string s, GRand *r) {
  const int n = g_rand_int_range(r, 1, 5);
  static const char *splices[] = {"-1", "0", "18446744073709551615", "1e309", "\"\"", "[]", "{}",
                                  "null", "9999999999", "\xff\xfe", "\"F64\"", "[0,0]"};
  for (int i = 0; i < n && !s.empty(); i++) {
    const size_t pos = g_rand_int_range(r, 0, static_cast<gint32>(s.size()));
    switch (g_rand_int_range(r, 0, 6)) {
      case 0: s[pos] = static_cast<char>(s[pos] ^ (1 << g_rand_int_range(r, 0, 8))); break;
      case 1: s[pos] = static_cast<char>(g_rand_int_range(r, 0, 256)); break;
      case 2: s.insert(pos, 1, static_cast<char>(g_rand_int_range(r, 0, 256))); break;
      case 3: s.erase(pos, g_rand_int_range(r, 1, 8)); break;
      case 4: s.resize(pos); break;
      case 5: s.insert(pos, splices[g_rand_int_range(r, 0, G_N_ELEMENTS(splices))]); break;
    }
  }
  return s;
}

int main(int argc, char **argv) {
  const double seconds = argc > 1 ? g_ascii_strtod(argv[1], nullptr) : 5.0;
  const guint32 seed = argc > 2 ? static_cast<guint32>(g_ascii_strtoull(argv[2], nullptr, 10)) : 1;
  GRand *r = g_rand_new_with_seed(seed);
  const std::string st = seed_safetensors();
  // Each reader with an input it accepts.
  struct Reader {
    const char *name;
    std::string seed;
    std::function<void(const std::string &)> parse;
  };
  const std::vector<Reader> readers = {
      {"safetensors", st,
       [](const std::string &in) {
         auto f = SafetensorsFile::from_bytes(reinterpret_cast<const uint8_t *>(in.data()), in.size(), "fuzz");
         for (const auto &e : f->entries()) f->read(e);  // reading what was accepted must be safe
       }},
      {"cocoedit config", seed_config(), [](const std::string &in) { config_from_json(in, "fuzz"); }},
      {"flux config", kFluxConfig,
       [](const std::string &in) { flux::diffusers_config_from_json(in, "fuzz").validate("fuzz"); }},
      {"t5 config", kT5Config, [](const std::string &in) { t5_config_from_json(in, "fuzz"); }},
      {"clip config", kClipConfig, [](const std::string &in) { clip_text_config_from_json(in, "fuzz"); }},
      {"autoencoder config", kAeConfig, [](const std::string &in) { autoencoder_params_from_json(in, "fuzz"); }},
      {"flux lora", seed_lora(),
       [](const std::string &in) {
         static const flux::FluxParams p = flux::diffusers_config_from_json(kFluxConfig, "fuzz");
         auto f = SafetensorsFile::from_bytes(reinterpret_cast<const uint8_t *>(in.data()), in.size(), "fuzz");
         flux::read_flux_lora(*f, p);
       }},
  };
  std::vector<long> tried(readers.size()), took(readers.size());
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(seconds * 1e6);

  // The seeds themselves must be accepted, or the fuzzer tests nothing.
  for (const Reader &rd : readers) {
    try {
      rd.parse(rd.seed);
    } catch (const std::exception &e) {
      std::fprintf(stderr, "fuzz: the %s seed is refused: %s\n", rd.name, e.what());
      return 1;
    }
  }

  long runs = 0;
  while (g_get_monotonic_time() < end) {
    for (int i = 0; i < 200; i++, runs++) {
      const size_t k = static_cast<size_t>(runs) % readers.size();
      const std::string input = mutate(readers[k].seed, r);
      tried[k]++;
      try {
        readers[k].parse(input);
        took[k]++;
      } catch (const Error &) {
        // rejected with a message: fine
      } catch (const std::exception &e) {
        std::fprintf(stderr, "fuzz: %s: unexpected exception on input %ld: %s\n", readers[k].name, runs, e.what());
        return 1;
      }
    }
  }
  std::printf("fuzz-readers: %ld inputs in %.0f s, no crash\n", runs, seconds);
  for (size_t k = 0; k < readers.size(); k++)
    std::printf("  %-20s %8ld inputs, %7ld accepted\n", readers[k].name, tried[k], took[k]);
  g_rand_free(r);
  return 0;
}
