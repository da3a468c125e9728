// flux_weights.cpp — BFL and diffusers FLUX transformer files into BFL's
// tensors (see flux_weights.h).  Key map: diffusers' own converter
// (single_file_utils.py convert_flux_transformer_checkpoint_to_diffusers),
// read backwards.
#include "flux/flux_weights.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>

#include "error.h"
#include "json_config.h"
#include "safetensors.h"

namespace cocoedit {
namespace flux {

namespace {

bool starts_with(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Diffusers name(s) of one BFL tensor.  `H`, `M`: hidden and MLP sizes.
std::vector<DiffusersPiece> pieces_for(const std::string &bfl, int64_t H, int64_t M) {
  auto one = [](const std::string &src) { return std::vector<DiffusersPiece>{{src, 0, -1}}; };
  // The tensor suffix: "weight", "bias" or "scale".
  const std::string suffix = bfl.substr(bfl.rfind('.') + 1);
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"img_in.", "x_embedder."},
      {"time_in.in_layer.", "time_text_embed.timestep_embedder.linear_1."},
      {"time_in.out_layer.", "time_text_embed.timestep_embedder.linear_2."},
      {"guidance_in.in_layer.", "time_text_embed.guidance_embedder.linear_1."},
      {"guidance_in.out_layer.", "time_text_embed.guidance_embedder.linear_2."},
      {"vector_in.in_layer.", "time_text_embed.text_embedder.linear_1."},
      {"vector_in.out_layer.", "time_text_embed.text_embedder.linear_2."},
      {"txt_in.", "context_embedder."},
      {"final_layer.linear.", "proj_out."},
  };
  for (const auto &r : top)
    if (starts_with(bfl, r.first)) return one(r.second + bfl.substr(r.first.size()));
  if (starts_with(bfl, "final_layer.adaLN_modulation.1.")) {
    // BFL (shift, scale) is diffusers (scale, shift).
    const std::string src = "norm_out.linear." + suffix;
    return {{src, H, H}, {src, 0, H}};
  }
  auto block = [&](const std::string &from, const std::string &to, std::string &rest) -> bool {
    if (!starts_with(bfl, from)) return false;
    size_t dot = bfl.find('.', from.size());
    rest = to + bfl.substr(from.size(), dot - from.size()) + ".";  // "<to>N."
    return true;
  };
  std::string b;
  if (block("double_blocks.", "transformer_blocks.", b)) {
    const std::string local = bfl.substr(bfl.find('.', 14) + 1);  // after "double_blocks.N."
    static const std::vector<std::pair<std::string, std::string>> renames = {
        {"img_mod.lin.", "norm1.linear."},
        {"txt_mod.lin.", "norm1_context.linear."},
        {"img_attn.norm.query_norm.scale", "attn.norm_q.weight"},
        {"img_attn.norm.key_norm.scale", "attn.norm_k.weight"},
        {"txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight"},
        {"txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight"},
        {"img_attn.proj.", "attn.to_out.0."},
        {"txt_attn.proj.", "attn.to_add_out."},
        {"img_mlp.0.", "ff.net.0.proj."},
        {"img_mlp.2.", "ff.net.2."},
        {"txt_mlp.0.", "ff_context.net.0.proj."},
        {"txt_mlp.2.", "ff_context.net.2."},
    };
    for (const auto &r : renames)
      if (starts_with(local, r.first)) return one(b + r.second + local.substr(r.first.size()));
    if (local == "img_attn.qkv." + suffix)
      return {{b + "attn.to_q." + suffix, 0, H}, {b + "attn.to_k." + suffix, 0, H}, {b + "attn.to_v." + suffix, 0, H}};
    if (local == "txt_attn.qkv." + suffix)
      return {{b + "attn.add_q_proj." + suffix, 0, H},
              {b + "attn.add_k_proj." + suffix, 0, H},
              {b + "attn.add_v_proj." + suffix, 0, H}};
  } else if (block("single_blocks.", "single_transformer_blocks.", b)) {
    const std::string local = bfl.substr(bfl.find('.', 14) + 1);
    static const std::vector<std::pair<std::string, std::string>> renames = {
        {"linear2.", "proj_out."},
        {"norm.query_norm.scale", "attn.norm_q.weight"},
        {"norm.key_norm.scale", "attn.norm_k.weight"},
        {"modulation.lin.", "norm.linear."},
    };
    for (const auto &r : renames)
      if (starts_with(local, r.first)) return one(b + r.second + local.substr(r.first.size()));
    if (local == "linear1." + suffix)
      return {{b + "attn.to_q." + suffix, 0, H},
              {b + "attn.to_k." + suffix, 0, H},
              {b + "attn.to_v." + suffix, 0, H},
              {b + "proj_mlp." + suffix, 0, M}};
  }
  fail(COCOEDIT_ERR_FORMAT, "flux: no diffusers name for \"" + bfl + "\"");  // a bug, not a file problem
}

}  // namespace

std::vector<DiffusersSource> diffusers_layout(const FluxParams &p,
                                              std::map<std::string, std::vector<int64_t>> *src_shapes) {
  std::vector<DiffusersSource> out;
  for (const auto &ns : flux_parameter_shapes(p)) {
    DiffusersSource s{ns.first, ns.second, pieces_for(ns.first, p.hidden_size, p.mlp_hidden())};
    for (auto &piece : s.pieces)
      if (piece.rows < 0) piece.rows = ns.second[0];  // a plain rename: the whole tensor
    if (src_shapes)
      for (const auto &piece : s.pieces) {
        auto shape = ns.second;
        shape[0] = piece.src_row + piece.rows;
        auto &known = (*src_shapes)[piece.src];
        if (known.empty() || known[0] < shape[0]) known = shape;
      }
    out.push_back(std::move(s));
  }
  return out;
}

FluxParams diffusers_config_from_json(const std::string &text, const std::string &path) {
  const JsonConfig cfg = JsonConfig::from_text(text, path);
  JsonObject *o = cfg.object();
  if (cfg.has("_class_name") && cfg.get_string("_class_name", "") != "FluxTransformer2DModel")
    fail(COCOEDIT_ERR_FORMAT, path + ": \"_class_name\" is not \"FluxTransformer2DModel\"");
  // FluxTransformer2DModel.__init__ defaults (transformer_flux.py).
  if (cfg.get_int("patch_size", 1) != 1)
    fail(COCOEDIT_ERR_FORMAT, path + ": only patch_size 1 is supported (FLUX packs 2x2 latent patches itself)");
  FluxParams p;
  const int64_t heads = cfg.get_int("num_attention_heads", 24);
  const int64_t head_dim = cfg.get_int("attention_head_dim", 128);
  if (heads < 1 || head_dim < 1 || heads > (1 << 12) || head_dim > (1 << 16))
    fail(COCOEDIT_ERR_FORMAT, path + ": num_attention_heads / attention_head_dim out of range");
  p.num_heads = heads;
  p.hidden_size = heads * head_dim;
  p.in_channels = cfg.get_int("in_channels", 64);
  p.out_channels = cfg.get_int("out_channels", p.in_channels);  // null means in_channels
  p.depth = cfg.get_int("num_layers", 19);
  p.depth_single_blocks = cfg.get_int("num_single_layers", 38);
  p.context_in_dim = cfg.get_int("joint_attention_dim", 4096);
  p.vec_in_dim = cfg.get_int("pooled_projection_dim", 768);
  p.mlp_ratio = 4.0;  // fixed in diffusers
  p.theta = 10000;
  p.qkv_bias = true;
  p.guidance_embed = cfg.get_bool("guidance_embeds", false);
  if (JsonNode *a = json_object_get_member(o, "axes_dims_rope")) {
    if (!JSON_NODE_HOLDS_ARRAY(a)) fail(COCOEDIT_ERR_FORMAT, path + ": \"axes_dims_rope\" must be a list");
    JsonArray *arr = json_node_get_array(a);
    if (json_array_get_length(arr) > 16) fail(COCOEDIT_ERR_FORMAT, path + ": \"axes_dims_rope\" is too long");
    p.axes_dim.clear();
    for (guint i = 0; i < json_array_get_length(arr); i++) {
      JsonNode *e = json_array_get_element(arr, i);
      if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_INT64)
        fail(COCOEDIT_ERR_FORMAT, path + ": \"axes_dims_rope\" entries must be integers");
      p.axes_dim.push_back(json_node_get_int(e));
    }
  }
  p.validate(path);
  return p;
}

