// text_fix.cpp — our reimplementation of the ftfy 6.3.1 `fix_text` steps that
// matter for prompts (HF's CLIPTokenizer runs ftfy before lower-casing).
//
// ftfy's driver is followed exactly: the text is fixed in segments that end
// after each "\n"; HTML unescaping is switched off for the rest of the text
// once a segment contains "<"; each segment repeats the sequence below until
// it no longer changes.
//
// Implemented (in ftfy's order):
//   unescape_html       `&name;` for the HTML 4 entity names plus `&apos;`, and
//                       numeric `&#NNN;` / `&#xHH;` references with
//                       html.unescape's rules for invalid code points.
//                       NOT implemented: the other ~2000 HTML5 names and
//                       ftfy's upper-cased variants (`&EACUTE;`).
//   fix_encoding        mojibake repair for UTF-8 that was decoded as Latin-1
//                       or Windows-1252 ("sloppy" variant: undefined bytes map
//                       to themselves, U+FFFD to 0x1A): the whole segment is
//                       re-encoded and decoded as strict UTF-8, repeated while
//                       that works.  Then Latin-1 C1 controls are read as
//                       Windows-1252.
//                       NOT implemented: ftfy's `is_bad` heuristic (we accept
//                       a segment when the round trip gives valid UTF-8 with
//                       a multi-byte sequence, which rarely happens to real
//                       text), the other single-byte
//                       encodings (1250, 1251, 1253, 1254, 1257, ISO-8859-2,
//                       MacRoman, CP437), restore_byte_a0,
//                       replace_lossy_sequences, the utf-8-variants decoder
//                       (CESU-8, overlong NUL) and decode_inconsistent_utf8
//                       (mojibake inside otherwise un-encodable text).
//   fix_c1_controls     U+0080..U+009F read as Windows-1252.
//   fix_latin_ligatures ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ, Ĳ ĳ ŉ and the Serbo-Croatian digraphs.
//   fix_character_width U+3000 -> space; U+FF01..U+FFEF -> their NFKC form.
//   uncurl_quotes       U+02BC, U+2018..U+201B -> '; U+201C..U+201F -> ".
//   fix_line_breaks     CRLF, CR, U+2028, U+2029, U+0085 -> "\n".
//   fix_surrogates      not needed: the input is validated UTF-8, which has
//                       no surrogates.
//   remove_terminal_escapes  ESC [ digits/; letter.
//   remove_control_chars U+0000..0008, 000B, 000E..001F, 007F, 206A..206F,
//                       FEFF, FFF9..FFFC.
//   NFC normalisation   g_utf8_normalize (GLib's Unicode tables).
#include "text_fix.h"

#include <glib.h>

#include <cstdint>
#include <string>

#include "error.h"

