// test-mllm.cpp — the MLLM judge client (trainer/src/mllm-judge.h) against
// fake-judge-server.py, a real HTTP server on 127.0.0.1 that this program
// starts: scores, logprob expectation, retries and fallback, HTTP errors,
// closed connections, timeouts, a server that is down, and concurrency.
//
// Environment: COCOEDIT_PYTHON (python3) and COCOEDIT_FAKE_JUDGE (the server
// script); set by meson.
#include <arpa/inet.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "error.h"
#include "mllm-judge.h"

using namespace cocoedit;
using namespace cocoedit::train;

static std::string base_url;  // http://127.0.0.1:PORT/v1
static std::string log_path;  // the server's JSON-lines request log

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static void expect_near(double got, double want, double tol, const char *what) {
  if (!(std::fabs(got - want) <= tol)) g_error("%s: got %.12g, want %.12g (±%g)", what, got, want, tol);
}

// Runs `body`, checks it throws cocoedit::Error with `code` and every fragment.
static std::string expect_error(cocoedit_status code, const std::vector<std::string> &fragments,
                                const std::function<void()> &body) {
  try {
    body();
  } catch (const Error &e) {
    std::string msg = e.what();
    if (e.code() != code) g_error("expected status %d, got %d: %s", code, e.code(), msg.c_str());
    for (const std::string &f : fragments)
      if (msg.find(f) == std::string::npos) g_error("expected \"%s\" in the error: %s", f.c_str(), msg.c_str());
    return msg;
  }
  g_error("expected an error, got none");
}

static MllmConfig config(const std::string &model) {
  MllmConfig c;
  c.url = base_url;
  c.model = model;
  c.timeout_s = 20;
  return c;
}

// A request whose edited image is the constant `edited` (so the fake server's
// "normal" answer is round(5·edited)) and whose source is constant `source`.
static JudgeRequest request(const std::string &instruction, double edited, double source = 0.2, int h = 12, int w = 16) {
  JudgeRequest r;
  r.instruction = instruction;
  r.source = at::full({3, h, w}, source);
  r.edited = at::full({3, h, w}, edited);
  return r;
}

// The server log's entries of one group (the request's model string).
static std::vector<JsonObject *> log_entries(const std::string &group, JsonParser **keep) {
  gchar *text = nullptr;
  if (!g_file_get_contents(log_path.c_str(), &text, nullptr, nullptr)) text = g_strdup("");
  std::string arr = "[";
  gchar **lines = g_strsplit(text, "\n", -1);
  for (gchar **l = lines; *l; l++)
    if (**l) arr += std::string(arr.size() > 1 ? "," : "") + *l;
  g_strfreev(lines);
  arr += "]";
  g_free(text);
  *keep = json_parser_new();
  if (!json_parser_load_from_data(*keep, arr.c_str(), -1, nullptr)) g_error("unreadable server log");
  std::vector<JsonObject *> out;
  JsonArray *a = json_node_get_array(json_parser_get_root(*keep));
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    if (group == json_object_get_string_member(o, "group")) out.push_back(o);
  }
  return out;
}

// --- offline pieces -------------------------------------------------------------

static void test_parse_text() {
  struct {
    const char *text;
    double want;  // < 0: no score
  } cases[] = {
      {"4", 4},         {" 3.5\n", 3.5},     {"**4**", 4},      {"Score: 4.", 4},
      {"4/5", 4},       {"I rate it 3 out of 5.", 3},            {"2 (out of 5)", 2},
      {"5.0", 5},       {"0", 0},            {"<think>2 or 3? The sky is red.</think>\n3", 3},
      {"6", -1},        {"3 or 4", -1},      {"no idea", -1},   {"", -1},
      {"-1", -1},       {"10/10", -1},       {"Rating: 4\nConfidence: 90", -1},
  };
  for (const auto &c : cases) {
    std::optional<double> got = parse_score_text(c.text);
    if (c.want < 0) {
      if (got) g_error("parse_score_text(\"%s\") = %g, want nothing", c.text, *got);
    } else {
      if (!got || *got != c.want) g_error("parse_score_text(\"%s\"): want %g", c.text, c.want);
    }
  }
}

