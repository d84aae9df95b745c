#pragma once
// Each subcommand registers itself on the app and sets `*exit_code` when it runs.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace symphony::cli {

void add_train_command(CLI::App& app, int* exit_code);

// `symphony launch ... -- train ...` (cmd_launch.cc). Its command line is split before CLI11
// reads it: the words after the first `--` are the job's, and mpirun's "-np" becomes "--np".
struct LaunchCommandLine {
  std::vector<std::string> args;  // for CLI11, argv[0] included
  std::vector<std::string> job;   // after `--`
  bool separated = false;         // a `--` was there
};
// Only `symphony launch` command lines are changed; any other is returned as given.
LaunchCommandLine split_launch_command_line(int argc, char** argv);
// `line` must outlive the parse.
void add_launch_command(CLI::App& app, const LaunchCommandLine& line, int* exit_code);
void add_generate_command(CLI::App& app, int* exit_code);
void add_eval_command(CLI::App& app, int* exit_code);
void add_data_command(CLI::App& app, int* exit_code);
void add_bench_command(CLI::App& app, int* exit_code);
void add_presets_command(CLI::App& app, int* exit_code);
void add_plot_command(CLI::App& app, int* exit_code);
void add_plan_command(CLI::App& app, int* exit_code);
// `pipeline` (cmd_plan_pipeline.cc), added to the `plan` command; returned so that plan's own
// callback can tell when it ran instead.
CLI::App* add_plan_pipeline_command(CLI::App& plan, int* exit_code);
void add_tokenizer_command(CLI::App& app, int* exit_code);
void add_ckpt_command(CLI::App& app, int* exit_code);
// export-hf and import-hf (cmd_ckpt_hf.cc), added to the `ckpt` command.
void add_ckpt_hf_commands(CLI::App& ckpt, int* exit_code);

}  // namespace symphony::cli