namespace cocoedit {

namespace {

using U32 = std::u32string;

U32 to_u32(const std::string &s) {
  U32 out;
  const char *p = s.data();
  const char *end = p + s.size();
  while (p < end) {
    out.push_back(static_cast<char32_t>(g_utf8_get_char(p)));
    p = g_utf8_next_char(p);
  }
  return out;
}

std::string to_utf8(const U32 &s) {
  std::string out;
  char buf[8];
  for (char32_t c : s) out.append(buf, static_cast<size_t>(g_unichar_to_utf8(static_cast<gunichar>(c), buf)));
  return out;
}

// Windows-1252 bytes 0x80..0x9F; the five undefined ones map to themselves
// (ftfy's "sloppy" codec).
const char32_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

bool is_strict_cp1252_undefined(int b) { return b == 0x81 || b == 0x8D || b == 0x8F || b == 0x90 || b == 0x9D; }

// ---- unescape_html ----------------------------------------------------------

struct Entity {
  const char *name;
  char32_t cp;
};

// HTML 4 entity names (plus &apos;), as html.entities.name2codepoint lists them.
const Entity kEntities[] = {
    {"AElig", 0xC6}, {"Aacute", 0xC1}, {"Acirc", 0xC2}, {"Agrave", 0xC0}, {"Alpha", 0x391}, {"Aring", 0xC5},
    {"Atilde", 0xC3}, {"Auml", 0xC4}, {"Beta", 0x392}, {"Ccedil", 0xC7}, {"Chi", 0x3A7}, {"Dagger", 0x2021},
    {"Delta", 0x394}, {"ETH", 0xD0}, {"Eacute", 0xC9}, {"Ecirc", 0xCA}, {"Egrave", 0xC8}, {"Epsilon", 0x395},
    {"Eta", 0x397}, {"Euml", 0xCB}, {"Gamma", 0x393}, {"Iacute", 0xCD}, {"Icirc", 0xCE}, {"Igrave", 0xCC},
    {"Iota", 0x399}, {"Iuml", 0xCF}, {"Kappa", 0x39A}, {"Lambda", 0x39B}, {"Mu", 0x39C}, {"Ntilde", 0xD1}, {"Nu",
    0x39D}, {"OElig", 0x152}, {"Oacute", 0xD3}, {"Ocirc", 0xD4}, {"Ograve", 0xD2}, {"Omega", 0x3A9}, {"Omicron",
    0x39F}, {"Oslash", 0xD8}, {"Otilde", 0xD5}, {"Ouml", 0xD6}, {"Phi", 0x3A6}, {"Pi", 0x3A0}, {"Prime", 0x2033},
    {"Psi", 0x3A8}, {"Rho", 0x3A1}, {"Scaron", 0x160}, {"Sigma", 0x3A3}, {"THORN", 0xDE}, {"Tau", 0x3A4},
    {"Theta", 0x398}, {"Uacute", 0xDA}, {"Ucirc", 0xDB}, {"Ugrave", 0xD9}, {"Upsilon", 0x3A5}, {"Uuml", 0xDC},
    {"Xi", 0x39E}, {"Yacute", 0xDD}, {"Yuml", 0x178}, {"Zeta", 0x396}, {"aacute", 0xE1}, {"acirc", 0xE2},
    {"acute", 0xB4}, {"aelig", 0xE6}, {"agrave", 0xE0}, {"alefsym", 0x2135}, {"alpha", 0x3B1}, {"amp", 0x26},
    {"and", 0x2227}, {"ang", 0x2220}, {"apos", 0x27}, {"aring", 0xE5}, {"asymp", 0x2248}, {"atilde", 0xE3},
    {"auml", 0xE4}, {"bdquo", 0x201E}, {"beta", 0x3B2}, {"brvbar", 0xA6}, {"bull", 0x2022}, {"cap", 0x2229},
    {"ccedil", 0xE7}, {"cedil", 0xB8}, {"cent", 0xA2}, {"chi", 0x3C7}, {"circ", 0x2C6}, {"clubs", 0x2663},
    {"cong", 0x2245}, {"copy", 0xA9}, {"crarr", 0x21B5}, {"cup", 0x222A}, {"curren", 0xA4}, {"dArr", 0x21D3},
    {"dagger", 0x2020}, {"darr", 0x2193}, {"deg", 0xB0}, {"delta", 0x3B4}, {"diams", 0x2666}, {"divide", 0xF7},
    {"eacute", 0xE9}, {"ecirc", 0xEA}, {"egrave", 0xE8}, {"empty", 0x2205}, {"emsp", 0x2003}, {"ensp", 0x2002},
    {"epsilon", 0x3B5}, {"equiv", 0x2261}, {"eta", 0x3B7}, {"eth", 0xF0}, {"euml", 0xEB}, {"euro", 0x20AC},
    {"exist", 0x2203}, {"fnof", 0x192}, {"forall", 0x2200}, {"frac12", 0xBD}, {"frac14", 0xBC}, {"frac34", 0xBE},
    {"frasl", 0x2044}, {"gamma", 0x3B3}, {"ge", 0x2265}, {"gt", 0x3E}, {"hArr", 0x21D4}, {"harr", 0x2194},
    {"hearts", 0x2665}, {"hellip", 0x2026}, {"iacute", 0xED}, {"icirc", 0xEE}, {"iexcl", 0xA1}, {"igrave", 0xEC},
    {"image", 0x2111}, {"infin", 0x221E}, {"int", 0x222B}, {"iota", 0x3B9}, {"iquest", 0xBF}, {"isin", 0x2208},
    {"iuml", 0xEF}, {"kappa", 0x3BA}, {"lArr", 0x21D0}, {"lambda", 0x3BB}, {"lang", 0x2329}, {"laquo", 0xAB},
    {"larr", 0x2190}, {"lceil", 0x2308}, {"ldquo", 0x201C}, {"le", 0x2264}, {"lfloor", 0x230A}, {"lowast",
    0x2217}, {"loz", 0x25CA}, {"lrm", 0x200E}, {"lsaquo", 0x2039}, {"lsquo", 0x2018}, {"lt", 0x3C}, {"macr",
    0xAF}, {"mdash", 0x2014}, {"micro", 0xB5}, {"middot", 0xB7}, {"minus", 0x2212}, {"mu", 0x3BC}, {"nabla",
    0x2207}, {"nbsp", 0xA0}, {"ndash", 0x2013}, {"ne", 0x2260}, {"ni", 0x220B}, {"not", 0xAC}, {"notin", 0x2209},
    {"nsub", 0x2284}, {"ntilde", 0xF1}, {"nu", 0x3BD}, {"oacute", 0xF3}, {"ocirc", 0xF4}, {"oelig", 0x153},
    {"ograve", 0xF2}, {"oline", 0x203E}, {"omega", 0x3C9}, {"omicron", 0x3BF}, {"oplus", 0x2295}, {"or", 0x2228},
    {"ordf", 0xAA}, {"ordm", 0xBA}, {"oslash", 0xF8}, {"otilde", 0xF5}, {"otimes", 0x2297}, {"ouml", 0xF6},
    {"para", 0xB6}, {"part", 0x2202}, {"permil", 0x2030}, {"perp", 0x22A5}, {"phi", 0x3C6}, {"pi", 0x3C0}, {"piv",
    0x3D6}, {"plusmn", 0xB1}, {"pound", 0xA3}, {"prime", 0x2032}, {"prod", 0x220F}, {"prop", 0x221D}, {"psi",
    0x3C8}, {"quot", 0x22}, {"rArr", 0x21D2}, {"radic", 0x221A}, {"rang", 0x232A}, {"raquo", 0xBB}, {"rarr",
    0x2192}, {"rceil", 0x2309}, {"rdquo", 0x201D}, {"real", 0x211C}, {"reg", 0xAE}, {"rfloor", 0x230B}, {"rho",
    0x3C1}, {"rlm", 0x200F}, {"rsaquo", 0x203A}, {"rsquo", 0x2019}, {"sbquo", 0x201A}, {"scaron", 0x161}, {"sdot",
    0x22C5}, {"sect", 0xA7}, {"shy", 0xAD}, {"sigma", 0x3C3}, {"sigmaf", 0x3C2}, {"sim", 0x223C}, {"spades",
    0x2660}, {"sub", 0x2282}, {"sube", 0x2286}, {"sum", 0x2211}, {"sup", 0x2283}, {"sup1", 0xB9}, {"sup2", 0xB2},
    {"sup3", 0xB3}, {"supe", 0x2287}, {"szlig", 0xDF}, {"tau", 0x3C4}, {"there4", 0x2234}, {"theta", 0x3B8},
    {"thetasym", 0x3D1}, {"thinsp", 0x2009}, {"thorn", 0xFE}, {"tilde", 0x2DC}, {"times", 0xD7}, {"trade",
    0x2122}, {"uArr", 0x21D1}, {"uacute", 0xFA}, {"uarr", 0x2191}, {"ucirc", 0xFB}, {"ugrave", 0xF9}, {"uml",
    0xA8}, {"upsih", 0x3D2}, {"upsilon", 0x3C5}, {"uuml", 0xFC}, {"weierp", 0x2118}, {"xi", 0x3BE}, {"yacute",
    0xFD}, {"yen", 0xA5}, {"yuml", 0xFF}, {"zeta", 0x3B6}, {"zwj", 0x200D}, {"zwnj", 0x200C}
};

const Entity *find_entity(const std::string &name) {
  for (const Entity &e : kEntities)
    if (name == e.name) return &e;
  return nullptr;
}

// html.unescape's decoding of a numeric reference `num`; false where it
// removes the character.
bool html_charref(uint64_t num, char32_t &out) {
  if (num == 0x00) { out = 0xFFFD; return true; }
  if (num == 0x0D) { out = 0x0D; return true; }
  if (num >= 0x80 && num <= 0x9F) { out = kCp1252High[num - 0x80]; return true; }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) { out = 0xFFFD; return true; }
  if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || num == 0x7F ||
      (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE)
    return false;
  out = static_cast<char32_t>(num);
  return true;
}

bool is_alnum_ascii(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Replaces each match of `&#?[0-9A-Za-z]{1,24};`, as ftfy's unescape_html.
U32 unescape_html(const U32 &s) {
  U32 out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '&') { out.push_back(s[i++]); continue; }
    size_t j = i + 1;
    const bool numeric = j < s.size() && s[j] == '#';
    if (numeric) j++;
    size_t k = j;
    while (k < s.size() && is_alnum_ascii(s[k])) k++;
    const size_t len = k - j;
    if (len < 1 || len > 24 || k >= s.size() || s[k] != ';') { out.push_back(s[i++]); continue; }
    const std::string body = to_utf8(s.substr(j, len));  // ASCII
    bool replaced = false;
    if (!numeric) {
      if (const Entity *e = find_entity(body)) {
        out.push_back(e->cp);
        replaced = true;
      }
    } else {
      // html.unescape must consume the whole reference, semicolon included.
      const bool hex = body[0] == 'x' || body[0] == 'X';
      const std::string digits = hex ? body.substr(1) : body;
      bool ok = !digits.empty();
      uint64_t num = 0;
      for (char c : digits) {
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
        if (v < 0) { ok = false; break; }
        num = num * (hex ? 16 : 10) + static_cast<uint64_t>(v);
        if (num > 0x10FFFF) num = 0x110000;  // saturate: anything larger is U+FFFD
      }
      if (ok) {
        char32_t c = 0;
        const bool keep = html_charref(num, c);
        if (!(keep && c == ';')) {  // a decoded ';' counts as "not consumed" in ftfy
          if (keep) out.push_back(c);
          replaced = true;
        }
      }
    }
    if (!replaced) out.append(s, i, k + 1 - i);
    i = k + 1;
  }
  return out;
}