FluxParams read_diffusers_config(const std::string &path) {
  return diffusers_config_from_json(read_config_text(path), path);
}

WeightMap read_bfl_weights(const std::string &path, const FluxParams &params) {
  params.validate(path);
  SafetensorsFile f(path);
  // ComfyUI saves the same keys under "model.diffusion_model.".
  const std::string comfy = "model.diffusion_model.";
  bool prefixed = !f.entries().empty();
  for (const auto &e : f.entries()) prefixed = prefixed && starts_with(e.name, comfy);
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto &ns : flux_parameter_shapes(params)) expected[ns.first] = ns.second;
  WeightMap out;
  for (const auto &e : f.entries()) {
    const std::string name = prefixed ? e.name.substr(comfy.size()) : e.name;
    auto it = expected.find(name);
    if (it == expected.end())
      fail(COCOEDIT_ERR_FORMAT, path + ": unexpected tensor \"" + e.name + "\" (not part of a FLUX transformer "
                                       "with these params; a file of another model or layout?)");
    if (e.shape != it->second)
      fail(COCOEDIT_ERR_FORMAT, path + ": tensor \"" + e.name + "\" has shape " + shape_text(e.shape) +
                                    " but the params need " + shape_text(it->second));
    require_weight_dtype(path, e);
    out[name] = f.read(e);
  }
  for (const auto &kv : expected)
    if (!out.count(kv.first))
      fail(COCOEDIT_ERR_FORMAT, path + ": missing tensor \"" + kv.first + "\" " + shape_text(kv.second) +
                                    " (a file of another model or params?)");
  return out;
}

