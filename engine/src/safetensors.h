// safetensors.h — reading and writing weights in the safetensors format
// (8-byte little-endian header length, JSON header, raw little-endian data),
// single files and shards listed in an `*.index.json`.
//
// Reading validates every header field, offset and shape before any data is
// touched, and maps the file instead of reading it whole.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cocoedit {

struct TensorEntry {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws cocoedit::Error naming the file and
  // the problem (COCOEDIT_ERR_IO or COCOEDIT_ERR_FORMAT).
  explicit SafetensorsFile(const std::string &path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  // Same as the constructor, over bytes in memory (for the fuzz target).
  static std::unique_ptr<SafetensorsFile> from_bytes(const uint8_t *data, size_t size,
                                                     const std::string &origin);

  const std::vector<TensorEntry> &entries() const { return entries_; }
  const TensorEntry *find(const std::string &name) const;
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  // A new CPU tensor holding a copy of the entry's data in its stored dtype.
  at::Tensor read(const TensorEntry &entry) const;
  const std::string &path() const { return path_; }

 private:
  SafetensorsFile() = default;
  void parse(const uint8_t *bytes, size_t size);

  std::string path_;
  void *mapped_ = nullptr;  // GMappedFile
  const uint8_t *data_ = nullptr;  // start of the data section
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// The dtype names of the format ("F32", "F16", "BF16", "F64", "I64", "I32",
// "U8").  SafetensorsFile reads all of them (test vectors hold ids and F64
// schedules), but only F32, F16 and BF16 are weights: every model loader
// calls require_weight_dtype, which throws COCOEDIT_ERR_FORMAT naming
// `origin` (the file), the tensor and its dtype otherwise.
const char *dtype_name(at::ScalarType t);
bool is_weight_dtype(at::ScalarType t);
void require_weight_dtype(const std::string &origin, const TensorEntry &entry);
at::ScalarType dtype_from_config(const std::string &config_dtype);  // "float32" -> kFloat

// The weight files of one model folder: `<stem>.safetensors`, or the shards
// `<stem>.safetensors.index.json` lists.  Every header is read and checked
// before any data is touched: each tensor must sit in the shard the index
// names, each listed tensor must be there, no name may appear twice.  Files
// must lie inside the folder (see contained_file).  Tensors are indexed by
// name; the data stays mapped while this lives.
struct WeightFiles {
  struct Source {
    const SafetensorsFile *file;
    const TensorEntry *entry;
  };
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, Source> tensors;
};
WeightFiles open_weight_files(const std::string &dir, const std::string &stem);
// One safetensors file as a WeightFiles.
WeightFiles open_weight_file(const std::string &path);

// tensor -> shard file name, from the text of an `*.index.json` (`origin`
// names it in errors).  Shard names must be plain file names.
std::map<std::string, std::string> parse_weight_index(const std::string &text, const std::string &origin);

// Loads the weights of a model directory: `model.safetensors.index.json` with
// its shards when present, else `model.safetensors`.  Every name in
// `expected` must be present with exactly that shape, and no other tensor may
// be: a checkpoint of another architecture is refused with the first
// difference named.  Tensors come back as float32 CPU tensors.
std::map<std::string, at::Tensor> load_weights(
    const std::string &model_dir, const std::map<std::string, std::vector<int64_t>> &expected);

// Writes `tensors` (in this order) as `model.safetensors`, or as
// `model-0000k-of-0000n.safetensors` shards of at most `max_shard_bytes` plus
// the index when that limit is not 0 and is exceeded, into `model_dir`.
// Each file goes to a temporary name first and is renamed into place.  The
// folder is expected to be fresh: save_model writes a whole new folder and
// swaps it in (folder_io.h), so no stale shards of an earlier save remain.
void save_weights(const std::string &model_dir,
                  const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                  at::ScalarType dtype, size_t max_shard_bytes,
                  const std::map<std::string, std::string> &metadata);

// Writes one safetensors file atomically (used for LoRA files too).
void write_safetensors(const std::string &path,
                       const std::vector<std::pair<std::string, at::Tensor>> &tensors,
                       at::ScalarType dtype, const std::map<std::string, std::string> &metadata);

// "[2, 3]": a shape for error messages.
std::string shape_text(const std::vector<int64_t> &shape);

// Writes `contents` to `path` through a temporary file and a rename.
void write_file_atomic(const std::string &path, const std::string &contents);

}  // namespace cocoedit
