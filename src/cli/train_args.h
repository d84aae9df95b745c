#pragma once
// The options of `symphony train`, shared by the train command and by `symphony launch`, which
// reads the train command it supervises with the same parser.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony::cli {

struct TrainArgs {
  std::string config = "tiny";
  std::vector<std::string> overrides;
  bool dry_run = false;
  std::string kernels = "fast";
  bool quiet = false;
  std::string resume;
  std::string init_from;
  int64_t stop_at_step = 0;
  bool ignore_memory_check = false;
  int64_t metrics_port = -1;  // -1: monitor.metrics_port as configured
  // Set by `symphony launch` only: where this rank writes its start and exit files
  // (launch/rank_files.h).
  std::string launch_dir;
};

// Registers train's options on `cmd`, storing into `args` (which must outlive `cmd`).
void add_train_options(CLI::App& cmd, TrainArgs& args);

// Parses `argv` (the words after "train") as train's options. Failure: kInvalidArgument with
// CLI11's message.
Result<TrainArgs> parse_train_args(const std::vector<std::string>& argv);

}  // namespace symphony::cli
