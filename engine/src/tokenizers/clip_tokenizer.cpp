// clip_tokenizer.cpp — CLIP's byte-level BPE (see clip_tokenizer.h).
#include "clip_tokenizer.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <climits>

#include "error.h"
#include "json_config.h"
#include "text_fix.h"

namespace cocoedit {

namespace {

constexpr gsize kMaxFileBytes = 64u << 20;  // the real files are 1 MB and 0.5 MB
// HF reads merges.txt lines 1..48894 (49152 - 256 - 2 merges after the header).
constexpr size_t kMaxMerges = 49152 - 256 - 2;
const char *const kBos = "<|startoftext|>";
const char *const kEos = "<|endoftext|>";
// openai's split pattern (simple_tokenizer.py), compiled case-insensitively.
const char *const kSplitPattern =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

struct GObjectDeleter {
  void operator()(gpointer p) const { g_object_unref(p); }
};

std::string read_file(const std::string &path) {
  std::string text = read_text_file(path, kMaxFileBytes);
  if (!g_utf8_validate_len(text.data(), text.size(), nullptr))
    fail(COCOEDIT_ERR_FORMAT, path + ": not valid UTF-8");
  return text;
}

std::string utf8_of(gunichar c) {
  char buf[8];
  return std::string(buf, static_cast<size_t>(g_unichar_to_utf8(c, buf)));
}

// ---- HF's normalisation after ftfy ---------------------------------------------

// Python's str.isspace() (the set `\s` matches in Python's `re`).
bool py_isspace(gunichar c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Unicode's Cased property (Lu, Ll, Lt and the Other_Lowercase/Uppercase
// letters most likely in prompts) and Case_Ignorable, for the final-sigma rule.
bool is_cased(gunichar c) {
  const GUnicodeType t = g_unichar_type(c);
  if (t == G_UNICODE_UPPERCASE_LETTER || t == G_UNICODE_LOWERCASE_LETTER || t == G_UNICODE_TITLECASE_LETTER)
    return true;
  return c == 0xAA || c == 0xBA || (c >= 0x2B0 && c <= 0x2B8) || (c >= 0x2C0 && c <= 0x2C1) ||
         (c >= 0x2E0 && c <= 0x2E4) || (c >= 0x2160 && c <= 0x217F) || (c >= 0x24B6 && c <= 0x24E9);
}

bool is_case_ignorable(gunichar c) {
  const GUnicodeType t = g_unichar_type(c);
  if (t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_ENCLOSING_MARK || t == G_UNICODE_FORMAT ||
      t == G_UNICODE_MODIFIER_LETTER || t == G_UNICODE_MODIFIER_SYMBOL)
    return true;
  switch (c) {  // Word_Break MidLetter, MidNumLet, Single_Quote
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      return false;
  }
}

// Python's str.lower(): the simple lower-case mapping, plus the two special
// cases Python applies (İ -> i + U+0307, and Greek final sigma).
std::string py_lower(const std::string &s) {
  std::vector<gunichar> cs;
  for (const char *p = s.c_str(); *p; p = g_utf8_next_char(p)) cs.push_back(g_utf8_get_char(p));
  std::string out;
  for (size_t i = 0; i < cs.size(); i++) {
    const gunichar c = cs[i];
    if (c == 0x130) {
      out += "i\xCC\x87";
    } else if (c == 0x3A3) {
      // Final_Sigma: cased (case-ignorable)* Σ, not followed by (case-ignorable)* cased.
      bool before = false, after = false;
      for (size_t j = i; j-- > 0;) {
        if (is_case_ignorable(cs[j])) continue;
        before = is_cased(cs[j]);
        break;
      }
      for (size_t j = i + 1; j < cs.size(); j++) {
        if (is_case_ignorable(cs[j])) continue;
        after = is_cased(cs[j]);
        break;
      }
      out += utf8_of(before && !after ? 0x3C2 : 0x3C3);
    } else {
      out += utf8_of(g_unichar_tolower(c));
    }
  }
  return out;
}

// HF's whitespace_clean: re.sub(r"\s+", " ", text).strip().
std::string whitespace_clean(const std::string &s) {
  std::string out;
  bool in_space = false;
  for (const char *p = s.c_str(); *p; p = g_utf8_next_char(p)) {
    const gunichar c = g_utf8_get_char(p);
    if (py_isspace(c)) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out += ' ';
    in_space = false;
    out.append(p, static_cast<size_t>(g_utf8_next_char(p) - p));
  }
  return out;
}

std::vector<std::string> split_ws(const std::string &line) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && g_ascii_isspace(line[i])) i++;
    size_t j = i;
    while (j < line.size() && !g_ascii_isspace(line[j])) j++;
    if (j > i) parts.push_back(line.substr(i, j - i));
    i = j;
  }
  return parts;
}

}  // namespace

