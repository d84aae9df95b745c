#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/run_config.h"
#include "model/memory_plan.h"
#include "zero/shard_layout.h"
#include "plan/evaluation.h"

namespace symphony::plan {
namespace {

PlanContext context(const std::string& model, const std::string& cluster, int64_t gpus,
                    int64_t seq_len, int64_t batch_tokens,
                    const std::vector<std::string>& overrides = {}) {
  Result<RunConfig> run = load_run_config(model, overrides);
  EXPECT_TRUE(run.has_value());
  Result<Cluster> c = load_cluster(cluster);
  EXPECT_TRUE(c.has_value());
  PlanContext ctx;
  ctx.cluster = *c;
  ctx.cluster.num_gpus = gpus;
  ctx.eff = default_efficiency(ctx.cluster.accelerator);
  ctx.batch = {seq_len, batch_tokens};
  ctx.model = model_costs(run->model, seq_len);
  return ctx;
}

// dp * tp * pp GPUs.
PlanLayout layout(int64_t dp, int64_t tp, int64_t pp, int64_t ep, int zero) {
  ParallelConfig p;
  p.dp = dp, p.tp = tp, p.pp = pp, p.ep = ep, p.zero_stage = ZeroStage(zero);
  Result<ParallelLayout> parallel = ParallelLayout::create(p, int(dp * tp * pp));
  EXPECT_TRUE(parallel.has_value()) << parallel.error().message();
  PlanLayout l;
  l.parallel = *parallel;
  return l;
}

TEST(MemoryModel, ZeroStagesShardModelState) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 64 * 4096);
  const double n = 64;
  MemoryBreakdown z0 = plan_memory(ctx, layout(64, 1, 1, 1, 0));
  MemoryBreakdown z1 = plan_memory(ctx, layout(64, 1, 1, 1, 1));
  MemoryBreakdown z2 = plan_memory(ctx, layout(64, 1, 1, 1, 2));
  MemoryBreakdown z3 = plan_memory(ctx, layout(64, 1, 1, 1, 3));
  const double params = double(ctx.model.total_params());
  EXPECT_NEAR(z0.weights, 2 * params, 1);
  EXPECT_NEAR(z0.grads, 4 * params, 1);
  EXPECT_NEAR(z0.optimizer, 12 * params, 1);
  EXPECT_NEAR(z1.optimizer, z0.optimizer / n, 1);
  EXPECT_DOUBLE_EQ(z1.grads, z0.grads);
  // ZeRO-2 holds whole the gradients of two units of each replica group, the one accumulating
  // and the one being reduce-scattered: of the dense group its biggest unit (Mixtral's LM head
  // with the final norm), of the expert group a layer's experts.
  const double units =
      2.0 * double(ctx.model.lm_head_params + ctx.model.final_norm_params) +
      2.0 * double(ctx.model.moe.routed_expert_params);
  EXPECT_NEAR(z2.grads, z0.grads / n + 4 * units, 1e3);
  EXPECT_DOUBLE_EQ(z2.weights, z0.weights);
  // ZeRO-3: every state is 1/N, plus those units' gathered bf16 weights and fp32 gradients.
  const double state0 = z0.weights + z0.grads + z0.optimizer;
  const double state3 = z3.weights + z3.grads + z3.optimizer;
  const double gathered = (2.0 + 4.0) * units;
  EXPECT_NEAR(state3, state0 / n + gathered, 1e3);
}

TEST(MemoryModel, ExpertParallelismSplitsOnlyExperts) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 64 * 4096);
  MemoryBreakdown ep1 = plan_memory(ctx, layout(64, 1, 1, 1, 0));
  MemoryBreakdown ep8 = plan_memory(ctx, layout(64, 1, 1, 8, 0));
  const double experts = double(ctx.model.moe.routed_expert_params * ctx.model.num_layers);
  EXPECT_NEAR(ep1.weights - ep8.weights, 2.0 * experts * (1.0 - 1.0 / 8.0), 1);
}

TEST(MemoryModel, Bf16GradientsHalveTheGradientBytes) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 64 * 4096);
  const PlanLayout l = layout(8, 8, 1, 8, 1);
  const MemoryBreakdown fp32 = plan_memory(ctx, l);
  ctx.options.grad_precision = GradPrecision::kBf16;
  const MemoryBreakdown bf16 = plan_memory(ctx, l);
  EXPECT_NEAR(bf16.grads, 0.5 * fp32.grads, 1e-6 * fp32.grads);
  EXPECT_DOUBLE_EQ(bf16.weights, fp32.weights);
  EXPECT_DOUBLE_EQ(bf16.optimizer, fp32.optimizer);
  EXPECT_EQ(state_bytes(Precision::kFp32, GradPrecision::kBf16).grad, 4);  // fp32 stays fp32
}

