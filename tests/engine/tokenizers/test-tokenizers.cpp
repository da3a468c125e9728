// test-tokenizers.cpp — golden test of engine/src/tokenizers: CLIP BPE and
// T5 SentencePiece ids against tests/golden/tokenizers/tokenizer_cases.json
// (40 cases made by openai's simple_tokenizer + HF's ftfy normalisation, and
// sentencepiece 0.2.0), with the real tokenizer files of the Kontext folder.
// Every field must match bit-exactly; there are no known failures.
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "tokenizers/clip_tokenizer.h"
#include "tokenizers/t5_tokenizer.h"
#include "tokenizers/text_fix.h"

#include "../golden-util.h"

using namespace cocoedit;

static std::string golden;      // tests/golden/tokenizers
static std::string clip_dir;    // the HF CLIPTokenizer folder
static std::string spiece;      // T5's spiece.model
static JsonParser *cases_parser = nullptr;
static JsonArray *cases = nullptr;
static std::unique_ptr<ClipTokenizer> clip;
static std::unique_ptr<T5Tokenizer> t5;

// Cases whose field may not match (deep ftfy corners); none at present.
static bool known_failure(const std::string & /*field*/, const std::string & /*name*/) { return false; }

static std::vector<int64_t> int_list(JsonObject *c, const char *field) {
  std::vector<int64_t> v;
  JsonArray *a = json_object_get_array_member(c, field);
  for (guint i = 0; i < json_array_get_length(a); i++) v.push_back(json_array_get_int_element(a, i));
  return v;
}

static std::vector<std::string> str_list(JsonObject *c, const char *field) {
  std::vector<std::string> v;
  JsonArray *a = json_object_get_array_member(c, field);
  for (guint i = 0; i < json_array_get_length(a); i++) v.push_back(json_array_get_string_element(a, i));
  return v;
}

static std::string first_diff(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) i++;
  return "first difference at " + std::to_string(i) + " (got " + (i < a.size() ? std::to_string(a[i]) : "end") +
         ", expected " + (i < b.size() ? std::to_string(b[i]) : "end") + "; lengths " + std::to_string(a.size()) +
         "/" + std::to_string(b.size()) + ")";
}

static std::string join(const std::vector<std::string> &v) {
  std::string s;
  for (const auto &x : v) s += (s.empty() ? "" : " | ") + x;
  return s;
}

// Runs `check` on every case that has `field`; reports the number that
// match and fails on any mismatch that is not a listed known failure.
static void over_cases(const char *field, const std::function<bool(JsonObject *, std::string &)> &check,
                       const char *label = nullptr) {
  int total = 0, matched = 0, unexpected = 0;
  for (guint i = 0; i < json_array_get_length(cases); i++) {
    JsonObject *c = json_array_get_object_element(cases, i);
    if (!json_object_has_member(c, field)) continue;
    const std::string name = json_object_get_string_member(c, "name");
    std::string why;
    total++;
    bool ok = false;
    try {
      ok = check(c, why);
    } catch (const Error &e) {
      why = std::string("error: ") + e.what();
    }
    if (ok) {
      matched++;
    } else {
      const bool known = known_failure(field, name);
      if (!known) unexpected++;
      g_test_message("%s: case %s does not match%s: %s", field, name.c_str(), known ? " (known failure)" : "",
                     why.c_str());
    }
  }
  g_test_message("%s: %d of %d cases match exactly (max |delta| %s)", label ? label : field, matched, total,
                 matched == total ? "0" : "> 0");
  g_assert_cmpint(total, >, 0);
  g_assert_cmpint(unexpected, ==, 0);
}

static void test_clip_normalized() {
  over_cases("clip_normalized", [](JsonObject *c, std::string &why) {
    const std::string got = clip->normalize(json_object_get_string_member(c, "text"));
    const std::string want = json_object_get_string_member(c, "clip_normalized");
    why = "got \"" + got + "\", expected \"" + want + "\"";
    return got == want;
  });
}

