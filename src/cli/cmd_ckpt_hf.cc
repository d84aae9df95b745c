// symphony ckpt export-hf SRC OUT [--max-shard-size SIZE] [--tokenizer SPEC]
// symphony ckpt import-hf HF_DIR OUT
// Hugging Face export and import (docs/hf_export.md), registered under `ckpt` by cmd_ckpt.cc;
// the engine side is checkpoint/hf_export.h and train/hf_import.h.
#include <fmt/format.h>

#include <filesystem>
#include <string>

#include "checkpoint/export_source.h"
#include "checkpoint/hf_export.h"
#include "checkpoint/hf_shards.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "train/hf_import.h"

namespace symphony::cli {
namespace {

struct ExportHfArgs {
  std::string source;
  std::string out;
  std::string max_shard_size = "5GB";
  std::string tokenizer;
};

int run_export_hf(const ExportHfArgs& args) {
  HfExportOptions options;
  options.tokenizer = args.tokenizer;
  Result<int64_t> shard = parse_shard_size(args.max_shard_size);
  if (!shard.has_value()) return report(shard.error().with_context("--max-shard-size"));
  options.max_shard_bytes = *shard;
  Result<LoadedModel> loaded = load_model_for_export(args.source);
  if (!loaded.has_value()) return report(loaded.error());
  Result<HfExportReport> exported = export_hf(loaded->config, *loaded->model, args.out, options);
  if (!exported.has_value())
    return report(exported.error().with_context("exporting {}", args.source));
  fmt::print("exported {} as {}: {} tensors, {}\n", args.source, hf_model_type(exported->arch),
             exported->tensors, human_bytes(double(exported->tensor_bytes)));
  for (const std::string& note : exported->notes) fmt::print("  note: {}\n", note);
  for (const std::string& file : exported->files)
    fmt::print("  {}\n", (std::filesystem::path(args.out) / file).string());
  return kExitOk;
}

struct ImportHfArgs {
  std::string source;
  std::string out;
};

int run_import_hf(const ImportHfArgs& args) {
  Result<HfImportReport> imported = import_hf(args.source, args.out);
  if (!imported.has_value())
    return report(imported.error().with_context("importing {}", args.source));
  const ParamCounts counts = count_params(imported->config.model);
  fmt::print("imported {} ({}): {} tensors, {} parameters\n", args.source,
             hf_model_type(imported->arch), imported->tensors, human_count(double(counts.total)));
  for (const std::string& note : imported->notes) fmt::print("  note: {}\n", note);
  const std::filesystem::path out(args.out);
  fmt::print("  {}\n  {}\n", (out / "model.safetensors").string(), (out / "config.toml").string());
  return kExitOk;
}

void add_export_hf(CLI::App& ckpt, int* exit_code) {
  auto args = std::make_shared<ExportHfArgs>();
  CLI::App* cmd = ckpt.add_subcommand("export-hf", "Write a model as a Hugging Face directory");
  cmd->add_option("source", args->source, "Run directory or Symphony model.safetensors")
      ->required();
  cmd->add_option("out", args->out, "Output directory (new or empty)")->required();
  cmd->add_option("--max-shard-size", args->max_shard_size,
                  "Shard the weights above this size (5GB, 500MB, 2GiB, bytes)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "Tokenizer spec for tokenizer.json, or none (default: the run's)");
  cmd->callback([args, exit_code] { *exit_code = run_export_hf(*args); });
}

void add_import_hf(CLI::App& ckpt, int* exit_code) {
  auto args = std::make_shared<ImportHfArgs>();
  CLI::App* cmd = ckpt.add_subcommand("import-hf", "Read a Hugging Face directory as a model");
  cmd->add_option("source", args->source, "Hugging Face model directory")->required();
  cmd->add_option("out", args->out, "Output directory for model.safetensors and config.toml")
      ->required();
  cmd->callback([args, exit_code] { *exit_code = run_import_hf(*args); });
}

}  // namespace

void add_ckpt_hf_commands(CLI::App& ckpt, int* exit_code) {
  add_export_hf(ckpt, exit_code);
  add_import_hf(ckpt, exit_code);
}

}  // namespace symphony::cli
