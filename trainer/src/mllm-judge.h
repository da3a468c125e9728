// mllm-judge.h — the editing reward R_edit from a multimodal LLM behind any
// OpenAI-compatible chat-completions server with vision (vLLM, llama.cpp's
// llama-server, ...), as design/cocoedit-rl.md step 3 describes.
//
// Each request shows the judge [source, edited] as PNG data URLs plus the
// instruction, and asks for a 0–5 rating, number only; R_edit = score / 5.
// With use_logprobs (Edit-R1's variant) the score is the expectation of the
// first answer token over "0".."5" under the returned top_logprobs.
//
// Failure policy (why: the trainer must neither hang nor learn from noise):
//   - a reply without a usable number is retried (at retry_temperature, since a
//     greedy retry would repeat itself), then scored `fallback` (0.5) and counted
//     in MllmStats::fallbacks;
//   - transport failures (connection refused, timeout, connection closed) and
//     HTTP errors are retried with a short back-off; when a request still fails,
//     score() throws cocoedit::Error(COCOEDIT_ERR_IO) naming the URL and the
//     cause, and abandons the batch: a judge that does not answer is a broken
//     run, not a 0.5 reward.  The trainer skips the step (issue 4, "bad input").
//   - every attempt is bounded by timeout_s; a whole score() call by about
//     (retries + 1) · (timeout_s + back-off) per wave of `concurrency` requests.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cocoedit::train {

struct MllmConfig {
  std::string url = "http://127.0.0.1:8000/v1";  // base URL; "/chat/completions" is appended
  std::string model;                  // the served model's name ("model" of the request)
  std::string api_key;                // sent as "Authorization: Bearer …" when not empty
  std::string api_key_env;            // or: the name of an environment variable holding it
                                      // (keeps keys out of configs saved with checkpoints)
  int concurrency = 8;                // requests in flight at once
  double timeout_s = 60;              // per attempt, connection included
  int retries = 2;                    // extra attempts after the first
  bool use_logprobs = false;          // Edit-R1: expectation over the first token's top_logprobs
  int top_logprobs = 20;              // how many alternatives to ask for (servers cap at 20)
  double fallback = 0.5;              // R_edit of a reply that never parsed
  double temperature = 0.0;           // first attempt: greedy
  double retry_temperature = 0.7;     // retries of unparseable replies
  int max_tokens = 16;                // the answer is one number
  // The text sent after the two images.  "{instruction}" is replaced by the
  // instruction; empty = the default below (the authors' prompt, paraphrased).
  std::string prompt_template;
};

// The default prompt template.
extern const char *const kDefaultJudgePrompt;

// One edit to judge.  `source` and `edited` are (3, H, W) float images in
// [0, 1] (any device; a leading batch dimension of 1 is accepted); they are
// quantised to 8-bit RGB PNG, as the judge would see any saved image.
struct JudgeRequest {
  std::string instruction;
  at::Tensor source, edited;
};

// The outcome of one request, for logs and reports.
struct JudgeResult {
  double score = 0;             // R_edit in [0, 1]
  bool fallback = false;        // no attempt gave a number: score = fallback
  bool from_logprobs = false;   // the score is a logprob expectation
  int attempts = 0;             // HTTP requests made for it
  std::string reply;            // the last reply's text (content)
};

// Counters over the judge's life (all score() calls).
struct MllmStats {
  int64_t requests = 0;         // edits judged
  int64_t attempts = 0;         // HTTP requests sent
  int64_t retries = 0;          // attempts beyond the first, for any reason
  int64_t unparseable = 0;      // replies without a usable number (each attempt)
  int64_t fallbacks = 0;        // edits scored `fallback`
  int64_t logprob_missing = 0;  // use_logprobs, but the reply had no usable logprobs
  int64_t transport_errors = 0; // timeouts, refused or closed connections (each attempt)
  int64_t http_errors = 0;      // non-2xx answers (each attempt)
};

class MllmJudge {
 public:
  // Checks the config (throws COCOEDIT_ERR_INVALID_ARGUMENT) and reads the API
  // key from api_key_env; does not contact the server.
  explicit MllmJudge(const MllmConfig &cfg);
  ~MllmJudge();
  MllmJudge(const MllmJudge &) = delete;
  MllmJudge &operator=(const MllmJudge &) = delete;

  // R_edit of each request, in order, in [0, 1].  Not reentrant: one call at a
  // time per judge (separate judges may run in separate threads).
  std::vector<double> score(const std::vector<JudgeRequest> &requests);
  std::vector<JudgeResult> score_detailed(const std::vector<JudgeRequest> &requests);

  const MllmStats &stats() const;
  const MllmConfig &config() const;
  // The chat-completions endpoint, e.g. http://127.0.0.1:8000/v1/chat/completions.
  const std::string &endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- pieces, public for tests and tools ---------------------------------------

// The prompt for an instruction ("{instruction}" substituted).
std::string judge_prompt(const MllmConfig &cfg, const std::string &instruction);

// A (3, H, W) [0, 1] image as "data:image/png;base64,…".
std::string png_data_url(const at::Tensor &image);

// The 0–5 score in a reply's text, or nothing.  Accepted: a bare number
// ("4", " 3.5\n", "**4**", "Score: 4."), "N/5" or "N out of 5" (the N), or a
// text whose numbers are all the same value; a leading <think>…</think> block
// is ignored.  Numbers outside [0, 5] or several different ones: nothing.
std::optional<double> parse_score_text(const std::string &text);

// What a chat-completions response body says: the reply text and, with
// `use_logprobs`, Σ_k k·p_k / Σ_k p_k over the tokens "0".."5" among the
// top_logprobs of the first non-blank generated token (p = exp(logprob);
// tokens that differ only by surrounding spaces are summed).  Throws
// COCOEDIT_ERR_FORMAT when the body is not a chat-completions JSON object.
struct ParsedReply {
  std::string content;
  std::optional<double> text_score;     // parse_score_text(content)
  std::optional<double> logprob_score;  // only when asked and present
};
ParsedReply parse_chat_response(const std::string &body, bool use_logprobs);

}  // namespace cocoedit::train