static void test_parse_response() {
  // Leading blank token skipped; " 4" and "4" are one outcome; non-digits ignored.
  const char *body = R"({"choices":[{"message":{"content":"\n4"},"logprobs":{"content":[
      {"token":"\n","logprob":-0.01,"top_logprobs":[{"token":"\n","logprob":-0.01}]},
      {"token":"4","logprob":-0.7,"top_logprobs":[
        {"token":"4","logprob":-0.916290731874155},{"token":" 4","logprob":-2.302585092994046},
        {"token":"5","logprob":-1.6094379124341003},{"token":"x","logprob":-1.2}]}]}}]})";
  ParsedReply r = parse_chat_response(body, true);
  g_assert_cmpstr(r.content.c_str(), ==, "\n4");
  g_assert_true(r.text_score && *r.text_score == 4);
  g_assert_true(r.logprob_score.has_value());
  // p4 = 0.4 + 0.1, p5 = 0.2 → (4·0.5 + 5·0.2) / 0.7
  expect_near(*r.logprob_score, (4 * 0.5 + 5 * 0.2) / 0.7, 1e-9, "logprob expectation");
  g_assert_false(parse_chat_response(body, false).logprob_score.has_value());
  // No digit among the alternatives: no logprob score.
  ParsedReply n = parse_chat_response(
      R"({"choices":[{"message":{"content":"ok"},"logprobs":{"content":[{"token":"ok","logprob":0,"top_logprobs":[{"token":"ok","logprob":0}]}]}}]})",
      true);
  g_assert_false(n.logprob_score.has_value() || n.text_score.has_value());
  // null content, missing logprobs.
  ParsedReply e = parse_chat_response(R"({"choices":[{"message":{"content":null},"logprobs":null}]})", true);
  g_assert_true(e.content.empty() && !e.text_score && !e.logprob_score);
  // Tokens that are numbers or null, not strings (found by fuzz-judge-response:
  // they used to throw std::logic_error out of the parser): skipped like blanks.
  ParsedReply t = parse_chat_response(
      R"({"choices":[{"message":{"content":"3"},"logprobs":{"content":[{"token":0},{"token":null,"logprob":-0.1},
          {"token":"3","logprob":-0.1,"top_logprobs":[{"token":3,"logprob":-0.1},{"token":"3","logprob":0}]}]}}]})",
      true);
  g_assert_true(t.text_score && *t.text_score == 3);
  g_assert_true(t.logprob_score && *t.logprob_score == 3);
  expect_error(COCOEDIT_ERR_FORMAT, {"not JSON"}, [] { parse_chat_response("<html>", false); });
  expect_error(COCOEDIT_ERR_FORMAT, {"choices"}, [] { parse_chat_response(R"({"choices":[]})", false); });
  expect_error(COCOEDIT_ERR_FORMAT, {"object"}, [] { parse_chat_response("[1]", false); });
}

static void test_png_and_prompt() {
  std::string url = png_data_url(at::rand({3, 5, 7}));
  g_assert_true(g_str_has_prefix(url.c_str(), "data:image/png;base64,"));
  gsize n = 0;
  guchar *png = g_base64_decode(url.c_str() + strlen("data:image/png;base64,"), &n);
  g_assert_cmpuint(n, >, 8);
  g_assert_cmpint(memcmp(png, "\x89PNG\r\n\x1a\n", 8), ==, 0);
  g_free(png);
  g_assert_true(png_data_url(at::rand({1, 3, 4, 4}, at::kDouble)).size() > 30);  // batch of one accepted
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"(3, H, W)"}, [] { png_data_url(at::rand({4, 5, 5})); });
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"floating point"}, [] { png_data_url(at::zeros({3, 5, 5}, at::kByte)); });

  MllmConfig c;
  g_assert_true(judge_prompt(c, "make it red").find("make it red") != std::string::npos);
  g_assert_true(judge_prompt(c, "x").find("0 to 5") != std::string::npos);
  c.prompt_template = "<{instruction}|{instruction}>";
  const std::string twice = judge_prompt(c, "a{instruction}b");  // no re-substitution
  g_assert_cmpstr(twice.c_str(), ==, "<a{instruction}b|a{instruction}b>");
}

