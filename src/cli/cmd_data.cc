// symphony data prepare --input PATH... --out DIR [--val-fraction F] [--tokenizer SPEC]
#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/timer.h"
#include "data/prepare.h"

namespace symphony::cli {

void add_data_command(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<PrepareOptions>();
  CLI::App* data = app.add_subcommand("data", "Dataset preparation");
  data->require_subcommand(1);
  CLI::App* prepare = data->add_subcommand("prepare", "Tokenize text into train/val token files");
  prepare->add_option("--input", opts->inputs, "Files, directories or globs")->required();
  prepare->add_option("--out", opts->output_dir, "Output directory")->required();
  prepare->add_option("--val-fraction", opts->val_fraction, "Share of documents held out")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  prepare->add_option("--tokenizer", opts->tokenizer, "Tokenizer spec")->capture_default_str();
  prepare->add_option("--seed", opts->seed, "Seed of the train/val split")->capture_default_str();
  prepare->callback([opts, exit_code] {
    Timer timer;
    Result<PrepareStats> stats = prepare_dataset(*opts);
    if (!stats.has_value()) {
      *exit_code = report(stats.error());
      return;
    }
    const double s = timer.elapsed_s();
    fmt::print("{} files ({} empty), {} in {:.2f} s ({:.1f} MB/s), tokenizer {}\n", stats->files,
               stats->empty_files, human_bytes(double(stats->input_bytes)), s,
               double(stats->input_bytes) / 1e6 / std::max(s, 1e-9), stats->tokenizer);
    fmt::print("train: {} documents, {} tokens -> {}/train.tok\n", stats->train_documents,
               stats->train_tokens, opts->output_dir);
    fmt::print("val:   {} documents, {} tokens -> {}/val.tok\n", stats->val_documents,
               stats->val_tokens, opts->output_dir);
  });
}

}  // namespace symphony::cli
