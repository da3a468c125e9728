// t5_tokenizer.h — T5's SentencePiece tokenizer (libsentencepiece), as BFL
// calls HF's slow T5Tokenizer: pieces + </s>, truncated to max_length with
// the final </s> kept, padded with <pad> (0) to exactly max_length.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cocoedit {

struct T5Tokens {
  std::vector<int64_t> ids;  // exactly max_length ids
  int n_tokens = 0;          // pieces + </s>, before truncation
  bool truncated = false;    // n_tokens > max_length
};

class T5Tokenizer {
 public:
  static constexpr int kMaxLength = 512;  // BFL and diffusers; CoCoEdit training used 128
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kEos = 1;

  // Loads a `spiece.model` file, or the `spiece.model` inside a folder;
  // throws cocoedit::Error naming the file and the problem.
  explicit T5Tokenizer(const std::string &path);
  ~T5Tokenizer();
  T5Tokenizer(const T5Tokenizer &) = delete;
  T5Tokenizer &operator=(const T5Tokenizer &) = delete;

  // SentencePiece pieces of `text` (e.g. "▁Make"), untruncated.
  std::vector<std::string> pieces(const std::string &text) const;
  // Piece ids + </s>, unpadded and untruncated.
  std::vector<int64_t> ids(const std::string &text) const;
  // The padded model input (max_length >= 1).
  T5Tokens encode(const std::string &text, int max_length = kMaxLength) const;

  int64_t vocab_size() const;

 private:
  struct Processor;  // a sentencepiece::SentencePieceProcessor (see t5_tokenizer.cpp)
  std::string path_;
  std::unique_ptr<Processor> proc_;
};

}  // namespace cocoedit