static void test_bad_config() {
  auto ctor = [](const std::function<void(MllmConfig &)> &edit) {
    return [edit] {
      MllmConfig c = config("normal");
      edit(c);
      MllmJudge j(c);
    };
  };
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"http://"}, ctor([](MllmConfig &c) { c.url = "ftp://x"; }));
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"model"}, ctor([](MllmConfig &c) { c.model = ""; }));
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"concurrency"}, ctor([](MllmConfig &c) { c.concurrency = 0; }));
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"timeout_s"}, ctor([](MllmConfig &c) { c.timeout_s = 0; }));
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"fallback"}, ctor([](MllmConfig &c) { c.fallback = 2; }));
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"{instruction}"}, ctor([](MllmConfig &c) { c.prompt_template = "rate"; }));
  g_unsetenv("COCOEDIT_TEST_NO_SUCH_KEY");
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"COCOEDIT_TEST_NO_SUCH_KEY"},
               ctor([](MllmConfig &c) { c.api_key_env = "COCOEDIT_TEST_NO_SUCH_KEY"; }));
  // A bad image fails before any request is sent.
  MllmJudge j(config("normal#bad-image"));
  std::vector<JudgeRequest> reqs{request("fine", 0.4), request("broken", 0.4)};
  reqs[1].edited = at::rand({2, 8, 8});
  expect_error(COCOEDIT_ERR_INVALID_ARGUMENT, {"request 1", "edited"}, [&] { j.score(reqs); });
  JsonParser *p;
  g_assert_cmpuint(log_entries("normal#bad-image", &p).size(), ==, 0);
  g_object_unref(p);
  g_assert_cmpint(j.stats().attempts, ==, 0);
}

// --- against the fake server -------------------------------------------------------

// Scores in order, through concurrency; images and prompt arrive intact; the
// API key from the environment is sent; greedy decoding, no logprobs asked.
static void test_scores() {
  g_setenv("COCOEDIT_TEST_JUDGE_KEY", "sekrit", TRUE);
  MllmConfig c = config("normal#scores");
  c.concurrency = 4;
  c.api_key_env = "COCOEDIT_TEST_JUDGE_KEY";
  MllmJudge judge(c);
  g_assert_true(judge.endpoint() == base_url + "/chat/completions");
  std::vector<JudgeRequest> reqs;
  for (int i = 0; i < 12; i++) reqs.push_back(request("edit number " + std::to_string(i), (i % 6) / 5.0, 0.9));
  std::vector<JudgeResult> res = judge.score_detailed(reqs);
  g_assert_cmpuint(res.size(), ==, 12);
  for (int i = 0; i < 12; i++) {
    expect_near(res[i].score, (i % 6) / 5.0, 1e-12, "score in order");
    g_assert_true(!res[i].fallback && !res[i].from_logprobs && res[i].attempts == 1);
  }
  g_assert_cmpint(judge.stats().requests, ==, 12);
  g_assert_cmpint(judge.stats().attempts, ==, 12);
  g_assert_cmpint(judge.stats().fallbacks, ==, 0);

  JsonParser *p;
  std::vector<JsonObject *> log = log_entries("normal#scores", &p);
  g_assert_cmpuint(log.size(), ==, 12);
  for (JsonObject *o : log) {
    g_assert_cmpstr(json_object_get_string_member(o, "auth"), ==, "Bearer sekrit");
    g_assert_cmpfloat(json_object_get_double_member(o, "temperature"), ==, 0.0);
    g_assert_false(json_object_get_boolean_member(o, "logprobs"));
    JsonArray *imgs = json_object_get_array_member(o, "images");
    JsonObject *src = json_array_get_object_element(imgs, 0);
    g_assert_cmpint(json_object_get_int_member(src, "width"), ==, 16);
    g_assert_cmpint(json_object_get_int_member(src, "height"), ==, 12);
    expect_near(json_object_get_double_member(src, "mean"), std::round(0.9 * 255), 1e-9, "source first");
    std::string text = json_object_get_string_member(o, "text");
    g_assert_true(text.find("edit number ") != std::string::npos);
  }
  g_object_unref(p);
  g_unsetenv("COCOEDIT_TEST_JUDGE_KEY");

  // A verbose reply still gives its number; an empty batch is fine.
  MllmJudge verbose(config("verbose#scores"));
  expect_near(verbose.score({request("v", 0.8)})[0], 0.8, 1e-12, "verbose reply");
  g_assert_cmpuint(verbose.score({}).size(), ==, 0);
}

