// hf_component.h — reading a Hugging Face component folder (config.json and
// safetensors weights, one file or shards behind model.safetensors.index.json)
// for the text encoders.  Everything read is untrusted: each helper names the
// file and the problem when something is wrong.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "json_config.h"
#include "safetensors.h"

namespace cocoedit {
namespace textenc {

// config.json reading is shared (json_config.h); these names are the ones
// the text encoders and their test use.
using cocoedit::JsonConfig;
using cocoedit::path_in;
using cocoedit::read_config_text;

// Where the weights of a component live and what they must look like.
struct WeightSpec {
  std::map<std::string, std::vector<int64_t>> required;  // name -> exact shape
  std::set<std::string> ignored;  // may be present (tied copies, old buffers); never read
};

// Loads the tensors of `source` — a component folder (model.safetensors, or
// model.safetensors.index.json and its shards) or one .safetensors file —
// after checking every header against `spec`: each required name present
// once with its exact shape and a floating dtype, no unknown names.  The
// tensors keep their stored dtype and are moved to `device` one by one.
std::map<std::string, at::Tensor> load_weights_checked(const std::string &source, const WeightSpec &spec,
                                                       at::Device device);

// "[a, b, c]" for messages.

// The most negative finite value of a floating dtype (torch.finfo(dtype).min),
// which transformers adds to masked attention scores.
double lowest_value(at::ScalarType dtype);

// w[name], or COCOEDIT_ERR_FORMAT naming `model` and the missing tensor.
at::Tensor take_weight(const std::map<std::string, at::Tensor> &w, const std::string &name, const std::string &model);

// Every tensor `spec` requires is in `w` with exactly its shape (the loaders
// check this already; a caller building a model from tensors gets the same).
void check_weight_shapes(const WeightSpec &spec, const std::map<std::string, at::Tensor> &w,
                         const std::string &model);

// Checks a token-id tensor before it indexes an embedding: 2-D [batch, length]
// of an integer dtype, length in 1..max_length, every id in [0, vocab).
// Returns it as int64 on `device`.
at::Tensor checked_token_ids(const at::Tensor &ids, int64_t vocab, int64_t max_length, at::Device device,
                             const char *model);

}  // namespace textenc
}  // namespace cocoedit
