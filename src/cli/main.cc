// symphony: the command-line client of the engine. One cmd_<name>.cc per subcommand.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  const symphony::cli::LaunchCommandLine launch_line =
      symphony::cli::split_launch_command_line(argc, argv);
  std::vector<char*> args;
  for (const std::string& word : launch_line.args) args.push_back(const_cast<char*>(word.c_str()));
  CLI::App app{"Symphony: Mixture-of-Experts transformer training engine"};
  app.require_subcommand(1);
  int exit_code = symphony::cli::kExitOk;
  symphony::cli::add_train_command(app, &exit_code);
  symphony::cli::add_launch_command(app, launch_line, &exit_code);
  symphony::cli::add_generate_command(app, &exit_code);
  symphony::cli::add_eval_command(app, &exit_code);
  symphony::cli::add_data_command(app, &exit_code);
  symphony::cli::add_bench_command(app, &exit_code);
  symphony::cli::add_presets_command(app, &exit_code);
  symphony::cli::add_plot_command(app, &exit_code);
  symphony::cli::add_plan_command(app, &exit_code);
  symphony::cli::add_tokenizer_command(app, &exit_code);
  symphony::cli::add_ckpt_command(app, &exit_code);
  try {
    app.parse(int(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : symphony::cli::kExitBadInput;
  }
  return exit_code;
}