static void test_logprobs() {
  MllmConfig c = config("logprobs#lp");
  c.use_logprobs = true;
  MllmJudge judge(c);
  std::vector<JudgeResult> res = judge.score_detailed({request("a", 0.1), request("b", 0.7)});
  // E = (3·0.5 + 4·0.3 + 2·0.15) / 0.95 ("Hello" is not a digit), then / 5.
  const double want = (3 * 0.5 + 4 * 0.3 + 2 * 0.15) / 0.95 / 5;
  for (const JudgeResult &r : res) {
    expect_near(r.score, want, 1e-9, "logprob expectation");
    g_assert_true(r.from_logprobs);
  }
  JsonParser *p;
  for (JsonObject *o : log_entries("logprobs#lp", &p)) {
    g_assert_true(json_object_get_boolean_member(o, "logprobs"));
    g_assert_cmpint(json_object_get_int_member(o, "top_logprobs"), ==, 20);
  }
  g_object_unref(p);

  // Without use_logprobs the same server's text answer counts: 3/5.
  MllmJudge text(config("logprobs#lp-text"));
  expect_near(text.score({request("a", 0.1)})[0], 0.6, 1e-12, "text answer");
  // A server without logprobs: the text score is used and the miss counted.
  MllmConfig n = config("normal#lp-missing");
  n.use_logprobs = true;
  MllmJudge missing(n);
  std::vector<JudgeResult> m = missing.score_detailed({request("a", 0.4)});
  expect_near(m[0].score, 0.4, 1e-12, "no logprobs: text score");
  g_assert_false(m[0].from_logprobs);
  g_assert_cmpint(missing.stats().logprob_missing, ==, 1);
}

// Unparseable replies are retried (sampling at retry_temperature), then fall
// back to `fallback`; a later good answer is used.
static void test_garbage() {
  MllmConfig c = config("garbage#g");
  c.retries = 2;
  MllmJudge judge(c);
  std::vector<JudgeResult> res = judge.score_detailed({request("a", 1.0), request("b", 0.0)});
  for (const JudgeResult &r : res) {
    g_assert_true(r.fallback);
    g_assert_cmpint(r.attempts, ==, 3);
    expect_near(r.score, 0.5, 0, "fallback");
    g_assert_cmpstr(r.reply.c_str(), ==, "I cannot rate images.");
  }
  g_assert_cmpint(judge.stats().fallbacks, ==, 2);
  g_assert_cmpint(judge.stats().unparseable, ==, 6);
  g_assert_cmpint(judge.stats().retries, ==, 4);
  JsonParser *p;
  std::vector<JsonObject *> log = log_entries("garbage#g", &p);
  g_assert_cmpuint(log.size(), ==, 6);
  int greedy = 0, hot = 0;
  for (JsonObject *o : log) {
    const double t = json_object_get_double_member(o, "temperature");
    greedy += t == 0.0;
    hot += std::fabs(t - 0.7) < 1e-12;
  }
  g_assert_cmpint(greedy, ==, 2);
  g_assert_cmpint(hot, ==, 4);
  g_object_unref(p);

  MllmConfig once = config("garbage-once#g");
  once.fallback = 0.25;
  MllmJudge recovering(once);
  std::vector<JudgeResult> r = recovering.score_detailed({request("a", 0.6)});
  expect_near(r[0].score, 0.6, 1e-12, "recovered after garbage");
  g_assert_true(!r[0].fallback && r[0].attempts == 2);

  MllmConfig nj = config("notjson#g");
  nj.retries = 1;
  nj.fallback = 0.25;
  MllmJudge html(nj);
  std::vector<JudgeResult> h = html.score_detailed({request("a", 0.6)});
  g_assert_true(h[0].fallback && h[0].attempts == 2);
  expect_near(h[0].score, 0.25, 0, "configured fallback");
}