static void test_clip_bpe_tokens() {
  over_cases("clip_bpe_tokens", [](JsonObject *c, std::string &why) {
    const auto got = clip->bpe_tokens(json_object_get_string_member(c, "text"));
    const auto want = str_list(c, "clip_bpe_tokens");
    why = "got [" + join(got) + "], expected [" + join(want) + "]";
    return got == want;
  });
}

static void test_clip_ids() {
  over_cases("clip_ids", [](JsonObject *c, std::string &why) {
    const ClipTokens t = clip->encode(json_object_get_string_member(c, "text"));
    const auto want = int_list(c, "clip_ids");
    const int64_t n = json_object_get_int_member(c, "clip_n_tokens_before_truncation");
    const bool trunc = json_object_get_boolean_member(c, "clip_truncated");
    why = first_diff(t.ids, want) + ", n_tokens " + std::to_string(t.n_tokens) + "/" + std::to_string(n) +
          ", truncated " + std::to_string(t.truncated) + "/" + std::to_string(trunc);
    return t.ids.size() == 77 && t.ids == want && t.n_tokens == n && t.truncated == trunc;
  });
}

static void test_t5_pieces() {
  over_cases("t5_pieces", [](JsonObject *c, std::string &why) {
    const auto got = t5->pieces(json_object_get_string_member(c, "text"));
    const auto want = str_list(c, "t5_pieces");
    why = "got [" + join(got) + "], expected [" + join(want) + "]";
    return got == want;
  });
}

static void test_t5_ids() {
  over_cases("t5_ids", [](JsonObject *c, std::string &why) {
    const auto got = t5->ids(json_object_get_string_member(c, "text"));
    const auto want = int_list(c, "t5_ids");
    why = first_diff(got, want);
    return got == want;
  });
}

static void test_t5_padded_512() {
  over_cases("t5_ids_padded_512", [](JsonObject *c, std::string &why) {
    const T5Tokens t = t5->encode(json_object_get_string_member(c, "text"), 512);
    const auto want = int_list(c, "t5_ids_padded_512");
    const bool trunc = json_object_get_boolean_member(c, "t5_truncated");
    why = first_diff(t.ids, want) + ", truncated " + std::to_string(t.truncated) + "/" + std::to_string(trunc);
    return t.ids.size() == 512 && t.ids == want && t.truncated == trunc;
  });
}

// max_length 128 (CoCoEdit's training length): the first 127 ids, then </s>,
// or the unpadded ids padded with 0.
static void test_t5_length_128() {
  over_cases("t5_ids", [](JsonObject *c, std::string &why) {
    const T5Tokens t = t5->encode(json_object_get_string_member(c, "text"), 128);
    std::vector<int64_t> want = int_list(c, "t5_ids");
    const bool trunc = want.size() > 128;
    if (trunc) {
      want.resize(128);
      want.back() = 1;
    }
    want.resize(128, 0);
    why = first_diff(t.ids, want);
    return t.ids == want && t.truncated == trunc;
  }, "t5 ids at max_length 128");
}

// ftfy behaviours beyond the golden cases, from ftfy 6.3.1's documentation
// and code (fix_text's docstring examples, html.unescape's charref rules).
static void test_fix_text() {
  const struct {
    const char *in, *out;
  } cases[] = {
      {"\xEF\xBC\xAC\xEF\xBC\xAF\xEF\xBC\xB5\xEF\xBC\xA4\xE3\x80\x80\xEF\xBC\xAE\xEF\xBC\xAF\xEF\xBC\xA9"
       "\xEF\xBC\xB3\xEF\xBC\xA5\xEF\xBC\xB3", "LOUD NOISES"},                   // full-width
      {"s\xC3\x83\xC2\xB3", "s\xC3\xB3"},                                         // sÃ³ -> só
      {"\xC3\xA2\xC5\x93\xE2\x80\x9D No problems", "\xE2\x9C\x94 No problems"},  // âœ” -> ✔
      {"&lt;tag&gt; &amp; &eacute;", "<tag> & \xC3\xA9"},
      {"a < b &amp; c", "a < b &amp; c"},  // a literal "<": no unescaping
      {"it&#x2019;s", "it's"},
      {"x&#0;y", "x\xEF\xBF\xBDy"},
      {"&#59;", "&#59;"},
      {"&#xZZ;", "&#xZZ;"},
      {"line1\r\nline2\rline3", "line1\nline2\nline3"},
      {"\x1B[36;44mblue\x1B[0m", "blue"},
      {"\xEF\xBB\xBF" "bom\x07", "bom"},
      {"e\xCC\x81", "\xC3\xA9"},                 // NFC
      {"Caf\xC3\xA9 na\xC3\xAFve", "Caf\xC3\xA9 na\xC3\xAFve"},  // real Latin-1 text is left alone
  };
  for (const auto &c : cases) {
    const std::string got = fix_text(c.in);
    if (got != c.out) g_error("fix_text(\"%s\") = \"%s\", expected \"%s\"", c.in, got.c_str(), c.out);
  }
  g_test_message("fix_text: %zu of %zu extra cases match", sizeof cases / sizeof cases[0],
                 sizeof cases / sizeof cases[0]);
}

