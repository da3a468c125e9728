// readable_text.cpp — see readable_text.h.
#include "readable_text.h"

#include <glib.h>

#include <algorithm>
#include <map>
#include <vector>

#include "error.h"

namespace cocoedit {

namespace {

struct Readable {
  const char *family;
  std::vector<GUnicodeScript> scripts;
  const char *languages;  // for the message
};

// T5 v1.1's SentencePiece vocabulary and CLIP's BPE cover Latin script; the
// project's own byte-level encoder was trained on the data generator's
// three languages (trainer/data: en, zh_CN, ja).
const Readable kReadable[] = {
    {"flux-kontext", {G_UNICODE_SCRIPT_LATIN}, "English"},
    {"cocoedit",
     {G_UNICODE_SCRIPT_LATIN, G_UNICODE_SCRIPT_HAN, G_UNICODE_SCRIPT_HIRAGANA, G_UNICODE_SCRIPT_KATAKANA},
     "English, Chinese or Japanese"},
};

std::string script_name(GUnicodeScript script) {
  switch (script) {
    case G_UNICODE_SCRIPT_ARABIC: return "Arabic script";
    case G_UNICODE_SCRIPT_ARMENIAN: return "Armenian script";
    case G_UNICODE_SCRIPT_BENGALI: return "Bengali script";
    case G_UNICODE_SCRIPT_CYRILLIC: return "Cyrillic script";
    case G_UNICODE_SCRIPT_DEVANAGARI: return "Devanagari script";
    case G_UNICODE_SCRIPT_GEORGIAN: return "Georgian script";
    case G_UNICODE_SCRIPT_GREEK: return "Greek script";
    case G_UNICODE_SCRIPT_HAN: return "Chinese characters";
    case G_UNICODE_SCRIPT_HANGUL: return "Hangul (Korean)";
    case G_UNICODE_SCRIPT_HEBREW: return "Hebrew script";
    case G_UNICODE_SCRIPT_HIRAGANA: return "Hiragana";
    case G_UNICODE_SCRIPT_KATAKANA: return "Katakana";
    case G_UNICODE_SCRIPT_TAMIL: return "Tamil script";
    case G_UNICODE_SCRIPT_THAI: return "Thai script";
    default: {
      // ISO 15924 code, e.g. "Ethi".
      const guint32 tag = g_unicode_script_to_iso15924(script);
      std::string code;
      for (int shift = 24; shift >= 0; shift -= 8) code += static_cast<char>((tag >> shift) & 0xff);
      return "script " + code;
    }
  }
}

}  // namespace

void check_readable(const std::string &prompt, const std::string &family) {
  const Readable *readable = nullptr;
  for (const Readable &r : kReadable)
    if (family == r.family) readable = &r;
  if (!readable) return;

  int n_readable = 0;
  std::map<GUnicodeScript, int> unreadable;
  for (const char *p = prompt.c_str(); *p; p = g_utf8_next_char(p)) {
    const gunichar c = g_utf8_get_char(p);
    if (!g_unichar_isalpha(c)) continue;
    const GUnicodeScript script = g_unichar_get_script(c);
    if (script == G_UNICODE_SCRIPT_COMMON || script == G_UNICODE_SCRIPT_INHERITED) continue;
    if (std::find(readable->scripts.begin(), readable->scripts.end(), script) != readable->scripts.end())
      n_readable++;
    else
      unreadable[script]++;
  }
  int n_unreadable = 0;
  auto most = unreadable.end();
  for (auto it = unreadable.begin(); it != unreadable.end(); ++it) {
    n_unreadable += it->second;
    if (most == unreadable.end() || it->second > most->second) most = it;
  }
  if (n_unreadable > n_readable)
    fail(COCOEDIT_ERR_INVALID_ARGUMENT, std::string("the instruction is written in ") + script_name(most->first) +
                                            ", which this model cannot read: write it in " +
                                            readable->languages);
}

}  // namespace cocoedit
