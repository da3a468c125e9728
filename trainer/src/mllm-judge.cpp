// mllm-judge.cpp — an OpenAI-compatible chat-completions client scoring edits;
// see mllm-judge.h for the policy.  One libcurl multi handle drives up to
// `concurrency` transfers from the calling thread: no threads of our own, and
// the connection cache (keep-alive) lives as long as the judge.
#include "mllm-judge.h"

#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <png.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <regex>
#include <string>

#include "error.h"

namespace cocoedit::train {

const char *const kDefaultJudgePrompt =
    "The first image is the original. The second image is the result of editing it with this "
    "instruction:\n"
    "{instruction}\n"
    "Rate from 0 to 5 how well the edit follows the instruction: 0 means the instruction was not "
    "carried out at all or the wrong thing was changed, 5 means it was carried out exactly and the "
    "result looks natural.\n"
    "Answer with the number only.";

namespace {

[[noreturn]] void bad(const std::string &what) { fail(COCOEDIT_ERR_INVALID_ARGUMENT, what); }

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string trim(const std::string &s) {
  const char *ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// --- PNG data URLs -----------------------------------------------------------

void png_append(png_structp png, png_bytep data, png_size_t n) {
  auto *out = static_cast<std::string *>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char *>(data), n);
}

// RGB8 rows (H, W, 3) → PNG bytes.  Fast compression: the bytes travel once,
// over a local network, and encoding is on the critical path.
std::string encode_png_rgb8(const uint8_t *rgb, int width, int height) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    fail(COCOEDIT_ERR_OUT_OF_MEMORY, "png_data_url: cannot create a PNG writer");
  }
  std::string out;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail(COCOEDIT_ERR_INTERNAL, "png_data_url: libpng failed to encode the image");
  }
  png_set_write_fn(png, &out, png_append, nullptr);
  png_set_compression_level(png, 1);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++) png_write_row(png, const_cast<png_bytep>(rgb + size_t(y) * width * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// Checks a judge image: (3, H, W) or (1, 3, H, W), floating point.
at::Tensor check_judge_image(const at::Tensor &t, const std::string &what) {
  if (!t.defined()) bad(what + " is undefined");
  at::Tensor x = (t.dim() == 4 && t.size(0) == 1) ? t[0] : t;
  if (x.dim() != 3 || x.size(0) != 3 || x.size(1) < 1 || x.size(2) < 1) {
    std::string s;
    for (int64_t i = 0; i < t.dim(); i++) s += (i ? ", " : "") + std::to_string(t.size(i));
    bad(what + " must be a (3, H, W) image, got (" + s + ")");
  }
  if (!at::isFloatingType(x.scalar_type())) bad(what + " must be floating point in [0, 1]");
  return x;
}

// --- reply parsing -----------------------------------------------------------

// A member's text, or "" when it is missing or not a string: a server may
// send a number or null where a token belongs (json-glib then gives NULL).
std::string string_member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) return "";
  const char *s = json_node_get_string(n);
  return s ? s : "";
}

// The token text of a logprob entry as a digit 0..5, or −1.
int digit_token(const std::string &token) {
  const std::string t = trim(token);
  return (t.size() == 1 && t[0] >= '0' && t[0] <= '5') ? t[0] - '0' : -1;
}

