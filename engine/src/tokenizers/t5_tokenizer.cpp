// t5_tokenizer.cpp — T5's SentencePiece tokenizer (see t5_tokenizer.h).
// The normaliser (nmt_nfkc, whitespace collapsing) lives in spiece.model, so
// libsentencepiece reproduces sentencepiece 0.2.0's Python encode() exactly.
//
// Why dlopen: Debian's libsentencepiece.so.0 carries its own copy of
// protobuf-lite (3.14) and exports those symbols, while libtorch needs the
// system libprotobuf.so.32.  Linked together, libprotobuf's start-up code
// binds to sentencepiece's copy and the process crashes before main().  So
// the library is loaded on first use with RTLD_LOCAL | RTLD_DEEPBIND: its
// symbols stay out of the global scope and it binds to its own protobuf.
// We call only virtual members (through the vtable) and three functions
// looked up with dlsym; nothing links against the library.
#include "t5_tokenizer.h"

#include <dlfcn.h>
#include <link.h>
#include <glib.h>
#include <sentencepiece_processor.h>

#include <cstring>
#include <mutex>
#include <new>

#include "error.h"
#include "json_config.h"

// UBSan's vptr check would name SentencePieceProcessor's typeinfo, which
// lives in the library we load privately and never link: not here.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("vptr"))), apply_to = function)
#endif

namespace cocoedit {

namespace {

constexpr gsize kMaxModelBytes = 64u << 20;  // T5's spiece.model is 0.8 MB
constexpr int kPieces = 32000;               // T5 / T5 v1.1 (the encoder adds 100 unused rows)
const char *const kLibrary = "libsentencepiece.so.0";

using sentencepiece::SentencePieceProcessor;
using sentencepiece::util::Status;

// The non-virtual functions we need, from the privately loaded library.
struct SpLib {
  void (*construct)(void *) = nullptr;             // SentencePieceProcessor::SentencePieceProcessor()
  void (*status_destroy)(Status *) = nullptr;      // util::Status::~Status()
  std::string (*status_string)(const Status *) = nullptr;  // util::Status::ToString()
};

// AddressSanitizer stops any process that dlopen()s with RTLD_DEEPBIND.  A
// sanitizer build therefore loads the library plainly, which is only safe in
// a process without libprotobuf (the tokenizers' fuzz targets link no
// libtorch); elsewhere it refuses, with a message, instead of crashing.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif
#else
constexpr bool kUnderAsan = false;
#endif

bool protobuf_loaded() {
  return dl_iterate_phdr(
             [](struct dl_phdr_info *info, size_t, void *) {
               return info->dlpi_name && std::strstr(info->dlpi_name, "libprotobuf") ? 1 : 0;
             },
             nullptr) != 0;
}

const SpLib &sp_lib() {
  static SpLib lib;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    if (kUnderAsan && protobuf_loaded()) {
      error = std::string(kLibrary) + " cannot be loaded in this sanitizer build: AddressSanitizer does not "
              "allow RTLD_DEEPBIND, and without it the library would bind to libtorch's libprotobuf";
      return;
    }
    void *h = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL | (kUnderAsan ? 0 : RTLD_DEEPBIND));
    if (!h) {
      const char *e = dlerror();
      error = std::string(kLibrary) + " cannot be loaded: " + (e ? e : "unknown error");
      return;
    }
    lib.construct = reinterpret_cast<void (*)(void *)>(dlsym(h, "_ZN13sentencepiece22SentencePieceProcessorC1Ev"));
    lib.status_destroy = reinterpret_cast<void (*)(Status *)>(dlsym(h, "_ZN13sentencepiece4util6StatusD1Ev"));
    lib.status_string =
        reinterpret_cast<std::string (*)(const Status *)>(dlsym(h, "_ZNK13sentencepiece4util6Status8ToStringB5cxx11Ev"));
    if (!lib.construct || !lib.status_destroy || !lib.status_string)
      error = std::string(kLibrary) + " lacks the SentencePieceProcessor API this build expects";
  });
  if (!error.empty()) fail(COCOEDIT_ERR_IO, error);
  return lib;
}