ClipTokenizer::ClipTokenizer(const std::string &dir) {
  const std::string vocab_path = dir + "/vocab.json";
  const std::string merges_path = dir + "/merges.txt";

  // openai's bytes_to_unicode: printable Latin-1 bytes keep their code point,
  // the rest are numbered from U+0100 in byte order.
  {
    int extra = 0;
    for (int b = 0; b < 256; b++) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_symbol_[b] = utf8_of(printable ? static_cast<gunichar>(b) : static_cast<gunichar>(256 + extra++));
    }
  }

  // ---- vocab.json: {"symbol": id, ...} with ids 0..n-1, each once.
  {
    const std::string text = read_file(vocab_path);
    std::unique_ptr<JsonParser, GObjectDeleter> parser(json_parser_new());
    GError *error = nullptr;
    if (!json_parser_load_from_data(parser.get(), text.data(), static_cast<gssize>(text.size()), &error)) {
      std::string msg = error ? error->message : "unknown error";
      g_clear_error(&error);
      fail(COCOEDIT_ERR_FORMAT, vocab_path + ": not valid JSON: " + msg);
    }
    JsonNode *root = json_parser_get_root(parser.get());
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
      fail(COCOEDIT_ERR_FORMAT, vocab_path + ": the top level must be a JSON object {symbol: id}");
    JsonObject *obj = json_node_get_object(root);
    const guint n = json_object_get_size(obj);
    if (n < 514 || n > (1u << 20))
      fail(COCOEDIT_ERR_FORMAT, vocab_path + ": " + std::to_string(n) + " entries; expected 514 to 1048576");
    std::vector<bool> seen(n, false);
    JsonObjectIter it;
    const gchar *name = nullptr;
    JsonNode *node = nullptr;
    json_object_iter_init(&it, obj);
    while (json_object_iter_next(&it, &name, &node)) {
      if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
        fail(COCOEDIT_ERR_FORMAT, vocab_path + ": the id of \"" + name + "\" is not an integer");
      const gint64 id = json_node_get_int(node);
      if (id < 0 || id >= static_cast<gint64>(n))
        fail(COCOEDIT_ERR_FORMAT, vocab_path + ": id " + std::to_string(id) + " of \"" + name + "\" is outside 0.." +
                                      std::to_string(n - 1));
      if (seen[static_cast<size_t>(id)])
        fail(COCOEDIT_ERR_FORMAT, vocab_path + ": id " + std::to_string(id) + " is used twice (\"" + name + "\")");
      seen[static_cast<size_t>(id)] = true;
      vocab_.emplace(name, id);
    }
    if (vocab_.size() != n) fail(COCOEDIT_ERR_FORMAT, vocab_path + ": duplicate symbols");
    for (int b = 0; b < 256; b++)
      for (const std::string &sym : {byte_symbol_[b], byte_symbol_[b] + "</w>"})
        if (!vocab_.count(sym))
          fail(COCOEDIT_ERR_FORMAT, vocab_path + ": byte symbol \"" + sym + "\" (byte " + std::to_string(b) +
                                        ") is missing");
    for (const char *special : {kBos, kEos})
      if (!vocab_.count(special))
        fail(COCOEDIT_ERR_FORMAT, vocab_path + ": special token " + special + " is missing");
    bos_ = vocab_.at(kBos);
    eos_ = vocab_.at(kEos);
  }

  // ---- merges.txt: a "#version" header, then "first second" per line, by rank.
  {
    std::string text = read_file(merges_path);
    // Python's strip() of the whole file, then split("\n").
    size_t b = 0, e = text.size();
    while (b < e && g_ascii_isspace(text[b])) b++;
    while (e > b && g_ascii_isspace(text[e - 1])) e--;
    text = text.substr(b, e - b);
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      lines.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    if (lines.empty() || lines[0].empty() || lines[0][0] != '#')
      fail(COCOEDIT_ERR_FORMAT, merges_path + ": expected a \"#version\" header line");
    const size_t n_merges = std::min(lines.size() - 1, kMaxMerges);
    for (size_t i = 0; i < n_merges; i++) {
      const std::string where = merges_path + " line " + std::to_string(i + 2);
      const std::vector<std::string> parts = split_ws(lines[i + 1]);
      if (parts.size() != 2) fail(COCOEDIT_ERR_FORMAT, where + ": expected two symbols");
      for (const std::string &sym : {parts[0], parts[1], parts[0] + parts[1]})
        if (!vocab_.count(sym))
          fail(COCOEDIT_ERR_FORMAT, where + ": symbol \"" + sym + "\" is not in vocab.json");
      if (!ranks_.emplace(parts[0] + " " + parts[1], static_cast<int>(i)).second)
        fail(COCOEDIT_ERR_FORMAT, where + ": duplicate merge \"" + parts[0] + " " + parts[1] + "\"");
    }
    // CLIP's vocabulary is exactly: 256 bytes, 256 bytes + "</w>", one symbol per merge, 2 specials.
    if (vocab_.size() != 512 + n_merges + 2)
      fail(COCOEDIT_ERR_FORMAT, dir + ": vocab.json has " + std::to_string(vocab_.size()) + " entries but merges.txt " +
                                    std::to_string(n_merges) + " merges; CLIP needs 514 + merges");
  }

  GError *error = nullptr;
  split_ = g_regex_new(kSplitPattern, static_cast<GRegexCompileFlags>(G_REGEX_CASELESS | G_REGEX_OPTIMIZE),
                       static_cast<GRegexMatchFlags>(0), &error);
  if (!split_) {
    std::string msg = error ? error->message : "unknown error";
    g_clear_error(&error);
    fail(COCOEDIT_ERR_FORMAT, "CLIP split pattern does not compile: " + msg);
  }
}

