// symphony presets [NAME]: lists the embedded presets, or prints one as TOML.
#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "config/presets.h"
#include "config/run_config.h"

namespace symphony::cli {

void add_presets_command(CLI::App& app, int* exit_code) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("presets", "List presets, or print one resolved as TOML");
  cmd->add_option("name", *name, "Preset to print");
  cmd->callback([name, exit_code] {
    if (name->empty()) {
      for (const std::string& p : list_presets()) {
        Result<RunConfig> c = load_run_config(p, {});
        if (!c.has_value()) {
          *exit_code = report(c.error());
          return;
        }
        ParamCounts counts = count_params(c->model);
        fmt::print("{:<20} {:>10} params {:>10} active\n", p, human_count(double(counts.total)),
                   human_count(double(counts.active)));
      }
      return;
    }
    Result<RunConfig> c = load_run_config(*name, {});
    if (!c.has_value()) {
      *exit_code = report(c.error());
      return;
    }
    fmt::print("{}", to_toml(*c));
  });
}

}  // namespace symphony::cli
