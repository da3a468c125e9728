// readers-judge.cpp — the MLLM judge's HTTP response bodies (readers.h).
#include "mllm-judge.h"
#include "readers.h"

namespace cocoedit::fuzz {

void parse_judge_response(const std::string &in) {
  train::parse_chat_response(in, true);
  train::parse_chat_response(in, false);
  train::parse_score_text(in);
}

}  // namespace cocoedit::fuzz
