// symphony launch -np N [--max-restarts K] [--backoff S] [--backoff-max S] [--shrink]
//                 [--mpirun PATH] [--mpirun-arg=ARG]... -- train CONFIG [train options]
// Runs the train command under mpirun and restarts it from its newest valid checkpoint when it
// fails (launch/supervisor.h; docs/launch.md). Everything is checked before anything starts: bad
// input exits 2 and nothing is launched.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/train_args.h"
#include "config/run_config.h"
#include "core/stop_signals.h"
#include "launch/supervisor.h"
#include "launch/world_choice.h"
#include "parallel/layout.h"
#include "parallel/runtime.h"

namespace symphony::cli {
namespace {

namespace fs = std::filesystem;

struct LaunchArgs {
  int np = 0;
  int max_restarts = 3;
  double backoff_s = 5;
  double backoff_max_s = 300;
  bool shrink = false;
  std::string mpirun;
  std::vector<std::string> mpirun_args;
  std::vector<std::string> stray;  // words before `--` that are no option
};

// The launcher: --mpirun, else mpirun (then mpiexec) on PATH. Failure: kNotFound.
Result<std::string> find_mpirun(const std::string& given) {
  if (!given.empty()) {
    if (access(given.c_str(), X_OK) != 0)
      return Error::not_found("--mpirun {}: not an executable file", given);
    return fs::absolute(given).string();
  }
  const char* path = std::getenv("PATH");
  for (const char* name : {"mpirun", "mpiexec"}) {
    std::string dirs = path ? path : "";
    size_t begin = 0;
    while (begin <= dirs.size()) {
      size_t end = dirs.find(':', begin);
      if (end == std::string::npos) end = dirs.size();
      const fs::path candidate =
          fs::path(end > begin ? dirs.substr(begin, end - begin) : ".") / name;
      if (access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
      begin = end + 1;
    }
  }
  return Error::not_found("mpirun: not found on PATH; install OpenMPI or pass --mpirun PATH");
}

// The train command's words without --resume (and its value): each attempt sets its own.
std::vector<std::string> without_resume(const std::vector<std::string>& words) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--resume") {
      ++i;
      continue;
    }
    if (words[i].starts_with("--resume=")) continue;
    kept.push_back(words[i]);
  }
  return kept;
}

int bad_input(const std::string& message) { return report(Error::invalid("{}", message)); }

