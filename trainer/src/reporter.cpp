// reporter.cpp — see reporter.h; the drawing is trainer/report's (C, cairo).
#include "reporter.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <cstdio>

#include "common.h"
#include "error.h"
#include "report.h"

namespace cocoedit::train {

namespace {

// Plots drawn every log.plot_every steps: file name → metric keys.
const std::vector<std::pair<std::string, std::vector<const char *>>> kPlots = {
    {"plot-reward.png", {"reward", "reward_edit", "reward_pixel"}},
    {"plot-loss.png", {"loss", "loss_policy", "loss_reg", "loss_kl"}},
    {"plot-nonedit.png", {"nonedit_ssim", "valid_groups"}},
    {"plot-psnr.png", {"nonedit_psnr"}},
};

void warn(GError *error, const std::string &what) {
  say(0, "warning: " + what + ": " + (error ? error->message : "failed"));
  g_clear_error(&error);
}

// (C, H, W) float in [0, 1] → 8-bit pixels kept alive in `store`.
ReportImage to_image(const at::Tensor &t, std::vector<at::Tensor> &store) {
  auto u8 = (t.detach().to(at::kCPU, at::kFloat).clamp(0, 1) * 255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  store.push_back(u8);
  ReportImage img;
  img.pixels = u8.data_ptr<uint8_t>();
  img.height = static_cast<gint>(u8.size(0));
  img.width = static_cast<gint>(u8.size(1));
  img.channels = static_cast<gint>(u8.size(2));
  img.rowstride = img.width * img.channels;
  return img;
}

}  // namespace

struct Reporter::Impl {
  TrainConfig config;
  bool main = false;
  std::string stage, dir, metrics_path;
  ReportMetricsLog *log = nullptr;
  ReportProgress *progress = nullptr;
};

Reporter::Reporter(const TrainConfig &c, bool main, const std::string &stage, int64_t total, int64_t resume_step)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = c;
  impl_->main = main;
  impl_->stage = stage;
  impl_->dir = c.run_out_dir;
  if (!main) return;
  if (g_mkdir_with_parents(impl_->dir.c_str(), 0755) != 0) fail(COCOEDIT_ERR_IO, impl_->dir + ": cannot create");
  if (total <= 0) return;  // eval: grids only
  impl_->metrics_path = impl_->dir + "/metrics-" + stage + ".jsonl";
  GError *error = nullptr;
  // A resumed run continues the log after its checkpoint's step; a new run starts a new log.
  if (resume_step > 0 && g_file_test(impl_->metrics_path.c_str(), G_FILE_TEST_EXISTS) &&
      !report_metrics_truncate(impl_->metrics_path.c_str(), resume_step, nullptr, &error))
    warn(error, impl_->metrics_path);
  impl_->log = report_metrics_log_open(impl_->metrics_path.c_str(), resume_step == 0, &error);
  if (!impl_->log) {
    std::string msg = error ? error->message : "cannot open";
    g_clear_error(&error);
    fail(COCOEDIT_ERR_IO, msg);
  }
  impl_->progress = report_progress_new(stage.c_str(), total, resume_step, static_cast<guint>(c.log_every));
}

Reporter::~Reporter() { finish(); }

void Reporter::log(int64_t step, const std::map<std::string, double> &metrics) {
  if (!impl_->main || !impl_->log) return;
  std::vector<const gchar *> keys;
  std::vector<gdouble> values;
  for (const auto &[k, v] : metrics) {
    keys.push_back(k.c_str());
    values.push_back(v);
  }
  GError *error = nullptr;
  if (!report_metrics_log_append(impl_->log, step, keys.size(), keys.data(), values.data(), &error))
    warn(error, impl_->metrics_path);
  report_progress_update(impl_->progress, step, keys.size(), keys.data(), values.data());
  if (step % impl_->config.log_plot_every == 0 || step == impl_->config.optim_steps) {
    ReportMetrics *m = report_metrics_load(impl_->metrics_path.c_str(), &error);
    if (!m) return warn(error, impl_->metrics_path);
    ReportPlotOptions opts = {};
    opts.smooth_window = 10;
    for (const auto &[file, plot_keys] : kPlots) {
      std::vector<const gchar *> present;
      for (const char *k : plot_keys)
        if (metrics.count(k)) present.push_back(k);
      if (present.empty()) continue;
      const std::string path = impl_->dir + "/" + impl_->stage + "-" + file;
      const std::string title = impl_->stage + ": " + present[0];
      if (!report_plot_metrics(path.c_str(), title.c_str(), m, present.data(), present.size(), &opts, &error))
        warn(error, path);
    }
    report_metrics_free(m);
  }
}

void Reporter::grid(const std::string &name, const std::vector<std::vector<at::Tensor>> &rows,
                    const std::vector<std::string> &columns, const std::vector<std::string> &row_labels) {
  if (!impl_->main || rows.empty()) return;
  std::vector<at::Tensor> store;
  std::vector<ReportImage> cells;
  for (const auto &row : rows)
    for (const auto &img : row) cells.push_back(to_image(img, store));
  std::vector<const gchar *> rl, cl;
  for (const auto &s : row_labels) rl.push_back(s.c_str());
  for (const auto &s : columns) cl.push_back(s.c_str());
  ReportGridOptions opts = {};
  opts.cell_size = 192;
  const std::string path = impl_->dir + "/" + impl_->stage + "-" + name + ".png";
  GError *error = nullptr;
  if (impl_->progress) report_progress_clear(impl_->progress);
  if (!report_grid_png(path.c_str(), static_cast<guint>(rows.size()), static_cast<guint>(columns.size()), cells.data(),
                       rl.data(), cl.data(), &opts, &error))
    warn(error, path);
}

void Reporter::finish() {
  if (impl_->progress) report_progress_free(impl_->progress);
  impl_->progress = nullptr;
  if (impl_->log) report_metrics_log_close(impl_->log);
  impl_->log = nullptr;
}

}  // namespace cocoedit::train
