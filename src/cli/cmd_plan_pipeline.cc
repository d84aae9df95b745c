// symphony plan pipeline [--pp P] [--micro-batches M] [--schedule S] [--vpp V]
//                        [--forward-ms F] [--backward-input-ms B] [--backward-weight-ms W]
//                        [--p2p-ms T] [--out DIR]
// Simulates one step of a pipeline schedule, prints the step time and the measured bubble beside
// the planner's closed form, and with --out writes DIR/pipeline.trace.json (Chrome/Perfetto)
// and DIR/pipeline.svg.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "monitor/pipeline_trace.h"
#include "parallel/pipeline_timeline.h"

namespace symphony::cli {
namespace {

struct PipelineArgs {
  int pp = 4;
  int micro_batches = 8;
  std::string schedule = "1f1b";
  int vpp = 1;
  double forward_ms = 1, backward_input_ms = 1, backward_weight_ms = 1, p2p_ms = 0;
  std::string out;
};

int run_plan_pipeline(const PipelineArgs& a) {
  const std::optional<PipelineSchedule> schedule = parse_pipeline_schedule(a.schedule);
  if (!schedule)
    return report(Error::invalid("--schedule '{}' must be {}", a.schedule,
                                 kPipelineScheduleChoices));
  const StageTimes times{.forward_s = a.forward_ms * 1e-3,
                         .backward_input_s = a.backward_input_ms * 1e-3,
                         .backward_weight_s = a.backward_weight_ms * 1e-3,
                         .p2p_s = a.p2p_ms * 1e-3};
  Result<PipelineTimeline> tl = simulate_pipeline(*schedule, a.pp, a.micro_batches, a.vpp, times);
  if (!tl) return report(tl.error());
  const double analytic_s = analytic_pipeline_s(*schedule, a.pp, a.micro_batches, a.vpp, times);
  fmt::print(
      "{} pp={} vpp={} micro-batches={}: step {:.3f} ms, bubble {:.1f}% (closed form {:.3f} ms, "
      "{:.1f}%)\n",
      pipeline_schedule_name(*schedule), a.pp, a.vpp, a.micro_batches, tl->step_s * 1e3,
      100.0 * tl->bubble, analytic_s * 1e3,
      100.0 * analytic_bubble(*schedule, a.pp, a.micro_batches, a.vpp, times));
  if (a.out.empty()) return kExitOk;
  const std::filesystem::path dir(a.out);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return report(Error::io("creating {}: {}", dir.string(), ec.message()));
  const std::filesystem::path trace = dir / "pipeline.trace.json", svg = dir / "pipeline.svg";
  if (Status s = write_pipeline_trace_json(trace, *tl); !s.is_ok()) return report(s);
  if (Status s = write_pipeline_svg(svg, *tl); !s.is_ok()) return report(s);
  fmt::print("  {}\n  {}\n", trace.string(), svg.string());
  return kExitOk;
}

}  // namespace

CLI::App* add_plan_pipeline_command(CLI::App& plan, int* exit_code) {
  auto a = std::make_shared<PipelineArgs>();
  CLI::App* cmd = plan.add_subcommand(
      "pipeline", "Simulate a pipeline schedule: step time, bubble, Perfetto trace and SVG");
  cmd->add_option("--pp", a->pp, "Pipeline stages")->capture_default_str();
  cmd->add_option("--micro-batches", a->micro_batches, "Micro-batches per step")
      ->capture_default_str();
  cmd->add_option("--schedule", a->schedule, "gpipe, 1f1b, interleaved or zb-h1")
      ->capture_default_str();
  cmd->add_option("--vpp", a->vpp, "Virtual stages per rank (interleaved)")->capture_default_str();
  cmd->add_option("--forward-ms", a->forward_ms, "Forward time of one micro-batch on a rank")
      ->capture_default_str();
  cmd->add_option("--backward-input-ms", a->backward_input_ms, "Input-gradient time (B)")
      ->capture_default_str();
  cmd->add_option("--backward-weight-ms", a->backward_weight_ms, "Weight-gradient time (W)")
      ->capture_default_str();
  cmd->add_option("--p2p-ms", a->p2p_ms, "One send between neighbouring stages")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Directory for pipeline.trace.json and pipeline.svg");
  cmd->callback([a, exit_code] { *exit_code = run_plan_pipeline(*a); });
  return cmd;
}

}  // namespace symphony::cli