Flux load_flux_bfl(const std::string &path, const FluxParams &params) {
  return Flux(params, read_bfl_weights(path, params), path);
}

namespace {

// The diffusers tensors of `files` fused into BFL's names; `origin` names
// the folder or file in errors.
WeightMap fuse_diffusers(const WeightFiles &files, const FluxParams &params, const std::string &origin) {
  std::map<std::string, std::vector<int64_t>> src_shapes;
  auto layout = diffusers_layout(params, &src_shapes);

  bool have_dtype = false;
  at::ScalarType dtype = at::kFloat;
  for (const auto &kv : files.tensors) {
    const TensorEntry &e = *kv.second.entry;
    auto it = src_shapes.find(kv.first);
    if (it == src_shapes.end())
      fail(COCOEDIT_ERR_FORMAT, kv.second.file->path() + ": unexpected tensor \"" + kv.first +
                                    "\" (not part of a FluxTransformer2DModel with this config)");
    if (e.shape != it->second)
      fail(COCOEDIT_ERR_FORMAT, kv.second.file->path() + ": tensor \"" + kv.first + "\" has shape " +
                                    shape_text(e.shape) + " but the config needs " + shape_text(it->second));
    require_weight_dtype(kv.second.file->path(), e);
    if (have_dtype && e.dtype != dtype)
      fail(COCOEDIT_ERR_FORMAT, kv.second.file->path() + ": tensor \"" + kv.first + "\" is " +
                                    dtype_name(e.dtype) + " but others are " + dtype_name(dtype) + " (mixed dtypes)");
    dtype = e.dtype;
    have_dtype = true;
  }
  for (const auto &kv : src_shapes)
    if (!files.tensors.count(kv.first))
      fail(COCOEDIT_ERR_FORMAT, origin + ": missing tensor \"" + kv.first + "\" " + shape_text(kv.second) +
                                    " (a checkpoint of another model or config?)");

  WeightMap out;
  for (const auto &s : layout) {
    if (s.pieces.size() == 1) {
      const WeightFiles::Source &src = files.tensors.at(s.pieces[0].src);
      out[s.bfl_name] = src.file->read(*src.entry);
      continue;
    }
    // Fused tensors are filled slice by slice, in the stored dtype.
    at::Tensor t = at::empty(s.bfl_shape, at::TensorOptions().dtype(dtype));
    int64_t row = 0;
    for (const auto &piece : s.pieces) {
      const WeightFiles::Source &src = files.tensors.at(piece.src);
      t.narrow(0, row, piece.rows).copy_(src.file->read(*src.entry).narrow(0, piece.src_row, piece.rows));
      row += piece.rows;
    }
    out[s.bfl_name] = t;
  }
  return out;
}

}  // namespace

WeightMap read_diffusers_weights(const std::string &dir, const FluxParams &params) {
  params.validate(dir);
  return fuse_diffusers(open_weight_files(dir, "diffusion_pytorch_model"), params, dir);
}

WeightMap read_diffusers_file(const std::string &path, const FluxParams &params) {
  params.validate(path);
  return fuse_diffusers(open_weight_file(path), params, path);
}

WeightMap read_single_file_weights(const std::string &path, const FluxParams &params) {
  bool diffusers = false;
  {
    SafetensorsFile f(path);  // only the header is read here
    diffusers = f.find("x_embedder.weight") != nullptr;
  }
  return diffusers ? read_diffusers_file(path, params) : read_bfl_weights(path, params);
}

Flux load_flux_diffusers(const std::string &dir) {
  const FluxParams params = read_diffusers_config(path_in(dir, "config.json"));
  return Flux(params, read_diffusers_weights(dir, params), dir);
}

}  // namespace flux
}  // namespace cocoedit