ClipTokenizer::~ClipTokenizer() {
  if (split_) g_regex_unref(split_);
}

std::string ClipTokenizer::normalize(const std::string &text) const {
  return py_lower(whitespace_clean(fix_text(text)));
}

// openai's bpe(): repeatedly merge the lowest-ranked adjacent pair (every
// occurrence, left to right) until no pair has a rank.
std::vector<std::string> ClipTokenizer::bpe(const std::string &piece) const {
  std::vector<std::string> word;
  for (unsigned char byte : piece) word.push_back(byte_symbol_[byte]);
  if (word.empty()) return word;
  word.back() += "</w>";
  while (word.size() > 1) {
    int best = INT_MAX;
    size_t best_i = 0;
    for (size_t i = 0; i + 1 < word.size(); i++) {
      auto r = ranks_.find(word[i] + " " + word[i + 1]);
      if (r != ranks_.end() && r->second < best) {
        best = r->second;
        best_i = i;
      }
    }
    if (best == INT_MAX) break;
    const std::string first = word[best_i], second = word[best_i + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word = std::move(merged);
  }
  return word;
}

std::vector<std::string> ClipTokenizer::bpe_tokens(const std::string &text) const {
  const std::string norm = normalize(text);
  std::vector<std::string> out;
  GMatchInfo *info = nullptr;
  g_regex_match_full(split_, norm.c_str(), static_cast<gssize>(norm.size()), 0, static_cast<GRegexMatchFlags>(0),
                     &info, nullptr);
  while (g_match_info_matches(info)) {
    gint s = 0, e = 0;
    g_match_info_fetch_pos(info, 0, &s, &e);
    const std::string piece = norm.substr(static_cast<size_t>(s), static_cast<size_t>(e - s));
    if (piece == kBos || piece == kEos) {
      out.push_back(piece);  // openai's bpe cache maps the specials to themselves
    } else {
      for (std::string &sym : bpe(piece)) out.push_back(std::move(sym));
    }
    g_match_info_next(info, nullptr);
  }
  g_match_info_free(info);
  return out;
}

std::vector<int64_t> ClipTokenizer::bpe_ids(const std::string &text) const {
  std::vector<int64_t> ids;
  for (const std::string &sym : bpe_tokens(text)) {
    auto it = vocab_.find(sym);
    if (it == vocab_.end()) fail(COCOEDIT_ERR_FORMAT, "CLIP vocabulary has no symbol \"" + sym + "\"");
    ids.push_back(it->second);
  }
  return ids;
}

ClipTokens ClipTokenizer::encode(const std::string &text, int max_length) const {
  if (max_length < 2) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "CLIP max_length must be at least 2");
  const std::vector<int64_t> body = bpe_ids(text);
  ClipTokens t;
  t.n_tokens = static_cast<int>(body.size());
  const size_t keep = std::min(body.size(), static_cast<size_t>(max_length - 2));
  t.truncated = keep < body.size();
  t.ids.reserve(static_cast<size_t>(max_length));
  t.ids.push_back(bos_);
  t.ids.insert(t.ids.end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(keep));
  t.ids.push_back(eos_);
  t.ids.resize(static_cast<size_t>(max_length), eos_);
  return t;
}

}  // namespace cocoedit