// ---- fix_encoding -------------------------------------------------------------

bool all_ascii(const U32 &s) {
  for (char32_t c : s)
    if (c > 0x7F) return false;
  return true;
}

bool encode_latin1(const U32 &s, std::string &bytes) {
  bytes.clear();
  for (char32_t c : s) {
    if (c > 0xFF) return false;
    bytes.push_back(static_cast<char>(c));
  }
  return true;
}

bool encode_sloppy_cp1252(const U32 &s, std::string &bytes) {
  bytes.clear();
  for (char32_t c : s) {
    int b = -1;
    if (c == 0xFFFD) b = 0x1A;
    else if (c == 0x1A) b = -1;  // byte 0x1A decodes to U+FFFD in the sloppy codec
    else if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) b = static_cast<int>(c);
    else
      for (int i = 0; i < 32; i++)
        if (kCp1252High[i] == c) b = 0x80 + i;
    if (b < 0) return false;
    bytes.push_back(static_cast<char>(b));
  }
  return true;
}

// Strict UTF-8 with at least one multi-byte sequence: our stand-in for ftfy's
// is_bad() gate (a segment of ASCII plus U+FFFD would otherwise "decode").
bool decode_utf8_strict(const std::string &bytes, U32 &out) {
  bool multibyte = false;
  for (unsigned char b : bytes) multibyte = multibyte || b >= 0x80;
  if (!multibyte || !g_utf8_validate_len(bytes.data(), bytes.size(), nullptr)) return false;
  out = to_u32(bytes);
  return true;
}

