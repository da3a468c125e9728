// clip_tokenizer.h — CLIP's byte-level BPE tokenizer (openai/CLIP's
// simple_tokenizer with HF CLIPTokenizer's normalisation), loaded from a HF
// tokenizer folder (`vocab.json` + `merges.txt`).
//
// encode(text): whitespace_clean(fix_text(text)).lower(), openai's split
// regex, BPE with "</w>" on each word's last symbol, then
// [<|startoftext|>] + first (max_length - 2) ids + [<|endoftext|>], padded
// with <|endoftext|> to max_length (HF: truncation=True,
// padding="max_length", max_length=77).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

typedef struct _GRegex GRegex;

namespace cocoedit {

struct ClipTokens {
  std::vector<int64_t> ids;  // exactly max_length ids
  int n_tokens = 0;          // BPE tokens of the prompt, before truncation (no BOS/EOS)
  bool truncated = false;    // n_tokens > max_length - 2
};

class ClipTokenizer {
 public:
  static constexpr int kMaxLength = 77;

  // Reads and validates `dir`/vocab.json and `dir`/merges.txt; throws
  // cocoedit::Error naming the file and the problem.
  explicit ClipTokenizer(const std::string &dir);
  ~ClipTokenizer();
  ClipTokenizer(const ClipTokenizer &) = delete;
  ClipTokenizer &operator=(const ClipTokenizer &) = delete;

  // whitespace_clean(ftfy.fix_text(text)).lower(), as HF's slow CLIPTokenizer.
  std::string normalize(const std::string &text) const;
  // The BPE symbols of the normalised text (e.g. "cat</w>"), untruncated.
  std::vector<std::string> bpe_tokens(const std::string &text) const;
  // The ids of those symbols, untruncated, without BOS/EOS.
  std::vector<int64_t> bpe_ids(const std::string &text) const;
  // The padded model input (max_length >= 2).
  ClipTokens encode(const std::string &text, int max_length = kMaxLength) const;

  int64_t bos_id() const { return bos_; }
  int64_t eos_id() const { return eos_; }
  int64_t pad_id() const { return eos_; }  // CLIP pads with <|endoftext|>
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }

 private:
  std::vector<std::string> bpe(const std::string &piece) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> ranks_;  // "first second" -> merge rank
  std::string byte_symbol_[256];                 // openai's bytes_to_unicode
  int64_t bos_ = 0, eos_ = 0;
  GRegex *split_ = nullptr;
};

}  // namespace cocoedit