int run_launch(const LaunchArgs& args, const LaunchCommandLine& line) {
  // Stop signals become a request to the job to save and stop (launch/supervisor.h).
  StopSignals stop_signals;
  if (!line.separated)
    return bad_input(
        "launch: no `--` before the train command; usage: symphony launch -np N "
        "[options] -- train CONFIG [train options]");
  if (!args.stray.empty())
    return bad_input(fmt::format("launch: unexpected argument '{}' before `--`", args.stray[0]));
  if (args.np < 1)
    return bad_input(fmt::format("launch: -np {}: the job needs at least 1 rank", args.np));
  if (args.max_restarts < 0)
    return bad_input(fmt::format("launch: --max-restarts {} is negative", args.max_restarts));
  if (!(args.backoff_s >= 0) || !(args.backoff_max_s >= args.backoff_s))
    return bad_input(
        fmt::format("launch: --backoff {} and --backoff-max {} must satisfy 0 <= "
                    "backoff <= backoff-max",
                    args.backoff_s, args.backoff_max_s));
  if (line.job.empty() || line.job[0] != "train")
    return bad_input(
        fmt::format("launch: the command after `--` must be `train CONFIG ...`, not "
                    "'{}'",
                    line.job.empty() ? "" : line.job[0]));
  if (launched_by_mpi())
    return bad_input("launch: started by an MPI launcher; `symphony launch` runs mpirun itself");
  const std::vector<std::string> train_words(line.job.begin() + 1, line.job.end());
  Result<TrainArgs> train_args = parse_train_args(train_words);
  if (!train_args) return bad_input("launch: the train command: " + train_args.error().message());
  if (train_args->dry_run) return bad_input("launch: --dry-run starts no job to supervise");
  if (!train_args->launch_dir.empty())
    return bad_input("launch: --launch-dir is set by launch itself");
  Result<RunConfig> config = load_run_config(train_args->config, train_args->overrides);
  if (!config) return report(config.error());
  Result<ParallelLayout> layout = ParallelLayout::create(config->parallel, args.np);
  if (!layout) return report(layout.error().with_context("-np {}", args.np));
  Result<int64_t> global_batch = global_batch_tokens_on(*config, args.np);
  if (!global_batch) return report(global_batch.error());
  const int64_t micro_tokens = config->train.micro_batch_size * config->train.seq_len;
  const int64_t data_ranks = int64_t(layout->size(Axis::kData)) * layout->size(Axis::kContext);
  if (*global_batch % (micro_tokens * data_ranks) != 0)
    return bad_input(fmt::format(
        "train.global_batch_tokens = {} is not a multiple of dp * cp * micro_batch_size * "
        "seq_len = {} * {} * {} * {} = {} on {} ranks",
        *global_batch, layout->size(Axis::kData), layout->size(Axis::kContext),
        config->train.micro_batch_size, config->train.seq_len, micro_tokens * data_ranks, args.np));
  Result<std::string> mpirun = find_mpirun(args.mpirun);
  if (!mpirun) return report(mpirun.error());
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return report(Error::io("/proc/self/exe: {}", ec.message()));

  const fs::path run_dir = config->train.run_dir;
  const fs::path checkpoint_dir =
      config->checkpoint.dir.empty() ? run_dir / "checkpoints" : fs::path(config->checkpoint.dir);
  std::vector<std::string> job = without_resume(train_words);
  // A shrunk world keeps the global batch by accumulating more micro-batches per rank: the batch
  // must be fixed in tokens, not as one micro-batch per rank.
  if (args.shrink && config->train.global_batch_tokens == 0)
    job.insert(job.end(), {"--set", fmt::format("train.global_batch_tokens={}", *global_batch)});
  if (config->checkpoint.every == 0)
    fmt::print(stderr,
               "symphony launch: warning: checkpoint.every = 0: a restart resumes from "
               "the newest checkpoint there is, perhaps none (step 0)\n");

  SupervisorOptions options;
  options.world_size = args.np;
  options.policy = {args.max_restarts, args.backoff_s, args.backoff_max_s,
                    args.shrink ? ShrinkMode::kOn : ShrinkMode::kOff, 2};
  options.config = &*config;
  options.global_batch_tokens = *global_batch;
  options.run_dir = run_dir;
  options.checkpoint_dir = checkpoint_dir;
  options.stop = &stop_signals.requested();
  const std::string user_resume = train_args->resume;
  options.command = [&](const AttemptPlan& plan) {
    std::vector<std::string> argv{*mpirun};
    argv.insert(argv.end(), args.mpirun_args.begin(), args.mpirun_args.end());
    argv.insert(argv.end(), {"-np", std::to_string(plan.world_size), self.string(), "train"});
    argv.insert(argv.end(), job.begin(), job.end());
    // A restart resumes from the newest valid checkpoint of the run; until the run has one, from
    // what the first launch was told to resume from.
    const std::string resume =
        plan.restart && !list_step_dirs(checkpoint_dir).empty() ? "auto" : user_resume;
    if (!resume.empty()) argv.insert(argv.end(), {"--resume", resume});
    if (plan.dp > 0) argv.insert(argv.end(), {"--set", fmt::format("parallel.dp={}", plan.dp)});
    argv.insert(argv.end(), {"--launch-dir", plan.rank_dir.string()});
    return argv;
  };
  fmt::print(stderr, "symphony launch: {} rank{} under {}, up to {} restart{}{}; log {}\n", args.np,
             args.np == 1 ? "" : "s", *mpirun, args.max_restarts, args.max_restarts == 1 ? "" : "s",
             args.shrink ? ", shrinking on repeated failures" : "",
             (run_dir / "launch.jsonl").string());
  Result<LaunchResult> result = supervise(options);
  if (!result) return report(result.error().with_context("launch"));
  switch (result->end) {
    case LaunchEnd::kCompleted:
    case LaunchEnd::kStopped:
      return kExitOk;
    case LaunchEnd::kBadInput:
      std::fprintf(stderr, "symphony: error: %s\n", result->message.c_str());
      return kExitBadInput;
    case LaunchEnd::kInterrupted:
    case LaunchEnd::kGaveUp:
      std::fprintf(stderr, "symphony: error: %s\n", result->message.c_str());
      return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace

LaunchCommandLine split_launch_command_line(int argc, char** argv) {
  LaunchCommandLine line;
  for (int i = 0; i < argc; ++i) line.args.emplace_back(argv[i]);
  if (argc < 2 || std::string(argv[1]) != "launch") return line;
  line.args.resize(2);
  for (int i = 2; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") {
      line.separated = true;
      line.job.assign(argv + i + 1, argv + argc);
      break;
    }
    // mpirun's spelling; CLI11 takes one-dash names of one letter only.
    if (word == "-np" || word.starts_with("-np=")) {
      line.args.push_back("-" + word);
    } else {
      line.args.push_back(word);
    }
  }
  return line;
}

void add_launch_command(CLI::App& app, const LaunchCommandLine& line, int* exit_code) {
  auto args = std::make_shared<LaunchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "launch",
      "Run `train` under mpirun, restarting it from its newest checkpoint when it fails: "
      "symphony launch -np N [OPTIONS] -- train CONFIG [train options]");
  cmd->add_option("-n,--np", args->np, "Ranks to start (mpirun -np)")->required();
  cmd->add_option("--max-restarts", args->max_restarts, "Restarts allowed in all")
      ->capture_default_str();
  cmd->add_option("--backoff", args->backoff_s,
                  "Seconds to wait before a restart; doubled after each failure that made no "
                  "progress")
      ->capture_default_str();
  cmd->add_option("--backoff-max", args->backoff_max_s, "Longest wait before a restart, seconds")
      ->capture_default_str();
  cmd->add_flag("--shrink", args->shrink,
                "Leave out a rank that failed twice and restart on the largest valid world left, "
                "keeping the global batch");
  cmd->add_option("--mpirun", args->mpirun, "The MPI launcher (default: mpirun on PATH)");
  cmd->add_option("--mpirun-arg", args->mpirun_args,
                  "An argument for mpirun, before -np (repeatable: --mpirun-arg=--oversubscribe)");
  cmd->add_option("stray", args->stray)->group("");
  const LaunchCommandLine* command_line = &line;
  cmd->callback([args, command_line, exit_code] { *exit_code = run_launch(*args, *command_line); });
}

}  // namespace symphony::cli
