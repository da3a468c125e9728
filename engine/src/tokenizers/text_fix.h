// text_fix.h — the part of ftfy's `fix_text` (ftfy 6.3.1, default settings)
// that CLIP's tokenizer depends on: HF's slow CLIPTokenizer normalises a
// prompt as whitespace_clean(ftfy.fix_text(text)).lower().  See text_fix.cpp
// for which ftfy steps are reproduced and which are not.
#pragma once

#include <string>

namespace cocoedit {

// ftfy.fix_text(text) for valid UTF-8 `text` (our subset; throws
// COCOEDIT_ERR_INVALID_ARGUMENT for invalid UTF-8 or NUL bytes).
std::string fix_text(const std::string &text);

}  // namespace cocoedit