// One step of ftfy's _fix_encoding_one_step_and_explain (see the file comment).
U32 fix_encoding_step(const U32 &s) {
  if (s.empty() || all_ascii(s)) return s;
  std::string bytes;
  U32 fixed;
  const bool latin1 = encode_latin1(s, bytes);
  if (latin1 && decode_utf8_strict(bytes, fixed)) return fixed;
  const bool cp1252 = encode_sloppy_cp1252(s, bytes);
  if (cp1252 && decode_utf8_strict(bytes, fixed)) return fixed;
  if (latin1 && !cp1252) {
    // Latin-1 but not Windows-1252: C1 controls, meant as Windows-1252
    // (strict codec: fails on the five undefined bytes).
    U32 out;
    bool ok = true;
    for (char32_t c : s) {
      if (c >= 0x80 && c <= 0x9F) {
        if (is_strict_cp1252_undefined(static_cast<int>(c))) { ok = false; break; }
        out.push_back(kCp1252High[c - 0x80]);
      } else {
        out.push_back(c);
      }
    }
    if (ok && out != s) return out;
  }
  return s;
}

U32 fix_encoding(U32 s) {
  for (;;) {
    U32 next = fix_encoding_step(s);
    if (next == s) return s;
    s = std::move(next);
  }
}

// ---- the character-level fixers ------------------------------------------------

U32 fix_c1_controls(const U32 &s) {
  U32 out(s);
  for (char32_t &c : out)
    if (c >= 0x80 && c <= 0x9F) c = kCp1252High[c - 0x80];
  return out;
}

