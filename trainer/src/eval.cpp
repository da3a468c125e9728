// eval.cpp — runs checkpoints on a benchmark and writes tables.
//
// The model's raw output is scored, without the engine's compositing (which
// would make the non-edit region perfect by construction): this measures
// what the training did to content consistency, as the paper does.  A
// latent model's output gets the engine's detail transfer
// (detail_transfer.h), which is part of how the engine decodes it.
//   non-edit PSNR/SSIM   result vs source on 1 − mask
//   edit PSNR/SSIM       result vs target on mask (when the data has targets)
//   reward_edit          the reference reward (edit region vs target)
//   success              edit PSNR ≥ success_psnr and edit SSIM ≥ success_ssim
// Outputs in options.out_dir: cases.jsonl (one line per case and model),
// summary.json and summary.md (overall, per edit type, per language; with
// --compare, both models side by side with the difference), grid PNGs.
#include <glib.h>
#include <json-glib/json-glib.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "checkpoint.h"
#include "detail_transfer.h"
#include "common.h"
#include "threads.h"
#include "error.h"
#include "reporter.h"
#include "rewards.h"
#include "safetensors.h"
#include "samples.h"
#include "sampler.h"
#include "stages.h"

namespace cocoedit::train {

namespace {

struct CaseScore {
  std::string id, edit_type, lang, prompt;
  double ne_psnr = 0, ne_ssim = 0, e_psnr = NAN, e_ssim = NAN, reward_edit = NAN, reward_pixel = 0;
  bool success = false;
};

struct Totals {
  int n = 0, succeeded = 0, with_target = 0;
  double ne_psnr = 0, ne_ssim = 0, e_psnr = 0, e_ssim = 0, reward_edit = 0, reward_pixel = 0;
  void add(const CaseScore &s) {
    n++;
    ne_psnr += s.ne_psnr;
    ne_ssim += s.ne_ssim;
    reward_pixel += s.reward_pixel;
    if (!std::isnan(s.e_psnr)) {
      with_target++;
      e_psnr += s.e_psnr;
      e_ssim += s.e_ssim;
      reward_edit += s.reward_edit;
      succeeded += s.success;
    }
  }
  std::map<std::string, double> means() const {
    std::map<std::string, double> m = {{"cases", static_cast<double>(n)},
                                       {"nonedit_psnr", ne_psnr / std::max(n, 1)},
                                       {"nonedit_ssim", ne_ssim / std::max(n, 1)},
                                       {"reward_pixel", reward_pixel / std::max(n, 1)}};
    if (with_target) {
      m["edit_psnr"] = e_psnr / with_target;
      m["edit_ssim"] = e_ssim / with_target;
      m["reward_edit"] = reward_edit / with_target;
      m["success_rate"] = static_cast<double>(succeeded) / with_target;
    }
    return m;
  }
};

const char *kColumns[] = {"nonedit_psnr", "nonedit_ssim", "edit_psnr", "edit_ssim", "reward_edit", "success_rate"};

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Scores one model on every case; keeps the results for grids.
std::vector<CaseScore> score_model(EditModelImpl &model, const std::vector<Sample> &cases, const EvalOptions &o,
                                   const TrainConfig &c, const at::Device &device, std::vector<at::Tensor> &results) {
  torch::NoGradGuard no_grad;
  const ModelConfig &mc = model.config;
  const int steps = o.steps > 0 ? o.steps : mc.default_steps;
  Guidance g;
  g.text = o.guidance >= 0 ? o.guidance : mc.default_guidance;
  std::vector<CaseScore> out;
  for (size_t i = 0; i < cases.size(); i++) {
    const Sample &s = cases[i];
    Batch b = stack({s}, device);
    const int64_t S = b.source.size(2);
    if (S % model.pixels_per_token())
      fail(COCOEDIT_ERR_INVALID_ARGUMENT, "data.size must be a multiple of the model's token size in pixels");
    Conditioning cond = condition_on(model, b.source * 2 - 1, b.mask, {s.prompt}, g);
    auto sigmas = sigma_schedule(steps, resolution_shift(model, S, S), o.strength);
    auto x = starting_point(seeded_noise(derive_seed(c.run_seed, i, 0, 77), model.space_shape(1, S, S), device),
                            cond.source, sigmas);
    auto to01 = [](const at::Tensor &z) { return (z.clamp(-1, 1) + 1) / 2; };
    auto result = to01(model.codec.decode(sample(model, x, sigmas, cond, g)));
    // A latent model's output as the engine gives it: the source's detail
    // the autoencoder lost goes back where the structure is kept.
    if (model.codec.latent()) result = transfer_detail(b.source, to01(model.codec.decode(cond.source)), result);
    results.push_back(result[0].cpu());

    CaseScore cs{s.id, s.edit_type, s.lang, s.prompt};
    auto ne = region_psnr_ssim(result, b.source, 1 - b.mask);
    cs.ne_psnr = ne.psnr.item<double>();
    cs.ne_ssim = ne.ssim.item<double>();
    cs.reward_pixel = combine_psnr_ssim(ne).item<double>();
    if (b.target.defined()) {
      auto e = region_psnr_ssim(result, b.target, b.mask);
      cs.e_psnr = e.psnr.item<double>();
      cs.e_ssim = e.ssim.item<double>();
      cs.reward_edit = combine_psnr_ssim(e).item<double>();
      cs.success = cs.e_psnr >= o.success_psnr && cs.e_ssim >= o.success_ssim;
    }
    out.push_back(cs);
  }
  return out;
}

void add_case_json(JsonBuilder *b, const std::string &model, const CaseScore &s) {
  json_builder_begin_object(b);
  auto str = [&](const char *k, const std::string &v) {
    json_builder_set_member_name(b, k);
    json_builder_add_string_value(b, v.c_str());
  };
  auto num = [&](const char *k, double v) {
    json_builder_set_member_name(b, k);
    if (std::isnan(v)) json_builder_add_null_value(b);
    else json_builder_add_double_value(b, v);
  };
  str("model", model);
  str("id", s.id);
  str("edit_type", s.edit_type);
  str("lang", s.lang);
  str("prompt", s.prompt);
  num("nonedit_psnr", s.ne_psnr);
  num("nonedit_ssim", s.ne_ssim);
  num("reward_pixel", s.reward_pixel);
  num("edit_psnr", s.e_psnr);
  num("edit_ssim", s.e_ssim);
  num("reward_edit", s.reward_edit);
  json_builder_set_member_name(b, "success");
  json_builder_add_boolean_value(b, s.success);
  json_builder_end_object(b);
}

std::string to_json(JsonBuilder *b) {
  JsonNode *root = json_builder_get_root(b);
  gchar *text = json_to_string(root, TRUE);
  std::string out(text);
  g_free(text);
  json_node_unref(root);
  return out;
}

// Groups: "all", "type:<edit type>", "lang:<language>".
std::map<std::string, Totals> totals_by_group(const std::vector<CaseScore> &scores) {
  std::map<std::string, Totals> t;
  for (const auto &s : scores) {
    t["all"].add(s);
    t["type:" + s.edit_type].add(s);
    if (!s.lang.empty()) t["lang:" + s.lang].add(s);
  }
  return t;
}

std::string markdown(const std::vector<std::string> &names, const std::vector<std::map<std::string, Totals>> &groups,
                     const EvalOptions &o) {
  std::string md = "# Evaluation\n\nModels: ";
  for (size_t i = 0; i < names.size(); i++) md += (i ? ", " : "") + std::string("`") + names[i] + "`";
  md += "\n\nRaw model output, no compositing. Success: edit-region PSNR ≥ " + fmt(o.success_psnr) +
        " dB and SSIM ≥ " + fmt(o.success_ssim) + " against the ground truth. Sampler: steps " +
        (o.steps > 0 ? std::to_string(o.steps) : std::string("default")) + ", guidance " +
        (o.guidance >= 0 ? fmt(o.guidance) : std::string("default")) + ", strength " + fmt(o.strength) + ".\n\n";
  md += "| group | cases | model |";
  for (const char *col : kColumns) md += std::string(" ") + col + " |";
  md += "\n|---|---|---|";
  for (size_t i = 0; i < G_N_ELEMENTS(kColumns); i++) md += "---|";
  md += "\n";
  for (const auto &[group, first] : groups[0]) {
    for (size_t m = 0; m < names.size(); m++) {
      auto means = groups[m].at(group).means();
      md += "| " + group + " | " + std::to_string(first.n) + " | " + names[m] + " |";
      for (const char *col : kColumns) md += " " + (means.count(col) ? fmt(means[col]) : std::string("n/a")) + " |";
      md += "\n";
    }
    if (names.size() == 2) {
      auto a = groups[0].at(group).means(), b = groups[1].at(group).means();
      md += "| " + group + " | | Δ (2nd − 1st) |";
      for (const char *col : kColumns)
        md += " " + (a.count(col) && b.count(col) ? fmt(b[col] - a[col]) : std::string("n/a")) + " |";
      md += "\n";
    }
  }
  return md;
}

}  // namespace

void run_eval(const TrainConfig &c, const EvalOptions &o) {
  if (o.checkpoint.empty()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "eval needs --checkpoint MODEL_DIR");
  if (o.out_dir.empty()) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "eval needs --out DIR");
  if (o.count < 1) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "--count must be at least 1");
  if (!(o.strength > 0.0 && o.strength <= 1.0)) fail(COCOEDIT_ERR_INVALID_ARGUMENT, "--strength must be in (0, 1]");
  const at::Device device = pick_device(c.run_device);
  configure_threads(static_cast<int>(c.run_threads));
  if (g_mkdir_with_parents(o.out_dir.c_str(), 0755) != 0) fail(COCOEDIT_ERR_IO, o.out_dir + ": cannot create");

  SampleSource data(c, 0, 1);
  const int64_t count = data.size() > 0 ? std::min<int64_t>(o.count, data.size()) : o.count;
  std::vector<Sample> cases;
  for (int64_t i = 0; i < count; i++) cases.push_back(std::move(data.get(i, 1)[0]));
  say(0, "eval: " + std::to_string(count) + " cases from " + data.describe());

  std::vector<std::string> names = {o.checkpoint};
  if (!o.compare.empty()) names.push_back(o.compare);
  std::vector<std::map<std::string, Totals>> groups;
  std::vector<std::vector<at::Tensor>> results(names.size());
  std::string jsonl;
  for (size_t m = 0; m < names.size(); m++) {
    EditModel model = load_model(names[m], device);
    auto scores = score_model(*model, cases, o, c, device, results[m]);
    for (const auto &s : scores) {
      JsonBuilder *b = json_builder_new();
      add_case_json(b, names[m], s);
      JsonNode *root = json_builder_get_root(b);
      gchar *line = json_to_string(root, FALSE);
      jsonl += std::string(line) + "\n";
      g_free(line);
      json_node_unref(root);
      g_object_unref(b);
    }
    groups.push_back(totals_by_group(scores));
  }
  write_file_atomic(o.out_dir + "/cases.jsonl", jsonl);

  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  for (size_t m = 0; m < names.size(); m++) {
    json_builder_set_member_name(b, names[m].c_str());
    json_builder_begin_object(b);
    for (const auto &[group, t] : groups[m]) {
      json_builder_set_member_name(b, group.c_str());
      json_builder_begin_object(b);
      for (const auto &[k, v] : t.means()) {
        json_builder_set_member_name(b, k.c_str());
        json_builder_add_double_value(b, v);
      }
      json_builder_end_object(b);
    }
    json_builder_end_object(b);
  }
  json_builder_end_object(b);
  write_file_atomic(o.out_dir + "/summary.json", to_json(b) + "\n");
  g_object_unref(b);
  write_file_atomic(o.out_dir + "/summary.md", markdown(names, groups, o));

  // A grid of the first cases: source | result(s) | target | mask.
  TrainConfig rc = c;
  rc.run_out_dir = o.out_dir;
  Reporter rep(rc, true, "eval", 0, 0);
  std::vector<std::vector<at::Tensor>> rows;
  std::vector<std::string> labels, columns = {"source"};
  for (size_t m = 0; m < names.size(); m++) columns.push_back(names.size() == 1 ? "result" : "model " + std::to_string(m + 1));
  columns.push_back("target");
  columns.push_back("mask");
  for (size_t i = 0; i < std::min<size_t>(cases.size(), 8); i++) {
    std::vector<at::Tensor> row = {cases[i].source};
    for (auto &r : results) row.push_back(r[i]);
    row.push_back(cases[i].target.defined() ? cases[i].target : at::zeros_like(cases[i].source));
    row.push_back(cases[i].mask);
    rows.push_back(row);
    labels.push_back(cases[i].prompt);
  }
  rep.grid("examples", rows, columns, labels);
  rep.finish();
  std::printf("%s", markdown(names, groups, o).c_str());
}

}  // namespace cocoedit::train
