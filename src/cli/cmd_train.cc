// symphony train CONFIG [--set section.key=value]... [--dry-run] [--kernels fast|ref] [--quiet]
//                [--resume auto|PATH] [--init-from PATH] [--stop-at-step N]
//                [--ignore-memory-check] [--metrics-port PORT]
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/train_args.h"
#include "config/run_config.h"
#include "core/stop_signals.h"
#include "kernels/gemm.h"
#include "launch/rank_files.h"
#include "model/memory_plan.h"
#include "model/pipeline_split.h"
#include "monitor/flops.h"
#include "parallel/runtime.h"
#include "parallel/layout.h"
#include "train/memory_check.h"
#include "train/trainer.h"

namespace symphony::cli {
namespace {

// A rank of a job supervised by `symphony launch` tells it when it started and how it ended
// through its files in --launch-dir (launch/rank_files.h); without --launch-dir nothing is
// written. The exit file is written by the destructor, so an object made before the runtime
// writes it after MPI is finalised; a path that aborts the job calls write_exit() first.
class SupervisedRank {
 public:
  explicit SupervisedRank(std::string dir) : dir_(std::move(dir)) {}
  ~SupervisedRank() { write_exit(); }
  SupervisedRank(const SupervisedRank&) = delete;
  SupervisedRank& operator=(const SupervisedRank&) = delete;

  void started(const Comm& world) {
    exit_.rank = world.rank();
    if (dir_.empty()) return;
    if (Status s = write_rank_start(dir_, this_rank_start(world.rank(), world.size())); !s.is_ok())
      fmt::print(stderr, "warning: {}\n", s.message());
  }
  void ended(int exit_code, RankOutcome outcome, std::string message = "") {
    exit_.exit_code = exit_code;
    exit_.outcome = outcome;
    exit_.message = std::move(message);
    ended_ = true;
  }
  void write_exit() {
    if (dir_.empty() || !ended_ || written_) return;
    written_ = true;
    if (Status s = write_rank_exit(dir_, exit_); !s.is_ok())
      fmt::print(stderr, "warning: {}\n", s.message());
  }