static void test_http_errors() {
  MllmJudge once(config("http500-once#h"));
  std::vector<JudgeResult> r = once.score_detailed({request("a", 0.2), request("b", 0.4)});
  expect_near(r[0].score, 0.2, 1e-12, "after a 500");
  expect_near(r[1].score, 0.4, 1e-12, "after a 500");
  g_assert_cmpint(r[0].attempts, ==, 2);
  g_assert_cmpint(once.stats().http_errors, ==, 2);

  MllmConfig c = config("http500#h");
  c.retries = 1;
  MllmJudge always(c);
  expect_error(COCOEDIT_ERR_IO, {base_url, "HTTP 500", "fake error 500", "2 attempts"},
               [&] { always.score({request("a", 0.2)}); });

  // 404 (an unknown model) will not go away: no retries.
  MllmJudge missing(config("http404#h"));
  expect_error(COCOEDIT_ERR_IO, {base_url, "HTTP 404", "1 attempt)"}, [&] { missing.score({request("a", 0.2)}); });
  JsonParser *p;
  g_assert_cmpuint(log_entries("http404#h", &p).size(), ==, 1);
  g_object_unref(p);
}

static void test_closed_connection() {
  MllmJudge once(config("close-once#c"));
  expect_near(once.score({request("a", 0.8)})[0], 0.8, 1e-12, "after a closed connection");
  g_assert_cmpint(once.stats().transport_errors, ==, 1);

  MllmConfig c = config("close#c");
  c.retries = 2;
  MllmJudge always(c);
  expect_error(COCOEDIT_ERR_IO, {base_url, "closed the connection", "3 attempts"},
               [&] { always.score({request("a", 0.8)}); });
}

// A server that never answers in time: the call ends after about
// (retries + 1) · timeout + back-off with an error, instead of hanging.
static void test_timeout() {
  MllmConfig c = config("slow:30#t");
  c.timeout_s = 1;
  c.retries = 1;
  MllmJudge judge(c);
  const double t0 = now_s();
  expect_error(COCOEDIT_ERR_IO, {base_url, "no answer within 1 s", "2 attempts"},
               [&] { judge.score({request("a", 0.8), request("b", 0.8)}); });
  const double took = now_s() - t0;
  g_test_message("timeout case took %.2f s (2 attempts of 1 s + 0.25 s back-off)", took);
  g_assert_cmpfloat(took, >=, 1.9);
  g_assert_cmpfloat(took, <, 15.0);
}

// Nothing listens on the port: a clear error naming the URL, quickly.
static void test_server_down() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  g_assert_cmpint(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), ==, 0);
  g_assert_cmpint(getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len), ==, 0);
  close(fd);  // bound, never listened, now closed: connections are refused
  MllmConfig c = config("normal");
  c.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1/";
  c.retries = 2;
  MllmJudge judge(c);
  const double t0 = now_s();
  std::string msg = expect_error(
      COCOEDIT_ERR_IO, {c.url.substr(0, c.url.size() - 1) + "/chat/completions", "cannot connect", "3 attempts"},
      [&] { judge.score({request("a", 0.8)}); });
  g_test_message("server down: %s (%.2f s)", msg.c_str(), now_s() - t0);
  g_assert_cmpfloat(now_s() - t0, <, 10.0);
}

// Requests run in parallel up to `concurrency`, and never beyond it: the
// server records how many of a group it saw in flight at once.
static void test_concurrency() {
  struct Case {
    const char *group;
    int concurrency, n;
  } cases[] = {{"slow:1#c8", 8, 8}, {"slow:0.3#c2", 2, 6}};
  for (const Case &k : cases) {
    MllmConfig c = config(k.group);
    c.concurrency = k.concurrency;
    MllmJudge judge(c);
    std::vector<JudgeRequest> reqs;
    for (int i = 0; i < k.n; i++) reqs.push_back(request("parallel " + std::to_string(i), i % 2 ? 0.2 : 1.0));
    const double t0 = now_s();
    std::vector<double> s = judge.score(reqs);
    for (int i = 0; i < k.n; i++) expect_near(s[i], i % 2 ? 0.2 : 1.0, 1e-12, "parallel score");
    JsonParser *p;
    int64_t peak = 0;
    for (JsonObject *o : log_entries(k.group, &p)) peak = std::max(peak, json_object_get_int_member(o, "peak"));
    g_object_unref(p);
    g_test_message("%s: %d requests, concurrency %d: peak %ld in flight, %.2f s", k.group, k.n, k.concurrency,
                   static_cast<long>(peak), now_s() - t0);
    g_assert_cmpint(peak, <=, k.concurrency);
    if (k.concurrency == 8) g_assert_cmpint(peak, >=, 2);  // they did overlap
  }
}

