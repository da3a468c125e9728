// kontext_files.cpp — see kontext_files.h.
#include "kontext_files.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <cstring>
#include <utility>
#include <vector>

#include "data_paths.h"
#include "error.h"
#include "json_config.h"

namespace cocoedit {
namespace {

bool exists(const std::string &p) { return g_file_test(p.c_str(), G_FILE_TEST_EXISTS); }

std::string basename_of(const std::string &path) {
  gchar *b = g_path_get_basename(path.c_str());
  std::string s = b;
  g_free(b);
  return s;
}

std::string require_dir(const std::string &root, const char *name, const char *what) {
  const std::string d = path_in(root, name);
  if (!g_file_test(d.c_str(), G_FILE_TEST_IS_DIR))
    fail(COCOEDIT_ERR_FORMAT, root + " is not a complete FLUX.1 Kontext folder: " + name + "/ (" + what +
                                  ") is missing");
  return d;
}

// The shipped tokenizer files fill in what single files do not carry.
void default_tokenizers(KontextFiles &f) {
  const std::string dir = shipped_tokenizers_dir();
  if (f.clip_tokenizer.empty()) f.clip_tokenizer = path_in(dir, "clip");
  if (f.t5_tokenizer.empty()) f.t5_tokenizer = path_in(path_in(dir, "t5"), "spiece.model");
}

// Every named path exists; the first that does not is named with its role.
void require_paths(const KontextFiles &f) {
  const std::pair<const char *, const std::string *> paths[] = {
      {"transformer", &f.transformer},   {"transformer_config", &f.transformer_config},
      {"vae", &f.vae},                   {"vae_config", &f.vae_config},
      {"clip_l", &f.clip},               {"clip_l_config", &f.clip_config},
      {"t5xxl", &f.t5},                  {"t5xxl_config", &f.t5_config},
      {"clip_tokenizer", &f.clip_tokenizer}, {"t5_tokenizer", &f.t5_tokenizer}};
  for (const auto &p : paths)
    if (!p.second->empty() && !exists(*p.second))
      fail(COCOEDIT_ERR_IO, f.origin + ": the " + p.first + " \"" + *p.second + "\" does not exist");
}

}  // namespace

std::string shipped_tokenizers_dir() {
  const gchar *env = g_getenv("COCOEDIT_TOKENIZERS");
  if (env && *env) return env;
  const std::string installed = COCOEDIT_TOKENIZERS_DIR;
  if (!installed.empty() && exists(path_in(installed, "clip/vocab.json"))) return installed;
  return COCOEDIT_SOURCE_TOKENIZERS_DIR;
}

KontextFiles kontext_folder_files(const std::string &dir) {
  KontextFiles f;
  f.origin = dir;
  f.name = basename_of(dir);
  f.transformer = require_dir(dir, "transformer", "the FLUX transformer");
  f.vae = require_dir(dir, "vae", "the autoencoder");
  f.clip = require_dir(dir, "text_encoder", "the CLIP-L text encoder");
  f.t5 = require_dir(dir, "text_encoder_2", "the T5 encoder");
  f.clip_tokenizer = require_dir(dir, "tokenizer", "CLIP's vocab.json and merges.txt");
  f.t5_tokenizer = require_dir(dir, "tokenizer_2", "T5's spiece.model");
  f.transformer_config = path_in(f.transformer, "config.json");
  f.vae_config = path_in(f.vae, "config.json");
  f.clip_config = path_in(f.clip, "config.json");
  f.t5_config = path_in(f.t5, "config.json");
  require_paths(f);
  // Nothing in the folder may lead out of it through a symlink (a Hugging
  // Face cache snapshot's links into its blobs/ excepted).
  for (const char *part : {"transformer/config.json", "vae/config.json", "text_encoder/config.json",
                           "text_encoder_2/config.json", "tokenizer/vocab.json", "tokenizer/merges.txt",
                           "tokenizer_2/spiece.model"})
    contained_file(dir, part);
  return f;
}

KontextFiles kontext_description_files(const std::string &path) {
  const JsonConfig j = JsonConfig::from_file(path);
  KontextFiles f;
  f.origin = path;
  gchar *dir_c = g_path_get_dirname(path.c_str());
  const std::string dir = dir_c;
  g_free(dir_c);

  const std::string family = j.get_string("family", "flux-kontext");
  if (family != "flux-kontext")
    fail(COCOEDIT_ERR_FORMAT, path + ": family \"" + family + "\" is not one a description file can name "
                                     "(flux-kontext)");
  std::string *const slots[] = {&f.transformer, &f.transformer_config, &f.vae,       &f.vae_config,
                                &f.clip,        &f.clip_config,        &f.t5,        &f.t5_config,
                                &f.clip_tokenizer, &f.t5_tokenizer};
  const char *const keys[] = {"transformer", "transformer_config", "vae",       "vae_config",
                              "clip_l",      "clip_l_config",      "t5xxl",     "t5xxl_config",
                              "clip_tokenizer", "t5_tokenizer"};
  constexpr size_t n_keys = sizeof keys / sizeof keys[0];

  // A misspelt key would silently fall back to a default: refuse it.
  GList *members = json_object_get_members(j.object());
  for (GList *m = members; m; m = m->next) {
    const char *key = static_cast<const char *>(m->data);
    bool known = !std::strcmp(key, "family") || !std::strcmp(key, "name");
    for (size_t i = 0; i < n_keys && !known; i++) known = !std::strcmp(key, keys[i]);
    if (!known) {
      const std::string k = key;
      g_list_free(members);
      fail(COCOEDIT_ERR_FORMAT, path + ": unknown key \"" + k + "\" (known: family, name, transformer, vae, "
                                       "clip_l, t5xxl, their *_config, clip_tokenizer, t5_tokenizer)");
    }
  }
  g_list_free(members);

  for (size_t i = 0; i < n_keys; i++) {
    const std::string v = j.get_string(keys[i], "");
    if (v.empty()) continue;
    *slots[i] = g_path_is_absolute(v.c_str()) ? v : path_in(dir, v);
  }
  const std::pair<const char *, const std::string *> required[] = {
      {"transformer", &f.transformer}, {"vae", &f.vae}, {"clip_l", &f.clip}, {"t5xxl", &f.t5}};
  for (const auto &req : required)
    if (req.second->empty())
      fail(COCOEDIT_ERR_FORMAT, path + ": the description names no \"" + req.first + "\" file");
  f.name = j.get_string("name", basename_of(path));
  // A component given as a folder brings its own config.json.
  const std::pair<const std::string *, std::string *> with_config[] = {
      {&f.transformer, &f.transformer_config}, {&f.vae, &f.vae_config},
      {&f.clip, &f.clip_config}, {&f.t5, &f.t5_config}};
  for (const auto &wc : with_config)
    if (wc.second->empty() && g_file_test(wc.first->c_str(), G_FILE_TEST_IS_DIR))
      *wc.second = path_in(*wc.first, "config.json");
  default_tokenizers(f);
  require_paths(f);
  return f;
}

KontextFiles kontext_single_files(const std::string &transformer, const std::string &vae, const std::string &clip,
                                  const std::string &t5) {
  KontextFiles f;
  f.origin = transformer;
  f.name = basename_of(transformer);
  f.transformer = transformer;
  f.vae = vae;
  f.clip = clip;
  f.t5 = t5;
  const std::pair<const char *, const std::string *> req[] = {
      {"an autoencoder file (vae_path, --vae)", &f.vae},
      {"a CLIP-L file (clip_l_path, --clip-l)", &f.clip},
      {"a T5 file (t5xxl_path, --t5xxl)", &f.t5}};
  for (const auto &r : req)
    if (r.second->empty())
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, transformer + " is a single transformer file; it needs " + r.first +
                                              " beside it, or a model description file naming them");
  default_tokenizers(f);
  require_paths(f);
  return f;
}

}  // namespace cocoedit