// Edit-R1: E[k] under the first non-blank token's top_logprobs, renormalised
// over the digits 0..5: Σ k·exp(lp_k) / Σ exp(lp_k).
std::optional<double> logprob_expectation(JsonObject *choice) {
  JsonNode *lpn = json_object_get_member(choice, "logprobs");
  if (!lpn || !JSON_NODE_HOLDS_OBJECT(lpn)) return std::nullopt;
  JsonNode *cn = json_object_get_member(json_node_get_object(lpn), "content");
  if (!cn || !JSON_NODE_HOLDS_ARRAY(cn)) return std::nullopt;
  JsonArray *content = json_node_get_array(cn);
  for (guint i = 0; i < json_array_get_length(content); i++) {
    JsonNode *en = json_array_get_element(content, i);
    if (!JSON_NODE_HOLDS_OBJECT(en)) return std::nullopt;
    JsonObject *entry = json_node_get_object(en);
    const std::string token = string_member(entry, "token");
    if (trim(token).empty()) continue;  // skip leading blanks / newlines
    double p[6] = {0, 0, 0, 0, 0, 0};
    JsonNode *tn = json_object_get_member(entry, "top_logprobs");
    if (tn && JSON_NODE_HOLDS_ARRAY(tn)) {
      JsonArray *top = json_node_get_array(tn);
      for (guint j = 0; j < json_array_get_length(top); j++) {
        JsonNode *alt = json_array_get_element(top, j);
        if (!JSON_NODE_HOLDS_OBJECT(alt)) continue;
        JsonObject *a = json_node_get_object(alt);
        const int k = digit_token(string_member(a, "token"));
        if (k >= 0) p[k] += std::exp(json_object_get_double_member_with_default(a, "logprob", -INFINITY));
      }
    } else {
      // No alternatives: the sampled token alone (a degenerate expectation).
      const int k = digit_token(token);
      if (k >= 0) p[k] = std::exp(json_object_get_double_member_with_default(entry, "logprob", 0.0));
    }
    double sum = 0, mean = 0;
    for (int k = 0; k <= 5; k++) {
      sum += p[k];
      mean += k * p[k];
    }
    if (!(sum > 0) || !std::isfinite(mean)) return std::nullopt;
    return mean / sum;
  }
  return std::nullopt;
}

}  // namespace

// --- public pieces -------------------------------------------------------------

std::string judge_prompt(const MllmConfig &cfg, const std::string &instruction) {
  std::string p = cfg.prompt_template.empty() ? kDefaultJudgePrompt : cfg.prompt_template;
  const std::string key = "{instruction}";
  for (size_t at = p.find(key); at != std::string::npos; at = p.find(key, at + instruction.size()))
    p.replace(at, key.size(), instruction);
  return p;
}

std::string png_data_url(const at::Tensor &image) {
  at::Tensor x = check_judge_image(image, "png_data_url: image");
  // [0, 1] float → RGB8 (H, W, 3), rounding to nearest; NaN → 0.
  at::Tensor rgb = (at::nan_to_num(x.detach().to(at::kCPU, at::kFloat), 0.0, 1.0, 0.0).clamp(0, 1) * 255.0)
                       .round()
                       .to(at::kByte)
                       .permute({1, 2, 0})
                       .contiguous();
  const std::string png =
      encode_png_rgb8(rgb.data_ptr<uint8_t>(), static_cast<int>(rgb.size(1)), static_cast<int>(rgb.size(0)));
  gchar *b64 = g_base64_encode(reinterpret_cast<const guchar *>(png.data()), png.size());
  std::string url = std::string("data:image/png;base64,") + b64;
  g_free(b64);
  return url;
}

std::optional<double> parse_score_text(const std::string &text) {
  // A reasoning model's thoughts come first; the answer follows </think>.
  std::string s = text;
  const size_t think = s.rfind("</think>");
  if (think != std::string::npos) s = s.substr(think + 8);
  auto in_range = [](double v) -> std::optional<double> {
    if (v >= 0 && v <= 5) return v;
    return std::nullopt;
  };
  static const std::regex out_of_5(R"((\d+(?:\.\d+)?)\s*\(?\s*(?:/|out of)\s*5(?!\d|\.\d))", std::regex::icase);
  std::smatch m;
  if (std::regex_search(s, m, out_of_5)) return in_range(g_ascii_strtod(m[1].str().c_str(), nullptr));
  static const std::regex number(R"(-?\d+(?:\.\d+)?)");
  std::optional<double> value;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), number); it != std::sregex_iterator(); ++it) {
    const double v = g_ascii_strtod(it->str().c_str(), nullptr);
    if (value && *value != v) return std::nullopt;  // "3 or 4": ambiguous
    value = v;
  }
  if (!value) return std::nullopt;
  return in_range(*value);
}

