// test-faults.cpp — the engine under faults, through the public C API: a
// tensor allocation that fails at any point of an open or an edit, a cancel
// at every stage, and a model freed while another handle of the same folder
// edits.  Each must give a clear status, leave the caller's image untouched
// and leave the engine able to edit again with the same result (leaks are
// LeakSanitizer's part: tools/run-hardening runs this test too).
//
// Allocation failure is made by wrapping libtorch's CPU allocator (the one
// every CPU tensor comes from): the wrapper passes requests through and,
// when armed, makes the k-th one ask the real allocator for an impossible
// size, so the error raised is the one a real shortage raises.
#include <c10/core/CPUAllocator.h>
#include <glib.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cocoedit.h"
#include "under-asan.h"

namespace {

class FailingAllocator final : public c10::Allocator {
 public:
  explicit FailingAllocator(c10::Allocator *inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) override {
    const long k = count_.fetch_add(1);
    if (k == fail_at_.load()) return inner_->allocate(size_t(1) << 62);
    return inner_->allocate(n);
  }
  c10::DeleterFnPtr raw_deleter() const override { return inner_->raw_deleter(); }
  void copy_data(void *dest, const void *src, std::size_t count) const override {
    inner_->copy_data(dest, src, count);
  }

  // Counts from zero again; the `k`-th allocation from now fails (-1: none).
  void arm(long k) {
    count_ = 0;
    fail_at_ = k;
  }
  long count() const { return count_.load(); }