TEST(MemoryModel, RecomputationAndPipelineInFlight) {
  PlanContext ctx = context("qwen3-235b-a22b", "h100", 256, 4096, 1024 * 4096);
  PlanLayout l = layout(8, 4, 8, 8, 1);
  MemoryBreakdown none = plan_memory(ctx, l);
  l.recompute = Recompute::kSelective;
  MemoryBreakdown selective = plan_memory(ctx, l);
  l.recompute = Recompute::kFull;
  MemoryBreakdown full = plan_memory(ctx, l);
  EXPECT_LT(selective.activations, none.activations);
  EXPECT_LT(full.activations, selective.activations / 4);
  // 1F1B keeps pp micro-batches in flight on the first stage; GPipe all of them.
  l.recompute = Recompute::kNone;
  EXPECT_EQ(none.stage, 0);
  EXPECT_DOUBLE_EQ(none.in_flight_microbatches, 8);
  l.schedule = PipelineSchedule::kGpipe;
  MemoryBreakdown gpipe = plan_memory(ctx, l);
  EXPECT_DOUBLE_EQ(gpipe.in_flight_microbatches, 128);
  EXPECT_GT(gpipe.activations, 10 * none.activations);
  // Interleaving: pp + (pp - 1) / vpp.
  l.schedule = PipelineSchedule::kInterleaved;
  l.vpp = 2;
  EXPECT_DOUBLE_EQ(plan_memory(ctx, l).in_flight_microbatches, 8 + 7.0 / 2.0);
}

TEST(MemoryModel, TensorAndSequenceParallelismSplitActivations) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 8, 4096, 8 * 4096);
  PlanLayout l1 = layout(8, 1, 1, 1, 0), l8 = layout(1, 8, 1, 1, 0);
  EXPECT_NEAR(plan_memory(ctx, l8).activations, plan_memory(ctx, l1).activations / 8, 1);
}

TEST(MemoryModel, ExpertBuffersByCapacityFactorAndDroplessWorstCase) {
  PlanContext ctx = context("kimi-k2-1t", "h100", 256, 4096, 1024 * 4096);  // K 8 of 384
  PlanLayout l = layout(4, 2, 32, 8, 0);
  const double n = 4096.0 / 2, d = 7168;
  ctx.options.moe_overload = 1.5;
  MemoryBreakdown m = plan_memory(ctx, l);
  EXPECT_DOUBLE_EQ(m.moe_buffers, 2.0 * n * 8 * d * 2 * 1.5);
  // All 8 ranks' tokens choosing this GPU's 48 experts: min(K, E/ep) = 8 copies each.
  EXPECT_DOUBLE_EQ(m.moe_buffers_worst_case, 8 * n * 8 * d * 2);
  ctx.model.config.capacity_factor = 1.25;  // a capacity factor replaces the overload
  EXPECT_DOUBLE_EQ(plan_memory(ctx, l).moe_buffers, 2.0 * n * 8 * d * 2 * 1.25);
}

TEST(MemoryModel, RepresentativeStagesCoverEveryStage) {
  PlanContext ctx = context("kimi-k2-1t", "h100", 2048, 4096, 4096 * 4096);  // 1 dense + 60 MoE
  for (int64_t pp : {1, 2, 7, 16, 32, 61}) {
    for (int64_t vpp : {1, 2}) {
      if (pp * vpp > 61) continue;
      PlanLayout l = layout(1, 1, pp, 1, 0);
      l.vpp = vpp;
      const StageSet set = representative_stages(ctx.model, l);
      ASSERT_GE(set.count, 1);
      EXPECT_EQ(set.stages[0], 0);
      for (int64_t s = 0; s < pp; ++s) {
        const StageParams p = stage_params(ctx.model, l, s);
        bool matched = false;
        for (int i = 0; i < set.count; ++i) {
          const StageParams q = stage_params(ctx.model, l, set.stages[i]);
          matched |= p.dense == q.dense && p.expert == q.expert && p.layers == q.layers &&
                     set.stages[i] <= s;
        }
        EXPECT_TRUE(matched) << "pp=" << pp << " vpp=" << vpp << " stage " << s;
      }
    }
  }
}

