#pragma once
// The training loop: composes the data loader (train/train_data.h), the model, the optimizer and
// the monitors; owns none of their internals.
//   per step: zero grads -> micro-batches (forward + backward, gradients summed) -> global grad
//   norm and clip factor -> AdamW at the scheduled lr -> aux-loss-free bias update -> metrics.
// The weights start from the config's initialisation, a checkpoint resumed (TrainOptions::resume)
// or another model's weights (TrainOptions::init_from).
// The run directory receives config.toml (the resolved config), metrics.jsonl (one object per
// step and per evaluation; `loss` is the main LM head's, `mtp_loss` beside it with multi-token
// prediction, docs/mtp.md; every monitor.rank_stats_every steps one row per rank and a record
// per straggler named, docs/monitoring.md), loss.svg (at the end) and model.safetensors (the
// final weights), and checkpoint.dir (default <run_dir>/checkpoints) the checkpoints
// (checkpoint/checkpointer.h). With monitor.metrics_port, rank 0 serves the run's figures to
// Prometheus (monitor/metrics_server.h) until it returns, monitor.metrics_linger_s after the
// last step.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/status.h"
#include "parallel/comm.h"
#include "data/sample_stream.h"
#include "tensor/exec.h"

namespace symphony {

enum class ProgressOutput : uint8_t { kBar, kNone };

struct TrainOptions {
  Exec exec = Exec::cpu();  // its matmul precision is replaced by the config's train.precision
  ProgressOutput progress = ProgressOutput::kBar;
  std::FILE* log = stderr;  // progress bar and evaluation lines
  // The ranks training together (parallel/runtime.h); nullptr for one process. Every rank calls
  // train() with the same config; rank 0 writes the run directory and prints progress.
  Comm* world = nullptr;
  // Where the data loader starts; absent: the start of the order (or the resumed checkpoint's).
  std::optional<LoaderState> loader_state;
  // The checkpoint to resume from (checkpoint/checkpointer.h resume_from): "" for none, "auto"
  // for the newest valid one in the run's checkpoint directory, or a path.
  std::string resume;
  // The weights to start from (train/init_from.h): a Hugging Face model directory, a Symphony
  // model file or run directory, or a checkpoint; "" for the config's random initialisation.
  // A resumed run (a checkpoint found through `resume`) keeps its own weights and ignores it, and
  // says so. Without `resume`, a checkpoint directory that already holds checkpoints, or a
  // source inside the run or checkpoint directory, is refused (kInvalidArgument): the new run
  // would overwrite them.
  std::string init_from;
  // When it becomes true (a SIGTERM or SIGINT handler sets it), every rank stops at the end of
  // the current step, a checkpoint is saved and train() returns with `stopped` set. After the
  // last step it ends the metrics endpoint's linger.
  const std::atomic<bool>* stop = nullptr;
  // When positive, stop the same way after this step (a job of a fixed length; tests of resume).
  int64_t stop_at_step = 0;
};

struct TrainResult {
  int64_t steps = 0;
  std::vector<double> losses;       // [step] mean cross-entropy of the step's global batch
  std::vector<double> mtp_losses;   // [step] mean over depths of the MTP losses (empty without)
  std::vector<double> eval_losses;  // one per evaluation
  double tokens_per_s = 0;          // over the whole run, first step excluded when possible
  double gflops = 0;                // achieved model GFLOP/s at that rate
  LoaderState loader_state;         // where the data loader stands after the last step
  int64_t first_step = 0;           // steps already done when the run started (resumed)
  bool stopped = false;             // ended early: TrainOptions::stop or stop_at_step
  std::string checkpoint;           // the newest checkpoint it committed, "" for none
};

// Failure: bad data or config (named), a non-finite loss, or a communication error or timeout
// (then the caller should abort the job: peers may be stuck in a collective).
Result<TrainResult> train(const RunConfig& config, const TrainOptions& options);

}  // namespace symphony
