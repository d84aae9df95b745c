// symphony generate MODEL --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
//                   [--top-p P] [--seed S] [--tokenizer SPEC]
// MODEL is a run directory (its model.safetensors) or a model file.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "data/tokenizer.h"
#include "infer/generator.h"
#include "train/model_file.h"

namespace symphony::cli {
namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string tokenizer;
  GenerateOptions options;
};

int run_generate(GenerateArgs& args) {
  std::filesystem::path path(args.model);
  if (std::filesystem::is_directory(path)) path /= "model.safetensors";
  // Build for batch 1 and the longest context this request can need.
  Result<LoadedModel> probe = load_model_file(path, {1, 1}, Recompute::kFull);
  if (!probe.has_value()) return report(probe.error());
  std::string spec = !args.tokenizer.empty() ? args.tokenizer
                     : !probe->config.data.tokenizer_path.empty() ? probe->config.data.tokenizer_path
                                                                  : "bytes";
  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(spec);
  if (!tokenizer.has_value()) return report(tokenizer.error());
  std::vector<int32_t> prompt = (*tokenizer)->encode(args.prompt);
  if (prompt.empty()) prompt.push_back((*tokenizer)->eot_token());
  // max_position_embeddings is validated (at most 2^30), so capping the request by it first keeps
  // the sum far from overflow whatever --max-new-tokens says.
  const int64_t positions = probe->config.model.max_position_embeddings;
  const int64_t context = std::min<int64_t>(
      positions, int64_t(prompt.size()) + std::min(args.options.max_new_tokens, positions) + 1);
  if (int64_t(prompt.size()) >= context)
    return report(Error::invalid("prompt of {} tokens does not fit the model's {} positions",
                                 prompt.size(), probe->config.model.max_position_embeddings));
  Result<LoadedModel> loaded = load_model_file(path, {1, context}, Recompute::kFull);
  if (!loaded.has_value()) return report(loaded.error());
  args.options.stop_token = (*tokenizer)->eot_token();
  fmt::print("{}", args.prompt);
  std::fflush(stdout);
  const Tokenizer& tok = **tokenizer;
  generate(Exec::cpu(), *loaded->model, prompt, args.options, [&](int32_t token) {
    std::string piece = tok.decode(std::span<const int32_t>(&token, 1));
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  fmt::print("\n");
  return kExitOk;
}

}  // namespace

void add_generate_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a trained model");
  cmd->add_option("model", args->model, "Run directory or model.safetensors")->required();
  cmd->add_option("--prompt", args->prompt, "Text to continue")->capture_default_str();
  cmd->add_option("--max-new-tokens", args->options.max_new_tokens, "Tokens to generate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", args->options.sampling.temperature, "0 = greedy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--top-k", args->options.sampling.top_k, "Keep the k most likely (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--top-p", args->options.sampling.top_p, "Nucleus probability mass")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer spec (default: the run's)");
  cmd->callback([args, exit_code] { *exit_code = run_generate(*args); });
}

}  // namespace symphony::cli