// The engine's exact accounting of one rank (model/memory_plan.h) against the planner with fp32
// state: one process, and tensor parallelism with sequence parallelism (rank 0 of tp ranks).
TEST(MemoryModel, MatchesTheEngineWithinTenPercent) {
  struct Case {
    const char* model;
    int64_t batch, seq_len;
    Recompute recompute;
    int64_t tp = 1;
    std::vector<std::string> overrides = {};
  };
  const Case cases[] = {
      {"tiny", 4, 256, Recompute::kNone},
      {"tiny", 4, 256, Recompute::kFull},
      {"small", 8, 256, Recompute::kNone},
      {"bench-dense-small", 8, 256, Recompute::kNone},
      {"bench-moe-small", 8, 256, Recompute::kNone},
      {"bench-moe-small", 8, 256, Recompute::kFull},
      {"mixtral-8x7b", 1, 4096, Recompute::kFull},
      {"bench-dense-small", 8, 256, Recompute::kNone, 2},
      {"bench-dense-small", 8, 256, Recompute::kNone, 4},
      {"small", 8, 256, Recompute::kFull, 2},
      // Multi-token prediction: DeepSeek-V3's architecture with one module, and two dense ones.
      {"deepseek-v3-tiny", 4, 64, Recompute::kNone},
      {"deepseek-v3-tiny", 4, 64, Recompute::kFull},
      {"deepseek-v3-tiny", 4, 64, Recompute::kNone, 2},
      {"bench-dense-small", 8, 256, Recompute::kNone, 1, {"model.num_nextn_predict_layers=2"}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(fmt::format("{} {}x{} recompute {} tp {} {}", k.model, k.batch, k.seq_len,
                             recompute_name(k.recompute), k.tp, fmt::join(k.overrides, " ")));
    PlanContext ctx = context(k.model, "h100", k.tp, k.seq_len, k.batch * k.seq_len, k.overrides);
    ctx.options.reserved_bytes = 0;
    ctx.options.fragmentation = 0;
    ctx.options.moe_overload = 1.0;  // the engine's buffers hold what this batch routes
    ctx.options.loss_chunk_tokens =
        Transformer::cross_entropy_chunk_rows(ctx.model.config.vocab_size);
    PlanLayout l = layout(1, k.tp, 1, 1, 0);
    l.mbs = k.batch;
    l.precision = Precision::kFp32;
    l.recompute = k.recompute;
    const MemoryBreakdown planned = plan_memory(ctx, l);
    const MemoryPlan engine =
        plan_training_memory(ctx.model.config, DType::kF32, {k.batch, k.seq_len}, k.recompute,
                             ShardPlacement::of(l.parallel, 0));
    EXPECT_DOUBLE_EQ(planned.weights, double(engine.weights));
    EXPECT_DOUBLE_EQ(planned.grads, double(engine.grads));
    EXPECT_DOUBLE_EQ(planned.optimizer, double(engine.optimizer));
    const double ratio = planned.accounted() / double(engine.total());
    EXPECT_NEAR(ratio, 1.0, 0.10) << "planner " << planned.accounted() << " engine "
                                  << engine.total();
  }
}

// Data and expert parallelism with each ZeRO stage, as the engine runs them (zero/shard_layout.h,
// whose plan_memory is checked byte for byte against the allocation): the planner's weights,
// gradients and optimizer state per rank, fp32, within 10% of the engine's for rank 0.
TEST(MemoryModel, ShardedStateMatchesTheEngineWithinTenPercent) {
  struct Case {
    const char* model;
    int64_t dp, ep, tp = 1;
  };
  const Case cases[] = {
      {"small", 2, 1},           {"small", 4, 1},           {"bench-moe-small", 2, 1},
      {"bench-moe-small", 4, 1}, {"bench-moe-small", 2, 2}, {"bench-moe-small", 4, 2},
      {"bench-moe-small", 4, 4}, {"small", 2, 1, 2},        {"bench-moe-small", 2, 2, 2},
      {"bench-moe-small", 2, 4, 2},
      // One MTP module (a third dense unit buffer at ZeRO-2/3).
      {"deepseek-v3-tiny", 2, 1},  {"deepseek-v3-tiny", 2, 2}, {"deepseek-v3-tiny", 2, 2, 2},
  };
  for (const Case& k : cases) {
    for (int zero = 0; zero <= 3; ++zero) {
      SCOPED_TRACE(fmt::format("{} dp={} tp={} ep={} zero={}", k.model, k.dp, k.tp, k.ep, zero));
      PlanContext ctx = context(k.model, "h100", k.dp * k.tp, 256, 8 * 256 * k.dp);
      ctx.options.reserved_bytes = 0;
      ctx.options.fragmentation = 0;
      PlanLayout l = layout(k.dp, k.tp, 1, k.ep, zero);
      l.mbs = 8;
      l.precision = Precision::kFp32;
      ASSERT_TRUE(check_layout(l, ctx.model, ctx.batch, k.dp * k.tp, 8,
                               TpPlacement::kWithinNode).is_ok());
      const MemoryBreakdown planned = plan_memory(ctx, l);
      const ShardedMemory engine = plan_sharded_memory(
          ctx.model.config, ShardPlacement::of(l.parallel, 0), l.parallel.zero_stage());
      const double state = planned.weights + planned.grads + planned.optimizer;
      const double engine_state = double(engine.weights + engine.grads + engine.optimizer);
      EXPECT_NEAR(state / engine_state, 1.0, 0.10)
          << "planner " << planned.weights << " + " << planned.grads << " + "
          << planned.optimizer << ", engine " << engine.weights << " + " << engine.grads << " + "
          << engine.optimizer;
    }
  }
}

// Pipeline stages with multi-token prediction: the modules, their layers' experts and a copy of
// the embedding sit on the last stage, which the split balanced by FLOPs gives fewer layers. With
// the engine given the planner's layer split, each stage's weights equal the engine's exactly,
// and the accounted bytes of the stage the planner reports (the micro-batches 1F1B keeps in
// flight on that stage) are within 10%.
TEST(MemoryModel, PipelineStagesWithMtpMatchTheEngine) {
  struct Case {
    const char* model;
    std::vector<std::string> overrides;
    int64_t pp, tp;
    Recompute recompute;
  };
  const Case cases[] = {
      {"deepseek-v3-tiny", {}, 2, 1, Recompute::kNone},
      {"deepseek-v3-tiny", {}, 4, 1, Recompute::kNone},
      {"deepseek-v3-tiny", {}, 2, 2, Recompute::kFull},
      {"deepseek-v3-tiny", {"model.num_nextn_predict_layers=2"}, 2, 1, Recompute::kFull},
      {"tiny", {"model.num_nextn_predict_layers=1"}, 2, 1, Recompute::kNone},
      {"tiny", {"model.num_nextn_predict_layers=1", "model.tie_word_embeddings=true"}, 2, 1,
       Recompute::kNone},
  };
  const int64_t batch = 4, seq_len = 64;
  for (const Case& k : cases) {
    SCOPED_TRACE(fmt::format("{} {} pp={} tp={} recompute {}", k.model, fmt::join(k.overrides, " "),
                             k.pp, k.tp, recompute_name(k.recompute)));
    PlanContext ctx =
        context(k.model, "h100", k.pp * k.tp, seq_len, batch * seq_len * 4, k.overrides);
    ctx.options.reserved_bytes = 0;
    ctx.options.fragmentation = 0;
    ctx.options.moe_overload = 1.0;
    ctx.options.loss_chunk_tokens =
        Transformer::cross_entropy_chunk_rows(ctx.model.config.vocab_size);
    PlanLayout l = layout(1, k.tp, k.pp, 1, 0);
    l.mbs = batch;
    l.precision = Precision::kFp32;
    l.recompute = k.recompute;
    ASSERT_TRUE(check_layout(l, ctx.model, ctx.batch, k.pp * k.tp, 8, TpPlacement::kWithinNode)
                    .is_ok());
    std::vector<int64_t> split;
    for (const LayerRange& r : virtual_stage_ranges(ctx.model, l))
      split.push_back(2 * (r.last - r.first));  // in sub-layers
    const MemoryBreakdown planned = plan_memory(ctx, l);
    for (int64_t s = 0; s < k.pp; ++s) {
      SCOPED_TRACE(fmt::format("stage {}", s));
      ShardPlacement placement = ShardPlacement::of(l.parallel, int(s * k.tp));
      ASSERT_EQ(placement.pipeline.stage, s);
      placement.pipeline.sublayers = split;
      placement.pipeline.in_flight = int(k.pp - s);
      const StageParams p = stage_params(ctx.model, l, s);
      const int64_t engine_params = Transformer::param_numel(ctx.model.config, placement);
      EXPECT_DOUBLE_EQ(p.dense + p.expert, double(engine_params));
      if (s == planned.stage) {
        const MemoryPlan engine = plan_training_memory(ctx.model.config, DType::kF32,
                                                       {batch, seq_len}, k.recompute, placement);
        const double ratio = planned.accounted() / double(engine.total());
        EXPECT_NEAR(ratio, 1.0, 0.10)
            << "planner " << planned.accounted() << " engine " << engine.total();
      }
    }
  }
}

}  // namespace
}  // namespace symphony::plan