 private:
  c10::Allocator *inner_;
  std::atomic<long> count_{0};
  std::atomic<long> fail_at_{-1};
};

FailingAllocator *allocator;

struct Image {
  cocoedit_image img{};
  std::vector<uint8_t> buf;
};

Image image(int w, int h, cocoedit_pixel_format fmt, unsigned seed) {
  Image im;
  const int px = fmt == COCOEDIT_RGBA8 ? 4 : 1;
  im.buf.resize(static_cast<size_t>(w) * h * px);
  GRand *r = g_rand_new_with_seed(seed);
  for (auto &b : im.buf) b = static_cast<uint8_t>(g_rand_int_range(r, 0, 256));
  g_rand_free(r);
  im.img = {w, h, fmt, static_cast<size_t>(w) * px, im.buf.data()};
  return im;
}

// A source, a rectangle mask, and an output prefilled with a pattern that
// no edit produces, so that "untouched" is checkable byte for byte.
struct Case {
  Image src = image(40, 32, COCOEDIT_RGBA8, 1);
  Image mask = image(40, 32, COCOEDIT_GRAY8, 0);
  Image out = image(40, 32, COCOEDIT_RGBA8, 99);
  std::vector<uint8_t> untouched;
  Case() {
    for (int y = 0; y < 32; y++)
      for (int x = 0; x < 40; x++) mask.buf[y * 40 + x] = (x >= 10 && x < 30 && y >= 8 && y < 24) ? 255 : 0;
    untouched = out.buf;
  }
  void reset() { out.buf = untouched; }
  bool is_untouched() const { return out.buf == untouched; }
};

cocoedit_edit_params edit_params() {
  cocoedit_edit_params p = cocoedit_edit_default_params();
  p.prompt = "make it red";
  p.seed = 7;
  p.steps = 2;
  p.working_size = 32;  // FLUX.1 Kontext would snap to ~1 megapixel
  return p;
}

cocoedit_open_params open_params() {
  cocoedit_open_params p = cocoedit_open_default_params();
  p.device = COCOEDIT_DEVICE_CPU;
  p.n_threads = 1;
  return p;
}

// The models the faults are tried on: the project's own family (the tiny
// random checkpoint the build makes) and FLUX.1 Kontext (the golden tiny
// diffusers folder; not under AddressSanitizer, where T5's tokenizer cannot
// load beside libtorch: see t5_tokenizer.cpp).
std::vector<std::string> model_dirs() {
  std::vector<std::string> dirs;
  for (const char *var : {"COCOEDIT_TEST_MODEL", "COCOEDIT_TEST_KONTEXT"}) {
    if (UNDER_ASAN && g_str_equal(var, "COCOEDIT_TEST_KONTEXT")) continue;
    const char *d = g_getenv(var);
    if (!d) g_error("%s is not set", var);
    dirs.emplace_back(d);
  }
  return dirs;
}

cocoedit_model *open_model(const std::string &dir, cocoedit_open_params p = open_params()) {
  cocoedit_model *m = nullptr;
  cocoedit_error err;
  if (cocoedit_model_open(dir.c_str(), &p, &m, &err) != COCOEDIT_OK) g_error("%s: %s", dir.c_str(), err.message);
  return m;
}

// The output of one fault-free edit of `c`, to compare later runs with.
std::vector<uint8_t> reference_edit(cocoedit_model *m, Case &c) {
  c.reset();
  cocoedit_edit_params p = edit_params();
  cocoedit_error err;
  if (cocoedit_edit(m, &c.src.img, &c.mask.img, &p, &c.out.img, &err) != COCOEDIT_OK) g_error("%s", err.message);
  g_assert_false(c.is_untouched());
  std::vector<uint8_t> result = c.out.buf;
  c.reset();
  return result;
}

// Up to `n` positions out of 0..total-1: the first few, the last few and
// evenly spaced ones between (every position of a large model would take
// minutes; these cover each stage).
std::vector<long> positions(long total, long n) {
  std::vector<long> ks;
  for (long k = 0; k < std::min(total, 4L); k++) ks.push_back(k);
  for (long i = 1; i < n; i++) ks.push_back(total * i / n);
  for (long k = std::max(0L, total - 4); k < total; k++) ks.push_back(k);
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  return ks;
}

void test_allocation_failure_in_edit() {
  for (const std::string &dir : model_dirs()) {
    cocoedit_model *m = open_model(dir);
    Case c;
    const std::vector<uint8_t> expected = reference_edit(m, c);
    allocator->arm(-1);
    reference_edit(m, c);
    const long total = allocator->count();
    g_test_message("%s: %ld CPU allocations in one edit", dir.c_str(), total);
    g_assert_cmpint(total, >, 10);
    int failed = 0;
    for (long k : positions(total, 40)) {
      c.reset();
      cocoedit_edit_params p = edit_params();
      cocoedit_error err;
      allocator->arm(k);
      const cocoedit_status s = cocoedit_edit(m, &c.src.img, &c.mask.img, &p, &c.out.img, &err);
      allocator->arm(-1);
      if (s == COCOEDIT_OK) continue;  // an allocation whose failure the edit does not need to see
      failed++;
      if (s != COCOEDIT_ERR_OUT_OF_MEMORY || !strstr(err.message, "out of memory"))
        g_error("%s: allocation %ld of %ld failed: status %d \"%s\", expected out of memory", dir.c_str(), k, total,
                s, err.message);
      if (!c.is_untouched()) g_error("%s: allocation %ld failed and the output was written", dir.c_str(), k);
      // The model is not harmed: the next edit is the same as before.
      c.reset();
      if (cocoedit_edit(m, &c.src.img, &c.mask.img, &p, &c.out.img, &err) != COCOEDIT_OK)
        g_error("%s: after allocation %ld failed: %s", dir.c_str(), k, err.message);
      if (c.out.buf != expected) g_error("%s: after allocation %ld failed, the edit differs", dir.c_str(), k);
    }
    g_test_message("%s: %d of the failed allocations reached the caller, each as out of memory", dir.c_str(), failed);
    g_assert_cmpint(failed, >, 0);
    cocoedit_model_free(m);
  }
}

void test_allocation_failure_in_open() {
  for (const std::string &dir : model_dirs()) {
    allocator->arm(-1);
    cocoedit_model_free(open_model(dir));
    const long total = allocator->count();
    g_test_message("%s: %ld CPU allocations in one open", dir.c_str(), total);
    int failed = 0;
    for (long k : positions(total, 30)) {
      cocoedit_model *m = reinterpret_cast<cocoedit_model *>(&failed);  // must be reset to NULL
      cocoedit_open_params p = open_params();
      cocoedit_error err;
      allocator->arm(k);
      const cocoedit_status s = cocoedit_model_open(dir.c_str(), &p, &m, &err);
      allocator->arm(-1);
      if (s == COCOEDIT_OK) {
        cocoedit_model_free(m);
        continue;
      }
      failed++;
      if (s != COCOEDIT_ERR_OUT_OF_MEMORY || m != nullptr)
        g_error("%s: allocation %ld of %ld failed while opening: status %d \"%s\"", dir.c_str(), k, total, s,
                err.message);
    }
    g_assert_cmpint(failed, >, 0);
  }
}

struct StageLog {
  std::vector<cocoedit_stage> seen;
  int cancel_at = -1;  // index into the stages seen: return false there
};

bool on_stage(cocoedit_stage stage, void *user_data) {
  auto *log = static_cast<StageLog *>(user_data);
  log->seen.push_back(stage);
  return static_cast<int>(log->seen.size()) - 1 != log->cancel_at;
}

void test_cancel_every_stage() {
  for (const std::string &dir : model_dirs()) {
    // Opening: every stage the family reports can cancel it.
    StageLog open_log;
    cocoedit_open_params op = open_params();
    op.stage = on_stage;
    op.stage_user_data = &open_log;
    cocoedit_model *m = open_model(dir, op);
    g_assert_false(open_log.seen.empty());
    g_assert_cmpint(open_log.seen.back(), ==, COCOEDIT_STAGE_LOAD_TRANSFORMER);
    for (size_t i = 0; i < open_log.seen.size(); i++) {
      StageLog log;
      log.cancel_at = static_cast<int>(i);
      op.stage_user_data = &log;
      cocoedit_model *again = nullptr;
      cocoedit_error err;
      g_assert_cmpint(cocoedit_model_open(dir.c_str(), &op, &again, &err), ==, COCOEDIT_ERR_CANCELLED);
      g_assert_null(again);
      g_assert_cmpint(log.seen.size(), ==, i + 1);
    }

    // Editing: encode, sample, decode, composite, in that order.
    Case c;
    const std::vector<uint8_t> expected = reference_edit(m, c);
    StageLog edit_log;
    cocoedit_edit_params p = edit_params();
    p.stage = on_stage;
    p.user_data = &edit_log;
    cocoedit_error err;
    g_assert_cmpint(cocoedit_edit(m, &c.src.img, &c.mask.img, &p, &c.out.img, &err), ==, COCOEDIT_OK);
    g_assert_true(c.out.buf == expected);
    const std::vector<cocoedit_stage> order = {COCOEDIT_STAGE_ENCODE, COCOEDIT_STAGE_SAMPLE, COCOEDIT_STAGE_DECODE,
                                               COCOEDIT_STAGE_COMPOSITE};
    g_assert_true(edit_log.seen == order);
    for (size_t i = 0; i < order.size(); i++) {
      StageLog log;
      log.cancel_at = static_cast<int>(i);
      p.user_data = &log;
      c.reset();
      g_assert_cmpint(cocoedit_edit(m, &c.src.img, &c.mask.img, &p, &c.out.img, &err), ==, COCOEDIT_ERR_CANCELLED);
      g_assert_cmpstr(err.message, ==, "cancelled");
      g_assert_true(c.is_untouched());
    }
    // And it edits as before afterwards.
    p.stage = nullptr;
    c.reset();
    g_assert_cmpint(cocoedit_edit(m, &c.src.img, &c.mask.img, &p, &c.out.img, &err), ==, COCOEDIT_OK);
    g_assert_true(c.out.buf == expected);
    g_assert_cmpstr(cocoedit_stage_name(COCOEDIT_STAGE_DECODE), ==, "decode");
    cocoedit_model_free(m);
  }
}

// Handles are independent: freeing one (and opening another) while a second
// handle of the same folder edits on another thread changes nothing there.
void test_free_while_editing() {
  for (const std::string &dir : model_dirs()) {
    cocoedit_model *a = open_model(dir);
    Case c;
    const std::vector<uint8_t> expected = reference_edit(a, c);
    std::atomic<bool> stop{false};
    std::atomic<int> edits{0}, wrong{0};
    std::thread editor([&] {
      Case mine;
      while (!stop.load() || edits.load() < 2) {
        mine.reset();
        cocoedit_edit_params p = edit_params();
        cocoedit_error err;
        if (cocoedit_edit(a, &mine.src.img, &mine.mask.img, &p, &mine.out.img, &err) != COCOEDIT_OK ||
            mine.out.buf != expected)
          wrong++;
        edits++;
      }
    });
    for (int i = 0; i < 3; i++) cocoedit_model_free(open_model(dir));
    stop = true;
    editor.join();
    g_test_message("%s: %d edits while other handles opened and closed", dir.c_str(), edits.load());
    g_assert_cmpint(wrong.load(), ==, 0);
    cocoedit_model_free(a);
  }
}

}  // namespace

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, nullptr);
  allocator = new FailingAllocator(c10::GetCPUAllocator());
  c10::SetCPUAllocator(allocator, /*priority=*/100);
  g_test_add_func("/faults/allocation-in-edit", test_allocation_failure_in_edit);
  g_test_add_func("/faults/allocation-in-open", test_allocation_failure_in_open);
  g_test_add_func("/faults/cancel-every-stage", test_cancel_every_stage);
  g_test_add_func("/faults/free-while-editing", test_free_while_editing);
  return g_test_run();
}
