// readers.cpp — the table of readers (see readers.h).
#include "readers.h"

namespace cocoedit::fuzz {

const std::vector<Reader> &readers() {
  static const std::vector<Reader> all = {
      {"safetensors", "a .safetensors file", parse_safetensors},
      {"weight-index", "a model.safetensors.index.json beside two shards", parse_weight_index},
      {"lora", "a FLUX LoRA .safetensors file (diffusers, kohya or BFL names)", parse_lora},
      {"cocoedit-config", "the project's model config.json", parse_cocoedit_config},
      {"flux-config", "a FluxTransformer2DModel config.json", parse_flux_config},
      {"t5-config", "a T5 encoder config.json", parse_t5_config},
      {"clip-config", "a CLIP text model config.json", parse_clip_config},
      {"ae-config", "an AutoencoderKL config.json", parse_ae_config},
      {"model-description", "a FLUX.1 Kontext model description file", parse_model_description},
      {"clip-tokenizer", "vocab.json NUL merges.txt NUL prompt", parse_clip_tokenizer},
      {"t5-tokenizer", "a spiece.model", parse_t5_tokenizer},
      {"prompt", "an instruction, through the shipped CLIP and T5 tokenizers", parse_prompt},
      {"manifest", "dataset index lines (manifest, CoCoEdit-40K and bench formats)", parse_manifest},
      {"image", "a PNG, JPEG or WebP file", parse_image},
      {"judge-response", "an MLLM judge's chat-completions response body", parse_judge_response},
      {"layer-record", "the cocoedit-edit parasite of a CoCoEdit layer (JSON)", parse_layer_record},
  };
  return all;
}

}  // namespace cocoedit::fuzz