// --- the server ---------------------------------------------------------------------

static GPid server_pid = 0;
static int server_stdin = -1;

static bool start_server(const std::string &dir) {
  const char *python = g_getenv("COCOEDIT_PYTHON");
  const char *script = g_getenv("COCOEDIT_FAKE_JUDGE");
  if (!script) return false;
  log_path = dir + "/requests.jsonl";
  std::vector<const char *> argv{python ? python : "python3", script, log_path.c_str(), nullptr};
  int out = -1;
  GError *err = nullptr;
  if (!g_spawn_async_with_pipes(nullptr, const_cast<gchar **>(argv.data()), nullptr, G_SPAWN_SEARCH_PATH, nullptr,
                                nullptr, &server_pid, &server_stdin, &out, nullptr, &err))
    g_error("cannot start the fake judge server: %s", err->message);
  // First line: "PORT <n>", within 20 s.
  std::string line;
  const double deadline = now_s() + 20;
  char ch;
  while (line.find('\n') == std::string::npos) {
    pollfd pfd{out, POLLIN, 0};
    if (now_s() > deadline || poll(&pfd, 1, 200) < 0) g_error("the fake judge server did not start");
    if (pfd.revents & (POLLIN | POLLHUP)) {
      if (read(out, &ch, 1) != 1) g_error("the fake judge server exited: %s", line.c_str());
      line += ch;
    }
  }
  close(out);
  int port = 0;
  if (sscanf(line.c_str(), "PORT %d", &port) != 1) g_error("unexpected server greeting: %s", line.c_str());
  base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  return true;
}

static void stop_server() {
  if (server_stdin >= 0) close(server_stdin);  // the server exits at EOF
  if (server_pid > 0) {
    int status = 0;
    for (int i = 0; i < 50 && waitpid(server_pid, &status, WNOHANG) == 0; i++) g_usleep(100000);
    if (waitpid(server_pid, &status, WNOHANG) == 0) {
      kill(server_pid, SIGKILL);
      waitpid(server_pid, &status, 0);
    }
    g_spawn_close_pid(server_pid);
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  // 127.0.0.1 must not go through a proxy from the environment.
  for (const char *v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) g_unsetenv(v);
  gchar *dir = g_dir_make_tmp("cocoedit-mllm-XXXXXX", nullptr);
  const bool have_server = start_server(dir);

  g_test_add_func("/mllm/parse-text", test_parse_text);
  g_test_add_func("/mllm/parse-response", test_parse_response);
  g_test_add_func("/mllm/png-and-prompt", test_png_and_prompt);
  if (have_server) {
    g_test_add_func("/mllm/bad-config", test_bad_config);
    g_test_add_func("/mllm/scores", test_scores);
    g_test_add_func("/mllm/logprobs", test_logprobs);
    g_test_add_func("/mllm/garbage", test_garbage);
    g_test_add_func("/mllm/http-errors", test_http_errors);
    g_test_add_func("/mllm/closed-connection", test_closed_connection);
    g_test_add_func("/mllm/timeout", test_timeout);
    g_test_add_func("/mllm/server-down", test_server_down);
    g_test_add_func("/mllm/concurrency", test_concurrency);
  } else {
    g_printerr("COCOEDIT_FAKE_JUDGE is not set: only the offline tests run\n");
  }
  const int rc = g_test_run();
  stop_server();
  g_unlink(log_path.c_str());
  g_rmdir(dir);
  g_free(dir);
  return rc;
}