 private:
  std::string dir_;
  RankExit exit_;
  bool ended_ = false;
  bool written_ = false;
};

// The decoder layers of pipeline stage `stage`, chunk by chunk, in half layers where a chunk
// begins or ends inside a layer: "layers [0, 4.5)" (layer 4's attention, not its feed-forward).
std::string stage_layers(const RunConfig& c, int stage) {
  const std::vector<int64_t> units =
      pipeline_layer_split(c.model, c.parallel, c.train.seq_len);
  const int p = int(c.parallel.pp), v = int(c.parallel.vpp);
  auto layer = [](int64_t unit) {
    return unit % 2 == 0 ? fmt::format("{}", unit / 2) : fmt::format("{}.5", unit / 2);
  };
  std::string out = "layers";
  for (int chunk = 0; chunk < v; ++chunk) {
    int64_t begin = 0;
    for (int vs = 0; vs < chunk * p + stage; ++vs) begin += units[size_t(vs)];
    const int64_t end = begin + units[size_t(chunk * p + stage)];
    out += fmt::format(" [{}, {})", layer(begin), layer(end));
  }
  return out;
}

// Prints the model's size and memory; fails (exit 2) on a layout the config cannot run.
Status print_dry_run(const RunConfig& c) {
  const ParamCounts counts = count_params(c.model);
  const BatchShape shape{c.train.micro_batch_size, c.train.seq_len};
  const MemoryPlan plan = plan_training_memory(c.model, DType::kF32, shape, c.train.recompute, {},
                                               c.parallel.sequence_parallel,
                                               saved_activations_for(c.train.precision));
  fmt::print("config        {}\n", c.source);
  fmt::print("parameters    {} total, {} active per token ({})\n", human_count(double(counts.total)),
             human_count(double(counts.active)), counts.total);
  if (counts.mtp > 0)
    fmt::print("MTP modules   {} parameters in {}, {} active per token (not in the total)\n",
               human_count(double(counts.mtp)), c.model.num_nextn_predict_layers,
               human_count(double(counts.mtp_active)));
  fmt::print("flops/token   {:.3e} (training, model FLOPs)\n",
             training_flops_per_token(c.model, c.train.seq_len));
  const int64_t scratch = gemm_scratch_bytes(c);
  fmt::print("memory of one process (fp32 state, {} GEMMs, micro-batch {} x {}, recompute {}):\n",
             precision_name(c.train.precision), shape.batch, shape.seq_len,
             recompute_name(c.train.recompute));
  fmt::print("  weights      {:>12}\n", human_bytes(double(plan.weights)));
  fmt::print("  gradients    {:>12}\n", human_bytes(double(plan.grads)));
  fmt::print("  optimizer    {:>12}\n", human_bytes(double(plan.optimizer)));
  fmt::print("  activations  {:>12}{}\n", human_bytes(double(plan.activations)),
             saved_activations_for(c.train.precision) == Precision::kBf16 &&
                     c.train.recompute == Recompute::kNone
                 ? " (kept for the backward pass in bf16)"
                 : "");
  if (scratch > 0)
    fmt::print("  {} scratch {:>12} (GEMM inputs converted to bf16{})\n",
               precision_name(c.train.precision), human_bytes(double(scratch)),
               c.train.precision == Precision::kFp8 ? "; FP8-quantized operands and the error "
                                                      "checks' outputs"
                                                    : "");
  fmt::print("  other        {:>12}\n", human_bytes(double(plan.other)));
  fmt::print("  total        {:>12}\n", human_bytes(double(plan.total() + scratch)));
  // Per rank of the layout (dp taken as given, at least 1): the sharded state replaces weights,
  // gradients and moments; expert parallelism also changes the activations.
  ParallelConfig pc = c.parallel;
  pc.dp = std::max<int64_t>(pc.dp, 1);
  const int64_t world = pc.dp * pc.pp * pc.cp * pc.tp;
  const Result<ParallelLayout> layout = ParallelLayout::create(pc, int(world));
  if (!layout || (world == 1 && layout->zero_stage() == ZeroStage::kNone)) return Status::ok();
  if (Result<ProcessMemory> stage0 = plan_stage_memory(c, *layout, 0); !stage0)
    return stage0.error();  // a pipeline schedule that cannot run the step's micro-batches
  const ProcessMemory m = plan_process_memory(c, *layout);
  const bool stages = layout->size(Axis::kPipeline) > 1;
  fmt::print("memory of each rank with {}{}:\n", layout->describe(),
             stages ? " (the largest pipeline stage)" : "");
  fmt::print("  weights      {:>12}\n", human_bytes(double(m.weights)));
  fmt::print("  gradients    {:>12}\n", human_bytes(double(m.grads)));
  fmt::print("  optimizer    {:>12}\n", human_bytes(double(m.optimizer)));
  fmt::print("  comm buffers {:>12}\n", human_bytes(double(m.communication)));
  fmt::print("  activations  {:>12}\n", human_bytes(double(m.activations)));
  fmt::print("  other        {:>12}\n", human_bytes(double(m.other)));
  fmt::print("  total        {:>12}\n", human_bytes(double(m.total())));
  for (int stage = 0; stages && stage < layout->size(Axis::kPipeline); ++stage) {
    const ProcessMemory sm = *plan_stage_memory(c, *layout, stage);
    fmt::print("  stage {:<6} {:>12} (activations {}; {})\n", stage,
               human_bytes(double(sm.total())), human_bytes(double(sm.activations)),
               stage_layers(c, stage));
  }
  return Status::ok();
}

int run_train(const TrainArgs& args) {
  // SIGTERM (Slurm's warning before it kills a job), SIGUSR1 (what mpirun forwards to its ranks)
  // and SIGINT ask the trainer to save a checkpoint and stop at the end of the current step. They
  // are blocked here, before any thread exists, and received by StopSignals' own thread.
  StopSignals stop_signals;
  std::vector<std::string> overrides = args.overrides;
  if (args.metrics_port >= 0)
    overrides.push_back(fmt::format("monitor.metrics_port={}", args.metrics_port));
  Result<RunConfig> config = load_run_config(args.config, overrides);
  if (!config.has_value()) return report(config.error());
  if (args.dry_run) {
    if (Status s = print_dry_run(*config); !s.is_ok()) return report(s);
    return kExitOk;
  }
  SupervisedRank supervised(args.launch_dir);  // before the runtime: see SupervisedRank
  // Under mpirun or srun: MPI; otherwise one process.
  RuntimeOptions runtime_options;
  runtime_options.timeout_s = config->parallel.timeout_s;
  Result<std::unique_ptr<Runtime>> runtime = start_runtime(runtime_options);
  if (!runtime.has_value()) return report(runtime.error());
  Comm& world = (*runtime)->world();
  const bool leader = world.rank() == 0;
  supervised.started(world);
  if (!args.ignore_memory_check) {
    if (Status fits = check_training_memory(*config, world.size(), "pass --ignore-memory-check");
        !fits.is_ok()) {
      const int code = report(fits);
      supervised.ended(code, RankOutcome::kFailed, fits.message());
      supervised.write_exit();
      if ((*runtime)->distributed()) (*runtime)->abort(code);
      return code;
    }
  }
  TrainOptions options;
  options.exec = args.kernels == "ref" ? Exec::reference() : Exec::cpu();
  options.progress = args.quiet ? ProgressOutput::kNone : ProgressOutput::kBar;
  options.world = &world;
  options.resume = args.resume;
  options.init_from = args.init_from;
  options.stop_at_step = args.stop_at_step;
  options.stop = &stop_signals.requested();
  const ParamCounts counts = count_params(config->model);
  if (leader)
    fmt::print(stderr, "training {} ({} params, {} active) for {} steps into {}{}, {} GEMMs{}\n",
               config->source, human_count(double(counts.total)),
               human_count(double(counts.active)), config->train.steps, config->train.run_dir,
               world.size() > 1 ? fmt::format(" on {} ranks", world.size()) : "",
               precision_name(config->train.precision),
               config->train.precision != Precision::kFp32 && args.kernels != "ref"
                   ? fmt::format(" ({})", cpu::bf16_gemm_path_name(cpu::bf16_gemm_path()))
                   : "");
  Result<TrainResult> result = train(*config, options);
  if (!result.has_value()) {
    const Status error = result.error().with_context("rank {}", world.rank());
    if (!(*runtime)->distributed()) {
      const int code = report(result.error());
      supervised.ended(code, RankOutcome::kFailed, error.message());
      return code;
    }
    // Peers may be waiting in a collective this rank will never join: end the whole job.
    const int code = report(error);
    supervised.ended(code, RankOutcome::kFailed, error.message());
    supervised.write_exit();
    (*runtime)->abort(code);
  }
  supervised.ended(kExitOk, result->stopped ? RankOutcome::kStopped : RankOutcome::kDone);
  if (!leader) return kExitOk;
  if (result->stopped) {
    fmt::print(stderr, "stopped after step {}; saved {}; continue with --resume auto\n",
               result->steps, result->checkpoint);
    return kExitOk;
  }
  if (result->losses.empty()) {
    fmt::print(stderr, "nothing to do: the checkpoint is already at train.steps = {}\n",
               result->steps);
    return kExitOk;
  }
  fmt::print(stderr, "done: final loss {:.4f}", result->losses.back());
  if (!result->eval_losses.empty()) fmt::print(stderr, ", eval loss {:.4f}", result->eval_losses.back());
  fmt::print(stderr, ", {:.0f} tokens/s, {:.1f} GFLOP/s\n", result->tokens_per_s, result->gflops);
  return kExitOk;
}

}  // namespace

void add_train_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model from a TOML config or preset");
  add_train_options(*cmd, *args);
  cmd->callback([args, exit_code] { *exit_code = run_train(*args); });
}

}  // namespace symphony::cli
