// kontext_files.h — where the pieces of a FLUX.1 Kontext model are, in the
// layouts users download them in:
//   - the diffusers folder of black-forest-labs/FLUX.1-Kontext-dev
//     (model_index.json, transformer/, vae/, text_encoder/, text_encoder_2/,
//     tokenizer/, tokenizer_2/);
//   - BFL's single files (flux1-kontext-dev.safetensors, ae.safetensors)
//     with the text encoders as files of their own (clip_l.safetensors,
//     t5xxl_fp16.safetensors), as ComfyUI and stable-diffusion.cpp users
//     keep them, named in a model description file or one by one.
// The single files carry no configs and no tokenizers: the FLUX.1 presets
// and the engine's own copies of the tokenizer files stand in unless the
// description names others.
#pragma once

#include <string>

namespace cocoedit {

struct KontextFiles {
  std::string origin;  // the folder or description file, for messages
  std::string name;    // shown by `cocoedit info`
  // Each weight path is a component folder (config.json and weights) or
  // one .safetensors file; each config path is a config.json, or "" for
  // the FLUX.1 preset.
  std::string transformer, transformer_config;
  std::string vae, vae_config;
  std::string clip, clip_config;
  std::string t5, t5_config;
  std::string clip_tokenizer;  // a folder with vocab.json and merges.txt
  std::string t5_tokenizer;    // spiece.model, or a folder holding it
};

// A diffusers FLUX.1-Kontext-dev folder; a missing component is named
// (COCOEDIT_ERR_FORMAT).
KontextFiles kontext_folder_files(const std::string &dir);

// A model description file (JSON): the file of each component, relative to
// the description's folder or absolute.
//   {"family": "flux-kontext", "name": "FLUX.1 Kontext [dev]",
//    "transformer": "flux1-kontext-dev.safetensors", "vae": "ae.safetensors",
//    "clip_l": "clip_l.safetensors", "t5xxl": "t5xxl_fp16.safetensors"}
// Optional: "transformer_config", "vae_config", "clip_l_config",
// "t5xxl_config" (config.json files; default the FLUX.1 sizes),
// "clip_tokenizer", "t5_tokenizer".  Unknown keys are refused by name, so
// that a misspelt one is not silently ignored.
KontextFiles kontext_description_files(const std::string &path);

// The single files given one by one (the C API and `cocoedit --vae ...`);
// every one is required.
KontextFiles kontext_single_files(const std::string &transformer, const std::string &vae, const std::string &clip,
                                  const std::string &t5);

// Where the engine's copies of CLIP's and T5's tokenizer files are:
// $COCOEDIT_TOKENIZERS, else the installed data folder, else the source
// tree's data/tokenizers (a build tree).  Returns the folder holding clip/
// and t5/.
std::string shipped_tokenizers_dir();

}  // namespace cocoedit
