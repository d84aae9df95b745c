#pragma once
// Each subcommand registers itself on the app and sets `*exit_code` when it runs.
#include <CLI/CLI.hpp>

namespace symphony::cli {

void add_train_command(CLI::App& app, int* exit_code);
void add_generate_command(CLI::App& app, int* exit_code);
void add_eval_command(CLI::App& app, int* exit_code);
void add_data_command(CLI::App& app, int* exit_code);
void add_bench_command(CLI::App& app, int* exit_code);
void add_presets_command(CLI::App& app, int* exit_code);
void add_plan_command(CLI::App& app, int* exit_code);
// `pipeline` (cmd_plan_pipeline.cc), added to the `plan` command; returned so that plan's own
// callback can tell when it ran instead.
CLI::App* add_plan_pipeline_command(CLI::App& plan, int* exit_code);
void add_tokenizer_command(CLI::App& app, int* exit_code);
void add_ckpt_command(CLI::App& app, int* exit_code);
// export-hf and import-hf (cmd_ckpt_hf.cc), added to the `ckpt` command.
void add_ckpt_hf_commands(CLI::App& ckpt, int* exit_code);

}  // namespace symphony::cli