ParsedReply parse_chat_response(const std::string &body, bool use_logprobs) {
  JsonParser *parser = json_parser_new();
  GError *err = nullptr;
  if (!json_parser_load_from_data(parser, body.data(), static_cast<gssize>(body.size()), &err)) {
    std::string msg = err->message;
    g_error_free(err);
    g_object_unref(parser);
    fail(COCOEDIT_ERR_FORMAT, "the judge's answer is not JSON: " + msg);
  }
  ParsedReply r;
  try {
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) fail(COCOEDIT_ERR_FORMAT, "the judge's answer is not a JSON object");
    JsonNode *choices = json_object_get_member(json_node_get_object(root), "choices");
    if (!choices || !JSON_NODE_HOLDS_ARRAY(choices) || json_array_get_length(json_node_get_array(choices)) == 0)
      fail(COCOEDIT_ERR_FORMAT, "the judge's answer has no \"choices\"");
    JsonNode *c0 = json_array_get_element(json_node_get_array(choices), 0);
    if (!JSON_NODE_HOLDS_OBJECT(c0)) fail(COCOEDIT_ERR_FORMAT, "the judge's answer has a malformed choice");
    JsonObject *choice = json_node_get_object(c0);
    JsonNode *msg = json_object_get_member(choice, "message");
    if (msg && JSON_NODE_HOLDS_OBJECT(msg)) {
      JsonNode *content = json_object_get_member(json_node_get_object(msg), "content");
      if (content && JSON_NODE_HOLDS_VALUE(content) && json_node_get_value_type(content) == G_TYPE_STRING)
        r.content = json_node_get_string(content);
    }
    r.text_score = parse_score_text(r.content);
    if (use_logprobs) r.logprob_score = logprob_expectation(choice);
  } catch (...) {
    g_object_unref(parser);
    throw;
  }
  g_object_unref(parser);
  return r;
}

// --- the client ----------------------------------------------------------------

namespace {

// One request's state across its attempts.
struct Job {
  size_t index = 0;
  std::string messages_json;  // built on the first attempt, kept for retries
  int attempts = 0;
  bool hot = false;           // the next attempt uses retry_temperature
  double not_before = 0;      // earliest start of the next attempt (back-off)
};

// One HTTP attempt in flight.
struct Transfer {
  Job *job = nullptr;
  CURL *easy = nullptr;
  curl_slist *headers = nullptr;
  std::string body, response;
  char errbuf[CURL_ERROR_SIZE] = {0};
};

constexpr size_t kMaxResponseBytes = 16u << 20;

size_t write_cb(char *data, size_t size, size_t n, void *user) {
  auto *t = static_cast<Transfer *>(user);
  if (t->response.size() + size * n > kMaxResponseBytes) return 0;  // aborts: CURLE_WRITE_ERROR
  t->response.append(data, size * n);
  return size * n;
}

std::string json_string(JsonNode *node) {
  JsonGenerator *gen = json_generator_new();
  json_generator_set_root(gen, node);
  gchar *s = json_generator_to_data(gen, nullptr);
  std::string out(s);
  g_free(s);
  g_object_unref(gen);
  return out;
}

// [{"role": "user", "content": [source image, edited image, prompt text]}]
std::string build_messages(const JudgeRequest &req, const MllmConfig &cfg) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_array(b);
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "role");
  json_builder_add_string_value(b, "user");
  json_builder_set_member_name(b, "content");
  json_builder_begin_array(b);
  for (const at::Tensor *img : {&req.source, &req.edited}) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, "image_url");
    json_builder_set_member_name(b, "image_url");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "url");
    json_builder_add_string_value(b, png_data_url(*img).c_str());
    json_builder_end_object(b);
    json_builder_end_object(b);
  }
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, "text");
  json_builder_set_member_name(b, "text");
  json_builder_add_string_value(b, judge_prompt(cfg, req.instruction).c_str());
  json_builder_end_object(b);
  json_builder_end_array(b);
  json_builder_end_object(b);
  json_builder_end_array(b);
  JsonNode *root = json_builder_get_root(b);
  std::string s = json_string(root);
  json_node_unref(root);
  g_object_unref(b);
  return s;
}

