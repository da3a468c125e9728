// readers.h — every parser of untrusted input, as a function of one byte
// string, for the fuzzers: the libFuzzer targets (one per reader, built with
// -Dfuzz=true and clang) and the bounded mutation fuzzer `fuzz-readers`,
// which runs with any compiler.
//
// A reader either accepts its input or throws cocoedit::Error; anything
// else (another exception, a crash, a sanitizer report, a hang) is a bug.
// File-based readers write the input into a private scratch folder, beside
// fixed files the input may refer to (shards, images, and symlinks that lead
// out of the folder).
//
// The readers live in five files by what they link: readers-model.cpp
// (weights and configs; libtorch), readers-text.cpp (tokenizers; no
// libtorch, so that a sanitizer build can load libsentencepiece without
// RTLD_DEEPBIND, see t5_tokenizer.cpp), readers-data.cpp (datasets and
// images), readers-judge.cpp (the trainer's judge client) and
// readers-record.cpp (the GIMP plug-in's layer record; no GIMP needed).
#pragma once

#include <string>
#include <vector>

namespace cocoedit::fuzz {

using ParseFn = void (*)(const std::string &input);

// readers-model.cpp
void parse_safetensors(const std::string &in);
void parse_weight_index(const std::string &in);
void parse_lora(const std::string &in);
void parse_cocoedit_config(const std::string &in);
void parse_flux_config(const std::string &in);
void parse_t5_config(const std::string &in);
void parse_clip_config(const std::string &in);
void parse_ae_config(const std::string &in);
void parse_model_description(const std::string &in);
// readers-text.cpp
void parse_clip_tokenizer(const std::string &in);
void parse_t5_tokenizer(const std::string &in);
void parse_prompt(const std::string &in);
// readers-data.cpp
void parse_manifest(const std::string &in);
void parse_image(const std::string &in);
// readers-judge.cpp
void parse_judge_response(const std::string &in);
// readers-record.cpp
void parse_layer_record(const std::string &in);

struct Reader {
  const char *name;   // the libFuzzer target is fuzz-<name>; its corpus tests/fuzz/corpus/<name>/
  const char *about;  // what the input is
  ParseFn parse;
};

// readers.cpp: all of them.
const std::vector<Reader> &readers();

// ---- for the reader files (scratch.cpp) ---------------------------------------

// A folder of this process's own (made on first use, removed at exit) with
// `sub` inside it made; returns scratch/sub.
std::string scratch_dir(const std::string &sub);
// Writes `bytes` to `path` (aborts if it cannot: the harness is broken).
void write_bytes(const std::string &path, const std::string &bytes);
// `in` split at NUL bytes into exactly `n` parts (missing ones empty).
std::vector<std::string> split_parts(const std::string &in, size_t n);

}  // namespace cocoedit::fuzz
