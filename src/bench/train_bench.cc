#include "bench/train_bench.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "core/timer.h"
#include "kernels/gemm.h"
#include "model/memory_plan.h"
#include "monitor/flops.h"
#include "parallel/mesh.h"
#include "tensor/memory_stats.h"
#include "train/memory_check.h"
#include "train/model_layout.h"
#include "train/pipeline_report.h"
#include "train/train_step.h"
#include "zero/data_parallel.h"

namespace symphony {
namespace {

int64_t grown(const MemorySnapshot& before, MemoryCategory c) {
  return memory_stats_snapshot().current_bytes[size_t(c)] - before.current_bytes[size_t(c)];
}

// The routed experts' share of this rank's state: their elements in the store, and in the
// shard at ZeRO stages that shard a state.
RankStateBytes expert_share(const DataParallel& dp, const ParamStore& store, RankStateBytes s) {
  int64_t held = 0, owned = 0;
  const ShardLayout& shards = dp.shards();
  for (int u = 0; u < store.num_units(); ++u) {
    if (store.unit(u).replicas != ReplicaGroup::kExpert) continue;
    held += store.unit(u).numel;
    owned += shards.slice(u);
  }
  const int64_t b = 4;
  const ZeroStage z = dp.stage();
  s.expert_weights = (z >= ZeroStage::kParameters ? owned : held) * b;
  s.expert_grads = (z >= ZeroStage::kGradients ? owned : held) * b;
  s.expert_optimizer = 2 * (z >= ZeroStage::kOptimizer ? owned : held) * b;
  return s;
}

}  // namespace

Result<TrainBenchResult> bench_train(const RunConfig& config, const Exec& exec,
                                     int64_t warmup_steps, int64_t timed_steps,
                                     const std::function<void()>& after_step, Comm* world) {
  const TrainConfig& tc = config.train;
  const Exec ex = exec.with_matmul(tc.precision);  // as the trainer runs it
  TrainBenchResult r;
  DeviceMesh mesh = DeviceMesh::single();
  if (world != nullptr && world->size() > 1) {
    SYM_TRY_ASSIGN(const ParallelLayout layout,
                   ParallelLayout::create(config.parallel, world->size()));
    SYM_TRY_ASSIGN(mesh, DeviceMesh::create(layout, *world));
  }
  const ZeroStage zero = mesh.layout().zero_stage();
  r.layout = mesh.layout().describe();
  const MemorySnapshot before = memory_stats_snapshot();
  const int64_t dp_ranks = mesh.replicas(ReplicaGroup::kDense).size();
  SYM_TRY_ASSIGN(const ModelParallel parallel,
                 model_parallel_for(config, mesh, TrainStep::micro_batches_for(tc, dp_ranks)));
  Transformer model(config.model, DType::kF32, {tc.micro_batch_size, tc.seq_len},
                    tc.recompute, DataParallel::residency_for(zero), parallel,
                    saved_activations_for(tc.precision));
  DataParallel dp(zero, mesh, model, config.optim, config.parallel.bucket_mb,
                  config.parallel.grad_dtype);
  r.state.weights = grown(before, MemoryCategory::kWeights);
  r.state.grads = grown(before, MemoryCategory::kGrads);
  r.state.optimizer = grown(before, MemoryCategory::kOptimizer);
  r.state.communication = grown(before, MemoryCategory::kCommunication);
  r.activation_bytes = grown(before, MemoryCategory::kActivations);
  r.state = expert_share(dp, model.params(), r.state);
  dp.init_params(config.model, tc.seed);
  if (ex.matmul == Precision::kBf16 && ex.impl == KernelImpl::kFast)
    reserve_bf16_gemm_scratch(config, parallel.placement);
  TrainStep step(tc, config.optim, model, dp, config.parallel.pp_schedule);
  r.micro_batches = step.micro_batches();
  // Each data rank draws its own tokens (the stages of a pipeline the same ones).
  Rng rng(tc.seed ^ (uint64_t(dp.comm().rank()) << 32));
  std::vector<double> bubbles, analytic, replayed, imbalance;
  const uint64_t vocab = uint64_t(config.model.vocab_size);
  BatchSource random_batch = [&](std::span<int32_t> in, std::span<int32_t> tgt) {
    for (size_t i = 0; i < in.size(); ++i) in[i] = int32_t(rng.next_u64() % vocab);
    for (size_t i = 0; i < tgt.size(); ++i) tgt[i] = int32_t(rng.next_u64() % vocab);
  };
  std::vector<double> times;
  for (int64_t s = 0; s < warmup_steps + timed_steps; ++s) {
    Timer t;
    SYM_TRY_ASSIGN(const StepResult sr, step.run(ex, s, random_batch));
    if (s >= warmup_steps) {
      times.push_back(t.elapsed_s());
      r.exchange.add(sr.exchange);
      r.exposed_grad_comm_s += sr.exposed_comm_s;
      r.tensor_comm.add(sr.tensor_comm);
      if (PipelineStep* pipeline = step.pipeline()) {
        SYM_TRY_ASSIGN(PipelineStepReport report,
                       report_pipeline_step(*pipeline, mesh.group(Axis::kPipeline)));
        bubbles.push_back(report.bubble);
        analytic.push_back(report.analytic_bubble);
        replayed.push_back(report.replayed_bubble);
        imbalance.push_back(report.imbalance);
        r.pipeline_timeline = std::move(report.timeline);
      }
      if (after_step) after_step();
    }
    if (s == 0) r.first_loss = sr.loss;
    r.last_loss = sr.loss;
    r.tokens_per_step = sr.tokens;
  }
  if (!times.empty()) {
    const double n = double(times.size());
    r.exchange.in_flight_s /= n;
    r.exchange.exposed_s /= n;
    r.exposed_grad_comm_s /= n;
    r.tensor_comm.in_flight_s /= n;
    r.tensor_comm.exposed_s /= n;
  }
  r.step_times_s = times;
  if (!bubbles.empty()) {
    std::sort(bubbles.begin(), bubbles.end());
    std::sort(analytic.begin(), analytic.end());
    std::sort(replayed.begin(), replayed.end());
    std::sort(imbalance.begin(), imbalance.end());
    r.pipeline_imbalance = imbalance[imbalance.size() / 2];
    r.pipeline_bubble = bubbles[bubbles.size() / 2];
    r.pipeline_bubble_analytic = analytic[analytic.size() / 2];
    r.pipeline_bubble_replayed = replayed[replayed.size() / 2];
  }
  std::sort(times.begin(), times.end());
  r.step_time_s = times.empty() ? 0 : times[times.size() / 2];
  r.tokens_per_s = r.step_time_s > 0 ? double(r.tokens_per_step) / r.step_time_s : 0;
  r.flops_per_token = training_flops_per_token(config.model, tc.seq_len);
  r.gflops = r.flops_per_token * r.tokens_per_s * 1e-9;
  return r;
}

}  // namespace symphony