// The request body: the small fields by JsonBuilder, the (large) messages
// spliced in as already-serialised JSON so that retries do not re-encode images.
std::string build_body(const Job &job, const MllmConfig &cfg) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "model");
  json_builder_add_string_value(b, cfg.model.c_str());
  json_builder_set_member_name(b, "max_tokens");
  json_builder_add_int_value(b, cfg.max_tokens);
  json_builder_set_member_name(b, "temperature");
  json_builder_add_double_value(b, job.hot ? cfg.retry_temperature : cfg.temperature);
  json_builder_set_member_name(b, "stream");
  json_builder_add_boolean_value(b, FALSE);
  if (cfg.use_logprobs) {
    json_builder_set_member_name(b, "logprobs");
    json_builder_add_boolean_value(b, TRUE);
    json_builder_set_member_name(b, "top_logprobs");
    json_builder_add_int_value(b, cfg.top_logprobs);
  }
  json_builder_end_object(b);
  JsonNode *root = json_builder_get_root(b);
  std::string head = json_string(root);  // "{...}"
  json_node_unref(root);
  g_object_unref(b);
  head.pop_back();  // drop the closing brace
  return head + ",\"messages\":" + job.messages_json + "}";
}

std::string describe_failure(CURLcode code, const Transfer &t, double timeout_s) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: {
      char buf[64];
      g_snprintf(buf, sizeof buf, "no answer within %g s", timeout_s);
      return buf;
    }
    case CURLE_COULDNT_CONNECT:
      return std::string("cannot connect (is the server running?): ") + (t.errbuf[0] ? t.errbuf : curl_easy_strerror(code));
    case CURLE_COULDNT_RESOLVE_HOST:
      return std::string("cannot resolve the host: ") + (t.errbuf[0] ? t.errbuf : curl_easy_strerror(code));
    case CURLE_GOT_NOTHING:
      return "the server closed the connection without answering";
    default:
      return t.errbuf[0] ? t.errbuf : curl_easy_strerror(code);
  }
}

std::once_flag curl_init_once;

}  // namespace

struct MllmJudge::Impl {
  MllmConfig cfg;
  std::string endpoint;
  std::string auth_header;
  CURLM *multi = nullptr;
  MllmStats stats;

  ~Impl() {
    if (multi) curl_multi_cleanup(multi);
  }

