// symphony eval MODEL --data DATASET_DIR|TOKEN_FILE|TEXT_FILE [--split val|train] [--seq-len T]
//               [--batch-size B] [--batches N] [--max-tokens N] [--tokenizer SPEC] [--threads N]
//               [--json]
// MODEL is a run directory, a checkpoint step directory, a model.safetensors or a Hugging Face
// model directory; the engine side is train/evaluate_model.h.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "train/evaluate_model.h"

namespace symphony::cli {
namespace {

struct EvalArgs {
  EvalModelOptions options;
  std::string split;
  bool json = false;
};

int run_eval(EvalArgs& args) {
  if (!args.split.empty()) args.options.split = args.split == "train" ? Split::kTrain : Split::kVal;
  Result<EvalModelReport> r = evaluate_model(args.options);
  if (!r.has_value()) return report(r.error());
  for (const std::string& note : r->notes) fmt::print(stderr, "note: {}\n", note);
  if (args.json) {
    nlohmann::json out = {{"model", args.options.model},
                          {"weights", r->weights},
                          {"data", r->data},
                          {"split", r->split},
                          {"tokenizer", r->tokenizer},
                          {"data_tokens", r->data_tokens},
                          {"seq_len", r->shape.seq_len},
                          {"batch_size", r->shape.batch},
                          {"batches", r->loss.batches},
                          {"tokens", r->loss.tokens},
                          {"loss", r->loss.loss},
                          {"perplexity", r->perplexity},
                          {"elapsed_s", r->elapsed_s}};
    fmt::print("{}\n", out.dump());
    return kExitOk;
  }
  fmt::print("model:      {}\n", r->weights);
  fmt::print("data:       {} ({} split, {} tokens, tokenizer {})\n", r->data, r->split,
             r->data_tokens, r->tokenizer.empty() ? "unknown" : r->tokenizer);
  fmt::print("scored:     {} batches of {} x {} tokens: {} tokens in {:.2f} s\n", r->loss.batches,
             r->shape.batch, r->shape.seq_len, r->loss.tokens, r->elapsed_s);
  fmt::print("loss:       {:.6f}\n", r->loss.loss);
  fmt::print("perplexity: {:.4f}\n", r->perplexity);
  return kExitOk;
}

}  // namespace

void add_eval_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<EvalArgs>();
  args->options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CLI::App* cmd = app.add_subcommand(
      "eval", "Loss and perplexity of a model on a dataset split, a token file or a text file");
  cmd->add_option("model", args->options.model,
                  "Run directory, checkpoint directory, model.safetensors or Hugging Face "
                  "model directory")
      ->required();
  cmd->add_option("--data", args->options.data,
                  "Dataset directory (symphony data prepare), token file (.tok) or text/JSONL file")
      ->required();
  cmd->add_option("--split", args->split, "Split of a dataset directory (default: val)")
      ->check(CLI::IsMember({"val", "train"}));
  cmd->add_option("--seq-len", args->options.seq_len,
                  "Tokens per sequence (default: the run's train.seq_len)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", args->options.batch_size,
                  "Sequences per batch (default: the run's train.micro_batch_size)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batches", args->options.max_batches,
                  "Score at most N batches (default: all of the data)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-tokens", args->options.max_tokens,
                  "Score at most N tokens, in whole batches (at least one)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tokenizer", args->options.tokenizer,
                  "The model's tokenizer spec (default: the run's)");
  cmd->add_option("--threads", args->options.threads,
                  "Threads tokenizing a text file (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, exit_code] { *exit_code = run_eval(*args); });
}

}  // namespace symphony::cli