const char *ligature(char32_t c) {
  switch (c) {
    case 0x0132: return "IJ";
    case 0x0133: return "ij";
    case 0x0149: return "\xCA\xBCn";  // ʼn
    case 0x01F1: return "DZ";
    case 0x01F2: return "Dz";
    case 0x01F3: return "dz";
    case 0x01C4: return "D\xC5\xBD";  // DŽ
    case 0x01C5: return "D\xC5\xBE";  // Dž
    case 0x01C6: return "d\xC5\xBE";  // dž
    case 0x01C7: return "LJ";
    case 0x01C8: return "Lj";
    case 0x01C9: return "lj";
    case 0x01CA: return "NJ";
    case 0x01CB: return "Nj";
    case 0x01CC: return "nj";
    case 0xFB00: return "ff";
    case 0xFB01: return "fi";
    case 0xFB02: return "fl";
    case 0xFB03: return "ffi";
    case 0xFB04: return "ffl";
    case 0xFB05: return "\xC5\xBFt";  // ſt
    case 0xFB06: return "st";
    default: return nullptr;
  }
}

U32 fix_latin_ligatures(const U32 &s) {
  U32 out;
  for (char32_t c : s) {
    if (const char *r = ligature(c)) out += to_u32(r);
    else out.push_back(c);
  }
  return out;
}

U32 fix_character_width(const U32 &s) {
  U32 out;
  char buf[8];
  for (char32_t c : s) {
    if (c == 0x3000) {
      out.push_back(' ');
    } else if (c >= 0xFF01 && c <= 0xFFEF) {
      const gint n = g_unichar_to_utf8(static_cast<gunichar>(c), buf);
      gchar *norm = g_utf8_normalize(buf, n, G_NORMALIZE_NFKC);
      out += norm ? to_u32(norm) : U32(1, c);
      g_free(norm);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

U32 uncurl_quotes(const U32 &s) {
  U32 out(s);
  for (char32_t &c : out) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    else if (c >= 0x201C && c <= 0x201F) c = '"';
  }
  return out;
}

U32 fix_line_breaks(const U32 &s) {
  U32 out;
  for (size_t i = 0; i < s.size(); i++) {
    const char32_t c = s[i];
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') i++;
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      out.push_back('\n');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

U32 remove_terminal_escapes(const U32 &s) {
  U32 out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == 0x1B && i + 1 < s.size() && s[i + 1] == '[') {
      size_t k = i + 2;
      while (k < s.size() && ((s[k] >= '0' && s[k] <= '9') || s[k] == ';')) k++;
      if (k < s.size() && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z'))) {
        i = k;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool is_removed_control(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

U32 remove_control_chars(const U32 &s) {
  U32 out;
  for (char32_t c : s)
    if (!is_removed_control(c)) out.push_back(c);
  return out;
}

U32 nfc(const U32 &s) {
  const std::string u = to_utf8(s);
  gchar *norm = g_utf8_normalize(u.data(), static_cast<gssize>(u.size()), G_NORMALIZE_NFC);
  if (!norm) return s;
  U32 out = to_u32(norm);
  g_free(norm);
  return out;
}

// ftfy's fix_and_explain on one segment.
U32 fix_segment(U32 s, bool unescape) {
  for (;;) {
    const U32 orig = s;
    if (unescape) s = unescape_html(s);
    s = fix_encoding(std::move(s));
    s = fix_c1_controls(s);
    s = fix_latin_ligatures(s);
    s = fix_character_width(s);
    s = uncurl_quotes(s);
    s = fix_line_breaks(s);
    s = remove_terminal_escapes(s);
    s = remove_control_chars(s);
    s = nfc(s);
    if (s == orig) return s;
  }
}

}  // namespace

std::string fix_text(const std::string &text) {
  if (!g_utf8_validate_len(text.data(), text.size(), nullptr))
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, "prompt is not valid UTF-8 (or contains a NUL byte)");
  const U32 s = to_u32(text);
  U32 out;
  bool unescape = true;  // ftfy's unescape_html="auto"
  size_t pos = 0;
  while (pos < s.size()) {
    size_t brk = s.find(U'\n', pos);
    brk = brk == U32::npos ? s.size() : brk + 1;
    U32 segment = s.substr(pos, brk - pos);
    if (segment.find(U'<') != U32::npos) unescape = false;  // stays off for later segments, as in ftfy
    out += fix_segment(std::move(segment), unescape);
    pos = brk;
  }
  return to_utf8(out);
}

}  // namespace cocoedit