  Transfer *start(Job &job, const JudgeRequest &req) {
    if (job.messages_json.empty()) job.messages_json = build_messages(req, cfg);
    auto *t = new Transfer();
    t->job = &job;
    t->body = build_body(job, cfg);
    t->easy = curl_easy_init();
    if (!t->easy) {
      delete t;
      fail(COCOEDIT_ERR_OUT_OF_MEMORY, "MLLM judge: curl_easy_init failed");
    }
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip for big bodies
    if (!auth_header.empty()) t->headers = curl_slist_append(t->headers, auth_header.c_str());
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    const long timeout_ms = std::max(1L, static_cast<long>(std::lround(cfg.timeout_s * 1000)));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 30000L));
    curl_multi_add_handle(multi, e);
    job.attempts++;
    stats.attempts++;
    if (job.attempts > 1) stats.retries++;
    return t;
  }

  void finish(Transfer *t) {
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    delete t;
  }

  [[noreturn]] void give_up(const Job &job, const std::string &why) {
    fail(COCOEDIT_ERR_IO, "MLLM judge at " + endpoint + ": " + why + " (request " + std::to_string(job.index) +
                              ", " + std::to_string(job.attempts) + " attempt" + (job.attempts > 1 ? "s" : "") + ")");
  }

  // Back-off before retrying a failed transfer: 0.25 s, 0.5 s, 1 s, … ≤ 2 s.
  static double backoff_s(int attempts) { return std::min(2.0, 0.25 * std::pow(2.0, attempts - 1)); }

  std::vector<JudgeResult> run(const std::vector<JudgeRequest> &reqs) {
    // Check every request before any network traffic.
    for (size_t i = 0; i < reqs.size(); i++) {
      const std::string what = "MLLM judge: request " + std::to_string(i);
      check_judge_image(reqs[i].source, what + ": source");
      check_judge_image(reqs[i].edited, what + ": edited");
    }
    std::vector<JudgeResult> results(reqs.size());
    std::vector<Job> jobs(reqs.size());
    std::deque<Job *> queue;  // waiting for a slot, in order
    for (size_t i = 0; i < reqs.size(); i++) {
      jobs[i].index = i;
      queue.push_back(&jobs[i]);
    }
    std::vector<Transfer *> active;
    // Whatever happens (a give-up, a bad image, an allocation failure), no
    // transfer outlives this call.
    struct Cleanup {
      Impl *self;
      std::vector<Transfer *> &active;
      ~Cleanup() {
        for (Transfer *t : active) self->finish(t);
      }
    } cleanup{this, active};
    const int max_attempts = cfg.retries + 1;
    size_t done = 0;
    stats.requests += static_cast<int64_t>(reqs.size());

    while (done < reqs.size()) {
      // Fill free slots with jobs whose back-off has passed.
      const double now = now_s();
      for (auto it = queue.begin(); it != queue.end() && static_cast<int>(active.size()) < cfg.concurrency;) {
        if ((*it)->not_before <= now) {
          active.push_back(start(**it, reqs[(*it)->index]));
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      if (active.empty()) {  // everything waits for a back-off
        double next = INFINITY;
        for (Job *j : queue) next = std::min(next, j->not_before);
        g_usleep(static_cast<gulong>(std::max(0.0, std::min(next - now, 2.0)) * 1e6) + 1000);
        continue;
      }
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg *msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer *t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char **>(&t));
        const CURLcode code = msg->data.result;
        long http = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &http);
        active.erase(std::find(active.begin(), active.end(), t));
        Job &job = *t->job;
        JudgeResult &res = results[job.index];
        res.attempts = job.attempts;
        std::string response = std::move(t->response);
        std::string failure;
        if (code != CURLE_OK) failure = describe_failure(code, *t, cfg.timeout_s);
        finish(t);

        if (code != CURLE_OK) {
          stats.transport_errors++;
          if (job.attempts >= max_attempts) give_up(job, failure);
          job.not_before = now_s() + backoff_s(job.attempts);
          queue.push_back(&job);
          continue;
        }
        if (http < 200 || http >= 300) {
          stats.http_errors++;
          std::string why = "HTTP " + std::to_string(http) + ": " + trim(response.substr(0, 300));
          // Server-side trouble or overload may pass; other 4xx (unknown
          // model, request too large) will not, so they fail at once.
          const bool transient = http >= 500 || http == 408 || http == 429;
          if (!transient || job.attempts >= max_attempts) give_up(job, why);
          job.not_before = now_s() + backoff_s(job.attempts);
          queue.push_back(&job);
          continue;
        }
        std::optional<double> score;
        try {
          ParsedReply p = parse_chat_response(response, cfg.use_logprobs);
          res.reply = p.content;
          if (cfg.use_logprobs && p.logprob_score) {
            score = p.logprob_score;
            res.from_logprobs = true;
          } else {
            if (cfg.use_logprobs) stats.logprob_missing++;
            score = p.text_score;
          }
        } catch (const Error &) {
          res.reply = response.substr(0, 300);  // not a chat-completions answer
        }
        if (score) {
          res.score = *score / 5.0;
          std::string().swap(job.messages_json);  // the images are not needed any more
          done++;
          continue;
        }
        stats.unparseable++;
        if (job.attempts < max_attempts) {
          job.hot = true;  // retry at once, sampling, so the answer can differ
          job.not_before = 0;
          queue.push_front(&job);
          continue;
        }
        res.score = cfg.fallback;
        res.fallback = true;
        stats.fallbacks++;
        std::string().swap(job.messages_json);
        done++;
      }
      if (done < reqs.size() && !active.empty()) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }

    int fallbacks = 0;
    for (const JudgeResult &r : results) fallbacks += r.fallback;
    if (fallbacks > 0)
      g_message("MLLM judge at %s: %d of %zu replies had no score after %d attempts; scored %g", endpoint.c_str(),
                fallbacks, reqs.size(), max_attempts, cfg.fallback);
    return results;
  }
};

