#pragma once
// One training run under a parallel layout, for tests that compare layouts with one process: the
// model built for the rank's placement, its sharded state and the step, fed micro-batches that
// depend only on the step and their index in the global batch, so any layout sees the same
// global batch.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "parallel/mesh.h"
#include "train/train_step.h"
#include "zero/data_parallel.h"

namespace symphony::testkit {

// Global micro-batch j of a step: tokens that depend only on `tag`, the step and j; each target
// is a fixed function of its token, so the loss falls fast.
void fill_micro_batch(uint64_t tag, int64_t vocab, int64_t step, int64_t j,
                      std::span<int32_t> in, std::span<int32_t> tgt);

// The mesh of c.parallel over `world` (fatal on an invalid layout: tests build valid ones).
DeviceMesh mesh_for(const RunConfig& c, Comm& world);
// `c` with the default (one-process) parallel config.
RunConfig single_process(RunConfig c);
// Overrides that turn the `tiny` preset (8 experts, top 2) into the published DeepSeek-V3 /
// Ling 2.0 architecture choices: sigmoid router scores, group-limited routing (4 groups of which
// 2), a routed scaling factor, the sequence-wise balance loss, and partial RoPE.
std::vector<std::string> published_architecture_overrides();
// sqrt(sum (a - ref)^2 / sum ref^2), or the absolute norm of the difference when ref is zero.
double relative_difference(const std::vector<float>& a, const std::vector<float>& ref);

struct TrainingRun {
  RunConfig config;
  DeviceMesh mesh;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<DataParallel> dp;
  std::unique_ptr<TrainStep> step;
  uint64_t tag;
  int64_t ranks = 1;  // data-parallel ranks (dp x cp)
  // train.precision's GEMMs (fp32 or bf16), and the activations kept as the trainer keeps them
  // (saved_activations_for).
  Exec exec;

  // Sets train.global_batch_tokens to `global_micro_batches` micro-batches.
  TrainingRun(const RunConfig& c, DeviceMesh m, int64_t global_micro_batches, uint64_t tag,
              Recompute recompute = Recompute::kNone);

  // Step s's micro-batches for this rank, in order.
  BatchSource source(int64_t s);
  // Forward and backward of step 0's global batch, gradients reduced; no optimizer step.
  // Failure: fatal (a communication error).
  void backward_only();
  // Every parameter's gradient as one process holds it (blocks joined, parallel/shard_spec.h).
  // REQUIRES: ZeRO stage 0 or 1 (whole gradients on every rank).
  std::vector<std::vector<float>> gathered_grads();
  // The losses of `steps` training steps.
  std::vector<double> train(int64_t steps);
};

// The checks every parallel layout passes against one process on the same global batch of
// `global_micro_batches` micro-batches (gtest expectations, reported on failure):
//  - one step's gradients, gathered, within 1e-5 relative per tensor of one process's, and two
//    runs of the layout bitwise equal (REQUIRES: ZeRO stage 0 or 1);
//  - the losses of `steps` steps within 1e-5 for the first `tight_steps` (then 1e-3: top-k
//    routing turns rounding-level differences into another expert choice once scores tie),
//    falling, and two runs bitwise equal. The sanitizer build runs only the first few steps
//    (testkit/sanitizer_build.h) and leaves out the falling check.
// `c.train.recompute` applies to the layout's runs; one process keeps every activation. Each
// returns the layout's first run (for further checks) and the worst difference it measured.
struct Comparison {
  std::unique_ptr<TrainingRun> run;
  double worst = 0;
};
Comparison compare_one_step(const RunConfig& c, Comm& world, int64_t global_micro_batches,
                            uint64_t tag);
Comparison compare_training(const RunConfig& c, Comm& world, int64_t global_micro_batches,
                            uint64_t tag, int64_t steps, size_t tight_steps);

}  // namespace symphony::testkit