// ---- malformed files --------------------------------------------------------

static std::string read_all(const std::string &path) {
  gchar *data = nullptr;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path.c_str(), &data, &len, nullptr));
  std::string s(data, len);
  g_free(data);
  return s;
}

static void write_all(const std::string &path, const std::string &s) {
  g_assert_true(g_file_set_contents(path.c_str(), s.data(), static_cast<gssize>(s.size()), nullptr));
}

static void replace_once(std::string &s, const std::string &from, const std::string &to) {
  const size_t p = s.find(from);
  g_assert_true(p != std::string::npos);
  s.replace(p, from.size(), to);
}

static void test_malformed_clip() {
  gchar *tmp = g_dir_make_tmp("cocoedit-tok-XXXXXX", nullptr);
  const std::string dir(tmp);
  g_free(tmp);
  const std::string vocab = read_all(clip_dir + "/vocab.json");
  const std::string merges = read_all(clip_dir + "/merges.txt");
  auto with = [&](const std::string &v, const std::string &m) {
    write_all(dir + "/vocab.json", v);
    write_all(dir + "/merges.txt", m);
    ClipTokenizer t(dir);
  };
  with(vocab, merges);  // the baseline loads
  expect_error(COCOEDIT_ERR_IO, "vocab.json", [&] { ClipTokenizer t(dir + "/missing"); });
  expect_error(COCOEDIT_ERR_FORMAT, "vocab.json", [&] { with("{not json", merges); });
  expect_error(COCOEDIT_ERR_FORMAT, "vocab.json", [&] { with("[1, 2]", merges); });
  std::string v = vocab;
  replace_once(v, "\"<|endoftext|>\": 49407", "\"<|endoftext|>\": 49408");
  expect_error(COCOEDIT_ERR_FORMAT, "outside", [&] { with(v, merges); });
  v = vocab;
  replace_once(v, "\"<|endoftext|>\": 49407", "\"<|endoftext|>\": 0");
  expect_error(COCOEDIT_ERR_FORMAT, "used twice", [&] { with(v, merges); });
  v = vocab;
  replace_once(v, "\"<|endoftext|>\": 49407", "\"<|endoftext|>\": \"x\"");
  expect_error(COCOEDIT_ERR_FORMAT, "not an integer", [&] { with(v, merges); });
  v = vocab;
  replace_once(v, "\"<|endoftext|>\"", "\"<|end|>\"");
  expect_error(COCOEDIT_ERR_FORMAT, "<|endoftext|> is missing", [&] { with(v, merges); });
  v = vocab;
  replace_once(v, "\"!\": 0", "\"x!\": 0");
  expect_error(COCOEDIT_ERR_FORMAT, "byte symbol", [&] { with(v, merges); });
  std::string m = merges;
  replace_once(m, "\ni n\n", "\ni n extra\n");
  expect_error(COCOEDIT_ERR_FORMAT, "merges.txt line 2", [&] { with(vocab, m); });
  m = merges;
  replace_once(m, "\nt h\n", "\ni n\n");
  expect_error(COCOEDIT_ERR_FORMAT, "duplicate merge", [&] { with(vocab, m); });
  m = merges;
  replace_once(m, "\ni n\n", "\ni \xE2\x98\x83\n");
  expect_error(COCOEDIT_ERR_FORMAT, "not in vocab.json", [&] { with(vocab, m); });
  expect_error(COCOEDIT_ERR_FORMAT, "header", [&] { with(vocab, "i n\n"); });
  expect_error(COCOEDIT_ERR_FORMAT, "514 + merges",
               [&] { with(vocab, merges.substr(0, merges.find('\n', merges.size() / 2) + 1)); });
  g_remove((dir + "/vocab.json").c_str());
  g_remove((dir + "/merges.txt").c_str());
  g_rmdir(dir.c_str());
  // Prompts that are not UTF-8 are refused, not mangled.
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "UTF-8", [] { clip->encode("bad \xFF byte"); });
}

