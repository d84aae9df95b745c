#include "cli/train_args.h"

namespace symphony::cli {

void add_train_options(CLI::App& cmd, TrainArgs& args) {
  cmd.add_option("config", args.config, "Preset name (see `symphony presets`) or TOML file")
      ->capture_default_str();
  cmd.add_option("--set", args.overrides, "Override a config value: section.key=value")->take_all();
  cmd.add_flag("--dry-run", args.dry_run,
               "Print parameter counts and per-process memory without allocating");
  cmd.add_option("--kernels", args.kernels, "Kernel implementation")
      ->check(CLI::IsMember({"fast", "ref"}))
      ->capture_default_str();
  cmd.add_flag("--quiet", args.quiet, "No progress bar");
  cmd.add_option("--resume", args.resume,
                 "Resume from a checkpoint: 'auto' (the newest valid one in checkpoint.dir, or "
                 "a fresh start when there is none), a step directory or a checkpoint directory");
  cmd.add_option("--init-from", args.init_from,
                 "Start from the weights of a Hugging Face model directory, a Symphony model "
                 "file or run directory, or a checkpoint (a new run: fresh optimizer, data "
                 "position and schedule); a checkpoint found by --resume takes precedence");
  cmd.add_option("--stop-at-step", args.stop_at_step,
                 "Save a checkpoint and stop after this step, as on SIGTERM")
      ->check(CLI::PositiveNumber);
  cmd.add_flag("--ignore-memory-check", args.ignore_memory_check,
               "Start even when the run needs more memory than is available");
  cmd.add_option("--metrics-port", args.metrics_port,
                 "Serve Prometheus metrics on this TCP port from rank 0 (GET /metrics; "
                 "monitor.metrics_port; 0: off)")
      ->check(CLI::Range(0, 65535));
  // Hidden (no group): `symphony launch` passes it to the ranks it supervises.
  cmd.add_option("--launch-dir", args.launch_dir,
                 "Directory for this rank's start and exit files (set by symphony launch)")
      ->group("");
}

Result<TrainArgs> parse_train_args(const std::vector<std::string>& argv) {
  TrainArgs args;
  CLI::App parser{"train", "train"};
  add_train_options(parser, args);
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());  // CLI11 parses from the back
  try {
    parser.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0)
      return Error::invalid("for train's options see `symphony train --help`");
    return Error::invalid("{}", e.what());
  }
  return args;
}

}  // namespace symphony::cli
