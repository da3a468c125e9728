// main.cpp — cocoedit-train: the autoencoder of a latent model, supervised
// pretraining, CoCoEdit RL and evaluation of the editing model.
//
//   cocoedit-train ae   --config RUN.json [--set ...] [--resume]
//   cocoedit-train sft  --config RUN.json [--set section.key=value]... [--resume]
//   cocoedit-train rl   --config RUN.json [--set ...] [--resume]
//   cocoedit-train eval --config RUN.json --checkpoint MODEL [--compare MODEL2] --out DIR [--count N]
//   cocoedit-train config-reference     (every setting, as a Markdown table)
//
// Exit codes: 0 success, 1 bad command line, 2 the run failed (the message
// says why; a checkpoint written before the failure is intact).
#include <c10/util/Exception.h>
#include <glib.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "error.h"
#include "stages.h"
#include "train-config.h"

using namespace cocoedit;
using namespace cocoedit::train;

static int usage(const char *message) {
  std::fprintf(stderr, "cocoedit-train: %s\nTry 'cocoedit-train --help'.\n", message);
  return 1;
}

static void print_help(FILE *f) {
  std::fprintf(f,
               "Usage: cocoedit-train COMMAND [OPTION...]\n\n"
               "Commands:\n"
               "  ae     train the image autoencoder of a latent-space model\n"
               "  sft    supervised flow-matching training (needs targets)\n"
               "  rl     CoCoEdit region-regularized RL from an SFT checkpoint (model.init)\n"
               "  eval   score checkpoints on a benchmark; --compare for two side by side\n"
               "  config-reference   print every setting with its default\n\n"
               "Options of ae, sft, rl and eval:\n"
               "  -c, --config FILE     run configuration (JSON; see docs/training.md)\n"
               "  -s, --set KEY=VALUE   override a setting, e.g. --set rl.beta=0.5 (repeatable)\n"
               "  --resume              continue from <run.out_dir>/checkpoint\n"
               "Options of eval:\n"
               "  --checkpoint DIR  --compare DIR  --out DIR  --count N  --steps N  --guidance G  --strength S\n");
}

int main(int argc, char **argv) {
  if (argc < 2) return usage("missing command");
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h") {
    print_help(stdout);
    return 0;
  }
  if (cmd == "config-reference") {
    std::printf("%s", train_config_reference().c_str());
    return 0;
  }
  if (cmd != "ae" && cmd != "sft" && cmd != "rl" && cmd != "eval") return usage(("unknown command '" + cmd + "'").c_str());

  gchar *config = nullptr, *checkpoint = nullptr, *compare = nullptr, *out = nullptr;
  gchar **sets = nullptr;
  gboolean resume = FALSE;
  gint64 count = 70;
  gint steps = 0;
  gdouble guidance = -1, strength = 1.0;
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Run configuration (JSON)", "FILE"},
      {"set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override a setting", "KEY=VALUE"},
      {"resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue from the run's checkpoint", nullptr},
      {"checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &checkpoint, "eval: model directory", "DIR"},
      {"compare", 0, 0, G_OPTION_ARG_FILENAME, &compare, "eval: second model directory", "DIR"},
      {"out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "eval: output directory", "DIR"},
      {"count", 'n', 0, G_OPTION_ARG_INT64, &count, "eval: number of cases", "N"},
      {"steps", 0, 0, G_OPTION_ARG_INT, &steps, "eval: sampler steps (0 = model default)", "N"},
      {"guidance", 0, 0, G_OPTION_ARG_DOUBLE, &guidance, "eval: guidance scale (< 0 = model default)", "G"},
      {"strength", 0, 0, G_OPTION_ARG_DOUBLE, &strength, "eval: 1 = from noise, lower = from the noised source", "S"},
      {nullptr}};
  GOptionContext *ctx = g_option_context_new(("— " + cmd).c_str());
  g_option_context_add_main_entries(ctx, entries, nullptr);
  GError *error = nullptr;
  int sub_argc = argc - 1;
  char **sub_argv = argv + 1;
  if (!g_option_context_parse(ctx, &sub_argc, &sub_argv, &error)) {
    std::string msg = error->message;
    g_clear_error(&error);
    g_option_context_free(ctx);
    return usage(msg.c_str());
  }
  g_option_context_free(ctx);
  if (sub_argc > 1) return usage(("unexpected argument '" + std::string(sub_argv[1]) + "'").c_str());

  int rc = 0;
  try {
    std::vector<std::string> overrides;
    for (gchar **s = sets; s && *s; s++) overrides.emplace_back(*s);
    TrainConfig c = load_train_config(config ? config : "", overrides);
    if (cmd == "ae") {
      run_ae(c, resume);
    } else if (cmd == "sft") {
      run_sft(c, resume);
    } else if (cmd == "rl") {
      run_rl(c, resume);
    } else {
      EvalOptions o;
      o.checkpoint = checkpoint ? checkpoint : "";
      o.compare = compare ? compare : "";
      o.out_dir = out ? out : "";
      o.count = count;
      o.steps = steps;
      o.guidance = guidance;
      o.strength = strength;
      run_eval(c, o);
    }
  } catch (const Error &e) {
    std::fprintf(stderr, "cocoedit-train: %s\n", e.what());
    rc = 2;
  } catch (const c10::Error &e) {
    std::fprintf(stderr, "cocoedit-train: libtorch: %s\n", e.what_without_backtrace());
    rc = 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cocoedit-train: %s\n", e.what());
    rc = 2;
  }
  g_free(config);
  g_free(checkpoint);
  g_free(compare);
  g_free(out);
  g_strfreev(sets);
  return rc;
}
