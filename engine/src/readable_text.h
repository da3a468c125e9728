// readable_text.h — whether a model family's text encoders can read an
// instruction's writing system.  An instruction in a script the encoders
// never saw (T5 and CLIP read Latin script; the project's own model was
// trained on English, Chinese and Japanese) gives an edit unrelated to it,
// so it is refused with a message saying which languages work.
#pragma once

#include <string>

namespace cocoedit {

// Throws COCOEDIT_ERR_INVALID_ARGUMENT when most letters of `prompt` (valid
// UTF-8) are in scripts that `family` does not read; digits, punctuation
// and a few foreign names among readable words pass.  Families without a
// known list read everything.
void check_readable(const std::string &prompt, const std::string &family);

}  // namespace cocoedit
