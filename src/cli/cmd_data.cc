// symphony data prepare --input PATH... --out DIR [--tokenizer SPEC] [--val-fraction F]
//   [--text-field NAME] [--skip-bad-lines] [--threads N] [--shard-tokens N] [--seed S]
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "data/prepare.h"

namespace symphony::cli {

namespace {

void print_progress(const PrepareProgress& p) {
  const double mb_per_s = double(p.text_bytes) / 1e6 / std::max(p.elapsed_s, 1e-9);
  fmt::print(stderr, "\rprepare: {} read, {:.1f} MB/s, {} documents, {} tokens   ",
             human_bytes(double(p.text_bytes)), mb_per_s, p.documents, p.tokens);
  std::fflush(stderr);
}

}  // namespace

void add_data_command(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<PrepareOptions>();
  auto skip_bad_lines = std::make_shared<bool>(false);
  opts->threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CLI::App* data = app.add_subcommand("data", "Dataset preparation");
  data->require_subcommand(1);
  CLI::App* prepare = data->add_subcommand(
      "prepare", "Tokenize text (files, directories, globs; .txt or .jsonl, optionally .gz/.zst) "
                 "into a sharded dataset directory");
  prepare->add_option("--input", opts->inputs, "Files, directories or globs")->required();
  prepare->add_option("--out", opts->output_dir, "Output directory")->required();
  prepare->add_option("--val-fraction", opts->val_fraction, "Share of documents held out")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  prepare->add_option("--tokenizer", opts->tokenizer, "Tokenizer spec")->capture_default_str();
  prepare->add_option("--seed", opts->seed, "Seed of the train/val split")->capture_default_str();
  prepare->add_option("--text-field", opts->text_field, "JSONL key holding the document text")
      ->capture_default_str();
  prepare->add_flag("--skip-bad-lines", *skip_bad_lines,
                    "Skip and count JSONL lines that are broken or lack the text field");
  prepare->add_option("--threads", opts->threads, "Tokenizing threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  prepare->add_option("--shard-tokens", opts->shard_tokens, "Tokens per shard (at least)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  prepare->callback([opts, skip_bad_lines, exit_code] {
    opts->bad_lines = *skip_bad_lines ? BadLines::kSkip : BadLines::kFail;
    opts->on_progress = print_progress;
    Result<PrepareStats> stats = prepare_dataset(*opts);
    fmt::print(stderr, "\n");
    if (!stats.has_value()) {
      *exit_code = report(stats.error());
      return;
    }
    for (const std::string& warning : stats->warnings) fmt::print(stderr, "warning: {}\n", warning);
    const double s = stats->elapsed_s;
    fmt::print("{} files, {} ({} on disk) in {:.2f} s ({:.1f} MB/s, {} threads), tokenizer {}\n",
               stats->files, human_bytes(double(stats->input_bytes)),
               human_bytes(double(stats->compressed_bytes)), s,
               double(stats->input_bytes) / 1e6 / std::max(s, 1e-9), opts->threads,
               stats->tokenizer);
    if (stats->empty_documents > 0 || stats->bad_lines > 0)
      fmt::print("skipped: {} empty documents, {} bad lines\n", stats->empty_documents,
                 stats->bad_lines);
    fmt::print("train: {} documents, {} tokens in {} shards\n", stats->train_documents,
               stats->train_tokens, stats->train_shards);
    fmt::print("val:   {} documents, {} tokens in {} shards\n", stats->val_documents,
               stats->val_tokens, stats->val_shards);
    if (stats->split_unit == SplitUnit::kTokens)
      fmt::print("split by tokens (too few documents to split by document): val is the last {} "
                 "tokens\n", stats->val_tokens);
    fmt::print("{}-byte tokens, manifest {}\n", stats->token_bytes, stats->manifest_path);
  });
}

}  // namespace symphony::cli