MllmJudge::MllmJudge(const MllmConfig &cfg) : impl_(std::make_unique<Impl>()) {
  std::string url = trim(cfg.url);
  if (!g_str_has_prefix(url.c_str(), "http://") && !g_str_has_prefix(url.c_str(), "https://"))
    bad("MLLM judge: url must start with http:// or https://, got \"" + cfg.url + "\"");
  if (cfg.model.empty()) bad("MLLM judge: model (the served model's name) is empty");
  if (cfg.concurrency < 1) bad("MLLM judge: concurrency must be >= 1");
  if (!(cfg.timeout_s > 0) || !std::isfinite(cfg.timeout_s)) bad("MLLM judge: timeout_s must be > 0");
  if (cfg.retries < 0) bad("MLLM judge: retries must be >= 0");
  if (!(cfg.fallback >= 0 && cfg.fallback <= 1)) bad("MLLM judge: fallback must be in [0, 1]");
  if (cfg.top_logprobs < 1 || cfg.top_logprobs > 20) bad("MLLM judge: top_logprobs must be in 1..20");
  if (cfg.max_tokens < 1) bad("MLLM judge: max_tokens must be >= 1");
  if (!(cfg.temperature >= 0) || !(cfg.retry_temperature >= 0)) bad("MLLM judge: temperatures must be >= 0");
  if (!cfg.prompt_template.empty() && cfg.prompt_template.find("{instruction}") == std::string::npos)
    bad("MLLM judge: prompt_template has no {instruction} placeholder");
  impl_->cfg = cfg;
  std::string key = cfg.api_key;
  if (key.empty() && !cfg.api_key_env.empty()) {
    const char *v = g_getenv(cfg.api_key_env.c_str());
    if (!v) bad("MLLM judge: the environment variable " + cfg.api_key_env + " (api_key_env) is not set");
    key = v;
  }
  if (!key.empty()) impl_->auth_header = "Authorization: Bearer " + key;
  while (!url.empty() && url.back() == '/') url.pop_back();
  impl_->endpoint = g_str_has_suffix(url.c_str(), "/chat/completions") ? url : url + "/chat/completions";

  std::call_once(curl_init_once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      fail(COCOEDIT_ERR_INTERNAL, "MLLM judge: curl_global_init failed");
  });
  impl_->multi = curl_multi_init();
  if (!impl_->multi) fail(COCOEDIT_ERR_OUT_OF_MEMORY, "MLLM judge: curl_multi_init failed");
}

MllmJudge::~MllmJudge() = default;

std::vector<JudgeResult> MllmJudge::score_detailed(const std::vector<JudgeRequest> &requests) {
  return impl_->run(requests);
}

std::vector<double> MllmJudge::score(const std::vector<JudgeRequest> &requests) {
  std::vector<double> out;
  for (const JudgeResult &r : impl_->run(requests)) out.push_back(r.score);
  return out;
}

const MllmStats &MllmJudge::stats() const { return impl_->stats; }
const MllmConfig &MllmJudge::config() const { return impl_->cfg; }
const std::string &MllmJudge::endpoint() const { return impl_->endpoint; }

}  // namespace cocoedit::train
