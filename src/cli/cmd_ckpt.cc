// symphony ckpt inspect DIR [--no-verify]
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <string>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_io.h"
#include "checkpoint/checkpoint_manifest.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

namespace symphony::cli {
namespace {

namespace fs = std::filesystem;

struct InspectArgs {
  std::string dir;
  bool no_verify = false;
};

// DIR: a step directory, a checkpoint directory (its newest step) or a run directory (its
// checkpoints/ subdirectory's newest step).
Result<fs::path> resolve_step_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "manifest.json", ec)) return dir;
  // A step directory without its manifest: say so rather than look for checkpoints inside it.
  if (step_of_dir_name(dir.filename().string()).has_value() && fs::is_directory(dir, ec))
    return Error::corrupt("{}: No such file; the checkpoint is incomplete or "
                          "damaged (--resume auto moves such a directory aside)",
                          (dir / "manifest.json").string());
  for (const fs::path& d : {dir, dir / "checkpoints"}) {
    std::vector<StepDir> steps = list_step_dirs(d);
    if (!steps.empty()) return steps.back().path;
  }
  if (!fs::exists(dir, ec)) return Error::not_found("{}: no such directory", dir.string());
  return Error::not_found("{}: no checkpoint here (no manifest.json, no step-* directories, no "
                          "checkpoints/ with any)", dir.string());
}

int run_inspect(const InspectArgs& args) {
  Result<fs::path> step_dir = resolve_step_dir(args.dir);
  if (!step_dir.has_value()) return report(step_dir.error());
  Result<CheckpointManifest> manifest = read_checkpoint_manifest(*step_dir);
  if (!manifest.has_value()) return report(manifest.error());
  const CheckpointManifest& m = *manifest;
  fmt::print("checkpoint   {}\n", step_dir->string());
  fmt::print("step         {} ({} tokens seen, lr {:.4g}, AdamW step {})\n", m.step, m.tokens_seen,
             m.lr, m.optimizer_steps);
  const std::string stages = m.layout.pp > 1 ? fmt::format("pp {}, ", m.layout.pp) : "";
  fmt::print("layout       {} ({} rank{}; {}dp {}, ep {}, ZeRO stage {})\n",
             m.layout.description, m.layout.world, m.layout.world == 1 ? "" : "s", stages,
             m.layout.dp, m.layout.ep, m.layout.zero_stage);
  fmt::print("data         {} samples drawn", m.loader.samples);
  for (size_t i = 0; i < m.loader.sources.size(); ++i)
    fmt::print(", source {}: epoch {} position {}", i, m.loader.sources[i].epoch,
               m.loader.sources[i].position);
  fmt::print("\n");
  if (!m.tokenizer_fingerprint.empty())
    fmt::print("tokenizer    fingerprint {}\n", m.tokenizer_fingerprint);
  // Tensors by kind.
  std::map<std::string, std::pair<int64_t, int64_t>> kinds;  // kind -> (tensors, elements)
  for (const CheckpointTensor& t : m.tensors) {
    std::string kind = t.name.starts_with("exp_avg_sq.") ? "AdamW exp_avg_sq"
                       : t.name.starts_with("exp_avg.")  ? "AdamW exp_avg"
                       : t.name.ends_with("e_score_correction_bias") ? "MoE selection biases"
                                                                     : "weights";
    kinds[kind].first += 1;
    kinds[kind].second += t.numel();
  }
  fmt::print("tensors      {}\n", m.tensors.size());
  for (const auto& [kind, v] : kinds)
    fmt::print("  {:<22} {:>5} tensors {:>14} elements ({})\n", kind, v.first, v.second,
               human_bytes(double(v.second) * 4));
  fmt::print("files        {}\n", m.files.size());
  bool all_ok = true;
  for (const CheckpointFile& f : m.files) {
    std::string verdict = "not verified";
    if (!args.no_verify) {
      Status s = verify_checkpoint_files(m, *step_dir, {f.name});
      verdict = s.is_ok() ? "checksum ok" : "FAILED: " + s.message();
      all_ok = all_ok && s.is_ok();
    }
    fmt::print("  {:<30} {:>12}  xxh3 {}  {}\n", f.name, human_bytes(double(f.bytes)), f.xxh3,
               verdict);
  }
  if (!all_ok) {
    fmt::print(stderr, "symphony: error: {} failed verification\n", step_dir->string());
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace

void add_ckpt_command(CLI::App& app, int* exit_code) {
  CLI::App* ckpt = app.add_subcommand("ckpt", "Inspect and convert checkpoints");
  ckpt->require_subcommand(1);
  auto args = std::make_shared<InspectArgs>();
  CLI::App* inspect = ckpt->add_subcommand(
      "inspect", "Summarise a checkpoint (step, layout, tensors, files) and verify its checksums");
  inspect->add_option("dir", args->dir, "A step directory, a checkpoint directory or a run directory")
      ->required();
  inspect->add_flag("--no-verify", args->no_verify, "Skip reading the files for their checksums");
  inspect->callback([args, exit_code] { *exit_code = run_inspect(*args); });
  add_ckpt_hf_commands(*ckpt, exit_code);
}

}  // namespace symphony::cli
