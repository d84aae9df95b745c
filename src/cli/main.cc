// symphony: the command-line client of the engine. One cmd_<name>.cc per subcommand.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

int main(int argc, char** argv) {
  CLI::App app{"Symphony: Mixture-of-Experts transformer training engine"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
