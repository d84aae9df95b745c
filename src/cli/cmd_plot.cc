// symphony plot RUN... --out FILE.svg: the loss curves of several runs in one chart, read from
// their metrics logs (e.g. the same model trained in fp32 and bf16, or under two layouts).
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "monitor/loss_plot.h"
#include "monitor/loss_series.h"

namespace symphony::cli {
namespace {

namespace fs = std::filesystem;

struct PlotArgs {
  std::vector<std::string> runs;
  std::string out;
  std::string title = "loss";
  std::string curves = "both";
};

// "LABEL=PATH" or "PATH"; PATH is a run directory or its metrics.jsonl.
struct RunSpec {
  std::string label;
  fs::path metrics;
};

RunSpec parse_run(const std::string& arg) {
  RunSpec spec;
  const size_t eq = arg.find('=');
  fs::path path = eq == std::string::npos ? fs::path(arg) : fs::path(arg.substr(eq + 1));
  spec.metrics = fs::is_directory(path) ? path / "metrics.jsonl" : path;
  if (eq != std::string::npos) {
    spec.label = arg.substr(0, eq);
  } else {
    const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
    spec.label = fs::path(dir).lexically_normal().filename().string();
    if (spec.label.empty()) spec.label = dir.lexically_normal().parent_path().filename().string();
  }
  return spec;
}

Status run_plot(const PlotArgs& args) {
  const bool train = args.curves != "eval", eval = args.curves != "train";
  std::vector<PlotSeries> series;
  for (const std::string& arg : args.runs) {
    const RunSpec spec = parse_run(arg);
    Result<LossSeries> s = read_loss_series(spec.metrics);
    if (!s.has_value()) return s.error();
    if (s->train.empty() && s->eval.empty())
      return Error::invalid("{}: no step or evaluation record to plot", spec.metrics.string());
    fmt::print("{}: {} train points, {} eval points{}\n", spec.label, s->train.size(),
               s->eval.size(),
               s->eval.empty() ? "" : fmt::format(", last eval loss {:.4f} at step {:.0f}",
                                                  s->eval.back().value, s->eval.back().step));
    if (train) series.push_back({spec.label + " train", std::move(s->train), ""});
    if (eval) series.push_back({spec.label + " eval", std::move(s->eval), ""});
  }
  SYM_TRY(write_loss_plot_svg(args.out, series, args.title));
  fmt::print("wrote {}\n", args.out);
  return Status::ok();
}

}  // namespace

void add_plot_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Draw the loss curves of one or more runs (their metrics.jsonl) in one SVG chart");
  cmd->add_option("runs", args->runs,
                  "Run directories or metrics.jsonl files, each optionally LABEL=PATH")
      ->required();
  cmd->add_option("-o,--out", args->out, "SVG file to write")->required();
  cmd->add_option("--title", args->title, "Chart title");
  cmd->add_option("--curves", args->curves, "Which curves: train, eval or both")
      ->check(CLI::IsMember({"train", "eval", "both"}));
  cmd->callback([args, exit_code] {
    const Status s = run_plot(*args);
    if (!s.is_ok()) *exit_code = report(s);
  });
}

}  // namespace symphony::cli
