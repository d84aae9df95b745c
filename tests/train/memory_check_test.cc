#include "train/memory_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "kernels/gemm.h"
#include "model/memory_plan.h"
#include "testkit/omp_threads.h"
#include "zero/shard_layout.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kGiB = int64_t(1) << 30;

RunConfig tiny(std::vector<std::string> overrides = {}) {
  Result<RunConfig> r = load_run_config("tiny", overrides);
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r.has_value() ? *r : RunConfig{};
}

HostMemory machine(int64_t available) {
  HostMemory host;
  host.mem_available = available;
  host.mem_total = available;
  return host;
}

// dp ranks of data parallelism at ZeRO `zero`.
ParallelLayout dp_layout(int dp, int zero = 0) {
  ParallelConfig p;
  p.zero_stage = ZeroStage(zero);
  return *ParallelLayout::create(p, dp);
}

TEST(PlanProcessMemory, OneProcessIsTheModelPlan) {
  const RunConfig c = tiny();
  const MemoryPlan plan = plan_training_memory(
      c.model, DType::kF32, {c.train.micro_batch_size, c.train.seq_len}, Recompute::kNone);
  const ProcessMemory m = plan_process_memory(c, dp_layout(1));
  EXPECT_EQ(m.weights, plan.weights);
  EXPECT_EQ(m.grads, plan.grads);
  EXPECT_EQ(m.optimizer, plan.optimizer);
  EXPECT_EQ(m.communication, 0);
  EXPECT_EQ(m.total(), plan.total());
}

TEST(PlanProcessMemory, RanksHoldTheirShardedState) {
  const RunConfig c = tiny({"parallel.zero_stage=3"});
  const ShardedMemory sharded =
      plan_sharded_memory(c.model, ShardPlacement::of(dp_layout(4, 3), 0), ZeroStage::kParameters);
  const ProcessMemory m = plan_process_memory(c, dp_layout(4, 3));
  EXPECT_EQ(m.weights, sharded.weights);
  EXPECT_EQ(m.optimizer, sharded.optimizer);
  EXPECT_LT(m.optimizer, plan_process_memory(tiny(), dp_layout(1)).optimizer);
}

TEST(PlanProcessMemory, PipelineStageHoldsItsLayers) {
  // Each stage of pp = 2 holds its layers: the first the embedding, the last the LM head and the
  // loss chunk; the process plan is the larger of the two.
  const RunConfig c = tiny({"parallel.pp=2", "train.global_batch_tokens=1024"});
  const ParallelLayout layout = *ParallelLayout::create(c.parallel, 2);
  const ProcessMemory first = *plan_stage_memory(c, layout, 0);
  const ProcessMemory last = *plan_stage_memory(c, layout, 1);
  const ProcessMemory one = plan_process_memory(tiny(), dp_layout(1));
  EXPECT_GT(first.weights, 0);
  EXPECT_LT(first.weights, one.weights);
  EXPECT_LT(last.optimizer, one.optimizer);
  EXPECT_EQ(plan_process_memory(c, layout).total(), std::max(first.total(), last.total()));
  // A schedule the step's micro-batches cannot run (interleaving one micro-batch over two
  // stages) is an error naming the schedule, for the plan and for the memory check.
  const RunConfig one_micro_batch = tiny({"parallel.pp=2", "parallel.vpp=2",
                                          "parallel.pp_schedule=\"interleaved\""});
  EXPECT_THAT(plan_stage_memory(one_micro_batch, layout, 0).error().message(),
              HasSubstr("parallel.pp_schedule = \"interleaved\""));
  EXPECT_THAT(check_training_memory(one_micro_batch, 2, 1, machine(kGiB), "").message(),
              HasSubstr("parallel.pp_schedule = \"interleaved\""));
}

TEST(CheckTrainingMemory, PassesWhatFits) {
  EXPECT_TRUE(check_training_memory(tiny(), 1, 1, machine(kGiB), "").is_ok());
  // Unknown memory: nothing to compare with, nothing refused.
  EXPECT_TRUE(check_training_memory(tiny(), 1, 1, HostMemory{}, "").is_ok());
}

