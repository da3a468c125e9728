// readers-text.cpp — tokenizer files and prompts (readers.h).  Nothing here
// links libtorch.
#include <glib.h>

#include "error.h"
#include "json_config.h"
#include "kontext_files.h"
#include "readers.h"
#include "tokenizers/clip_tokenizer.h"
#include "tokenizers/t5_tokenizer.h"

namespace cocoedit::fuzz {

void parse_clip_tokenizer(const std::string &in) {
  const std::string dir = scratch_dir("clip");
  const auto p = split_parts(in, 3);
  write_bytes(dir + "/vocab.json", p[0]);
  write_bytes(dir + "/merges.txt", p[1]);
  ClipTokenizer tok(dir);
  tok.encode(p[2]);
}

void parse_t5_tokenizer(const std::string &in) {
  const std::string path = scratch_dir("t5") + "/spiece.model";
  write_bytes(path, in);
  T5Tokenizer tok(path);
  tok.encode("Make the cat's fur orange", 128);
}

void parse_prompt(const std::string &in) {
  static const ClipTokenizer clip(path_in(shipped_tokenizers_dir(), "clip"));
  static const T5Tokenizer t5(path_in(shipped_tokenizers_dir(), "t5"));
  // The engine's C API takes UTF-8; the plug-in and the CLI check it first.
  if (!g_utf8_validate_len(in.data(), in.size(), nullptr)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "not UTF-8");
  clip.encode(in);
  t5.encode(in, 128);
}

}  // namespace cocoedit::fuzz