// A util::Status returned by value, destroyed through the library.
class StatusHolder {
 public:
  template <typename F>
  explicit StatusHolder(F &&call) {
    new (buf_) Status(call());  // C++17: the callee builds the Status in place
  }
  ~StatusHolder() { sp_lib().status_destroy(get()); }
  StatusHolder(const StatusHolder &) = delete;
  StatusHolder &operator=(const StatusHolder &) = delete;
  bool ok() const { return get()->ok(); }
  std::string message() const { return sp_lib().status_string(get()); }

 private:
  Status *get() const { return reinterpret_cast<Status *>(const_cast<unsigned char *>(buf_)); }
  alignas(Status) unsigned char buf_[sizeof(Status)];
};

void check_text(const std::string &text) {
  if (!g_utf8_validate_len(text.data(), text.size(), nullptr))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "prompt is not valid UTF-8 (or contains a NUL byte)");
}

}  // namespace

// Storage for one SentencePieceProcessor built by the library's constructor.
struct T5Tokenizer::Processor {
  alignas(SentencePieceProcessor) unsigned char buf[sizeof(SentencePieceProcessor)];
  bool constructed = false;
  SentencePieceProcessor *get() { return reinterpret_cast<SentencePieceProcessor *>(buf); }
  ~Processor() {
    if (constructed) get()->~SentencePieceProcessor();  // virtual: runs the library's destructor
  }
};

T5Tokenizer::T5Tokenizer(const std::string &path)
    : path_(g_file_test(path.c_str(), G_FILE_TEST_IS_DIR) ? path + "/spiece.model" : path),
      proc_(std::make_unique<Processor>()) {
  const SpLib &lib = sp_lib();
  lib.construct(proc_->buf);
  proc_->constructed = true;
  SentencePieceProcessor *sp = proc_->get();
  const std::string bytes = read_text_file(path_, kMaxModelBytes);
  StatusHolder status([&] { return sp->LoadFromSerializedProto(bytes); });
  if (!status.ok()) fail(COCOEDIT_ERR_FORMAT, path_ + ": not a SentencePiece model: " + status.message());
  // T5's ids: <pad> 0, </s> 1, <unk> 2 (the encoder's embedding rows depend
  // on them), 32,000 pieces.  The size check also catches truncated files,
  // which protobuf would otherwise read as a smaller model.
  if (sp->GetPieceSize() != kPieces)
    fail(COCOEDIT_ERR_FORMAT, path_ + ": " + std::to_string(sp->GetPieceSize()) + " pieces; T5's vocabulary has " +
                                  std::to_string(kPieces) + " (is the file truncated?)");
  if (sp->pad_id() != kPad || sp->eos_id() != kEos || sp->PieceToId("</s>") != kEos ||
      sp->PieceToId("<pad>") != kPad)
    fail(COCOEDIT_ERR_FORMAT, path_ + ": not T5's vocabulary (expected <pad>=0 and </s>=1)");
}

T5Tokenizer::~T5Tokenizer() = default;

int64_t T5Tokenizer::vocab_size() const { return proc_->get()->GetPieceSize(); }

std::vector<std::string> T5Tokenizer::pieces(const std::string &text) const {
  check_text(text);
  std::vector<std::string> out;
  StatusHolder status([&] { return proc_->get()->Encode(text, &out); });
  if (!status.ok()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, path_ + ": cannot encode the prompt: " + status.message());
  return out;
}

std::vector<int64_t> T5Tokenizer::ids(const std::string &text) const {
  check_text(text);
  std::vector<int> raw;
  StatusHolder status([&] { return proc_->get()->Encode(text, &raw); });
  if (!status.ok()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, path_ + ": cannot encode the prompt: " + status.message());
  std::vector<int64_t> out(raw.begin(), raw.end());
  out.push_back(kEos);
  return out;
}

T5Tokens T5Tokenizer::encode(const std::string &text, int max_length) const {
  if (max_length < 1) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "T5 max_length must be at least 1");
  T5Tokens t;
  t.ids = ids(text);
  t.n_tokens = static_cast<int>(t.ids.size());
  if (t.ids.size() > static_cast<size_t>(max_length)) {
    // HF truncates the pieces to max_length - 1, then appends </s>.
    t.truncated = true;
    t.ids.resize(static_cast<size_t>(max_length));
    t.ids.back() = kEos;
  }
  t.ids.resize(static_cast<size_t>(max_length), kPad);
  return t;
}

}  // namespace cocoedit

#if defined(__clang__)
#pragma clang attribute pop
#endif