TEST(CheckTrainingMemory, RefusesNamingBothFiguresAndTheLargestCategory) {
  const RunConfig c = tiny({"model.max_position_embeddings=65536", "train.seq_len=65536",
                            "train.micro_batch_size=64"});
  const Status s = check_training_memory(c, 1, 1, machine(24 * kGiB), "pass --ignore-memory-check");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  const ProcessMemory m = plan_process_memory(c, dp_layout(1));
  EXPECT_EQ(s.message(),
            fmt::format("train: the run needs {} per process (activations {} the largest) but "
                        "24.0 GiB is available (MemAvailable; cgroup limit none); lower "
                        "train.micro_batch_size or train.seq_len, or set train.recompute = "
                        "\"full\", or pass --ignore-memory-check",
                        format_bytes(m.total()), format_bytes(m.activations)));
  EXPECT_GT(m.activations, m.total() * 9 / 10);
}

TEST(CheckTrainingMemory, StateDominatedRunsAdviseASmallerModel) {
  const RunConfig c = tiny({"model.vocab_size=8388608"});
  const Status s = check_training_memory(c, 1, 1, machine(24 * kGiB), "");
  EXPECT_THAT(s.message(), HasSubstr("(optimizer state "));
  EXPECT_THAT(s.message(), HasSubstr("; train a smaller model (model.num_hidden_layers"));
  EXPECT_THAT(s.message(), HasSubstr("parallel.zero_stage = 3"));
}

TEST(CheckTrainingMemory, CountsEveryProcessOnTheHost) {
  const RunConfig c = tiny();
  const int64_t one = plan_process_memory(c, dp_layout(1)).total();
  EXPECT_TRUE(check_training_memory(c, 1, 1, machine(one * 3), "").is_ok());
  const Status s = check_training_memory(c, 4, 4, machine(one * 3), "");
  ASSERT_FALSE(s.is_ok());
  EXPECT_THAT(s.message(), HasSubstr("per process x 4 processes on this host = "));
}

TEST(CheckTrainingMemory, ReportsLayoutErrors) {
  const RunConfig c = tiny({"parallel.dp=3"});
  EXPECT_THAT(check_training_memory(c, 2, 1, machine(kGiB), "").message(),
              HasSubstr("parallel.dp"));
}

// The bf16 GEMMs' conversion scratch: the largest GEMM's inputs on this thread, and a routed
// expert's largest on each further thread (experts side by side); what reserve_bf16_gemm_scratch
// grows this thread's to. Nothing under "fp32".
TEST(GemmScratchBytes, CountsEveryThreadThatRunsExperts) {
  const testkit::OmpThreads threads(3);
  const RunConfig moe = tiny({"train.precision=bf16"});
  const BatchShape shape{moe.train.micro_batch_size, moe.train.seq_len};
  const int64_t main = cpu::gemm_bf16_scratch_bytes(bf16_gemm_scratch_elems(moe.model, shape));
  const int64_t expert =
      cpu::gemm_bf16_scratch_bytes(bf16_expert_gemm_scratch_elems(moe.model, shape));
  EXPECT_GT(expert, 0);
  EXPECT_LE(expert, main);
  // Not on OpenBLAS's pthreads build, where experts run one at a time.
  EXPECT_EQ(gemm_scratch_bytes(moe), main + (cpu::blas_runs_nested() ? 2 * expert : 0));
  const RunConfig dense = tiny({"train.precision=bf16", "model.num_experts=0"});
  EXPECT_EQ(bf16_expert_gemm_scratch_elems(dense.model, shape), 0);
  EXPECT_EQ(gemm_scratch_bytes(dense),
            cpu::gemm_bf16_scratch_bytes(bf16_gemm_scratch_elems(dense.model, shape)));
  EXPECT_EQ(gemm_scratch_bytes(tiny({"train.precision=fp32"})), 0);
  int64_t held = 0;
  std::thread([&] {
    reserve_bf16_gemm_scratch(moe);
    held = cpu::gemm_bf16_scratch_held_bytes();
  }).join();
  EXPECT_EQ(held, main);
}

}  // namespace
}  // namespace symphony