static void test_malformed_t5() {
  gchar *tmp = g_dir_make_tmp("cocoedit-tok-XXXXXX", nullptr);
  const std::string dir(tmp);
  g_free(tmp);
  const std::string path = dir + "/spiece.model";
  expect_error(COCOEDIT_ERR_IO, path, [&] { T5Tokenizer t(path); });
  write_all(path, "not a model");
  expect_error(COCOEDIT_ERR_FORMAT, path, [&] { T5Tokenizer t(path); });
  write_all(path, read_all(spiece).substr(0, 1000));  // protobuf reads this as a 76-piece model
  expect_error(COCOEDIT_ERR_FORMAT, "truncated", [&] { T5Tokenizer t(path); });
  g_remove(path.c_str());
  g_rmdir(dir.c_str());
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "UTF-8", [] { t5->encode("bad \xC3 byte"); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, "max_length", [] { t5->encode("x", 0); });
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  if (argc < 2) {
    g_printerr("usage: %s GOLDEN_DIR/tokenizers [--tap]\n", argv[0]);
    return 2;
  }
  golden = argv[1];
  const std::string kontext = golden + "/../kontext-pipeline/FLUX.1-Kontext-dev-tiny";
  clip_dir = kontext + "/tokenizer";
  spiece = kontext + "/tokenizer_2/spiece.model";

  cases_parser = json_parser_new();
  GError *error = nullptr;
  const std::string cases_path = golden + "/tokenizer_cases.json";
  if (!json_parser_load_from_file(cases_parser, cases_path.c_str(), &error))
    g_error("%s: %s", cases_path.c_str(), error->message);
  cases = json_object_get_array_member(json_node_get_object(json_parser_get_root(cases_parser)), "cases");
  g_assert_cmpint(json_array_get_length(cases), ==, 40);
  try {
    clip = std::make_unique<ClipTokenizer>(clip_dir);
    t5 = std::make_unique<T5Tokenizer>(spiece);
  } catch (const Error &e) {
    g_error("loading the tokenizers: %s", e.what());
  }
  g_assert_cmpint(clip->vocab_size(), ==, 49408);
  g_assert_cmpint(t5->vocab_size(), ==, 32000);

  g_test_add_func("/tokenizers/clip/normalized", test_clip_normalized);
  g_test_add_func("/tokenizers/clip/bpe-tokens", test_clip_bpe_tokens);
  g_test_add_func("/tokenizers/clip/ids", test_clip_ids);
  g_test_add_func("/tokenizers/clip/fix-text", test_fix_text);
  g_test_add_func("/tokenizers/clip/malformed", test_malformed_clip);
  g_test_add_func("/tokenizers/t5/pieces", test_t5_pieces);
  g_test_add_func("/tokenizers/t5/ids", test_t5_ids);
  g_test_add_func("/tokenizers/t5/padded-512", test_t5_padded_512);
  g_test_add_func("/tokenizers/t5/length-128", test_t5_length_128);
  g_test_add_func("/tokenizers/t5/malformed", test_malformed_t5);
  const int rc = g_test_run();
  clip.reset();
  t5.reset();
  g_object_unref(cases_parser);
  return rc;
}
