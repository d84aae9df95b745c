#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "monitor/flops.h"
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

PlanLayout parse(const PlanContext& ctx, const char* text) {
  Result<PlanLayout> l = parse_layout(text, ctx.cluster.num_gpus);
  EXPECT_TRUE(l.has_value()) << l.error().message();
  return *l;
}

TEST(StepTime, PipelineBubblePerSchedule) {
  PlanContext ctx = context("qwen3-235b-a22b", "h100", 512, 4096, 1024 * 4096);
  PlanLayout l = parse(ctx, "dp=16,tp=4,pp=8,ep=16,mbs=1,zero=1");  // m = 64
  const TimeBreakdown one = plan_step_time(ctx, l);
  const double tmb = (one.step_s - one.bubble - one.dp_comm - one.optimizer) / 64.0;
  // 1F1B: (pp - 1) micro-batch times.
  EXPECT_NEAR(one.bubble, 7.0 * tmb, 1e-9 * one.step_s);
  l.schedule = PipelineSchedule::kInterleaved;
  l.vpp = 2;
  const TimeBreakdown inter = plan_step_time(ctx, l);
  EXPECT_LT(inter.bubble, one.bubble * 0.6);
  l.schedule = PipelineSchedule::kZeroBubble;
  l.vpp = 1;
  const TimeBreakdown zb = plan_step_time(ctx, l);
  // ZB-H1 fills the bubble with weight-gradient work: (pp - 1)(F + B - W) < (pp - 1)(F + B + W).
  EXPECT_LT(zb.bubble, one.bubble);
  EXPECT_GT(zb.bubble, 0);
  l.schedule = PipelineSchedule::kGpipe;
  EXPECT_DOUBLE_EQ(plan_step_time(ctx, l).step_s, one.step_s);
}

TEST(StepTime, RecomputationCostsAForwardPass) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  PlanLayout l = parse(ctx, "dp=8,tp=8,ep=8,mbs=1");
  const Evaluation none = evaluate(ctx, l);
  l.recompute = Recompute::kFull;
  const Evaluation full = evaluate(ctx, l);
  // One more forward on top of forward + backward (about 2x forward): about a quarter.
  EXPECT_GT(full.time.recompute, 0.20 * full.time.compute);
  EXPECT_LT(full.time.recompute, 0.35 * full.time.compute);
  // MFU counts model FLOPs only, HFU the recomputation too.
  EXPECT_NEAR(full.hfu / full.mfu, 1.0 + 1.0 / 3.0, 0.02);
  EXPECT_DOUBLE_EQ(none.hfu, none.mfu);
  EXPECT_LT(full.tokens_per_s, none.tokens_per_s);
}

TEST(StepTime, DataParallelOverlapHidesGradientReduction) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 256, 4096, 512 * 4096);
  PlanLayout l = parse(ctx, "dp=32,tp=8,ep=8,mbs=1");
  const double hidden = plan_step_time(ctx, l).dp_comm;
  ctx.options.dp_overlap = 0;
  const double exposed = plan_step_time(ctx, l).dp_comm;
  EXPECT_GT(exposed, 0);
  EXPECT_LT(hidden, exposed);
}

TEST(StepTime, ExpertAllToAllCrossesNodesWhenEpDoes) {
  PlanContext ctx = context("qwen3-30b-a3b", "h100", 64, 4096, 256 * 4096);
  const TimeBreakdown in_node = plan_step_time(ctx, parse(ctx, "dp=64,ep=8"));
  const TimeBreakdown across = plan_step_time(ctx, parse(ctx, "dp=64,ep=64"));
  EXPECT_EQ(in_node.ep_comm_inter, 0);
  EXPECT_GT(in_node.ep_comm_intra, 0);
  EXPECT_GT(across.ep_comm_inter, across.ep_comm_intra);
  EXPECT_GT(across.ep_comm, in_node.ep_comm);
}

// The chunked exchange hides at most the part of the all-to-all its computation covers: less is
// exposed than with no overlap, and at least the last combine of each direction (a quarter of
// the forward and backward transfers).
TEST(StepTime, ChunkedExchangeHidesPartOfTheAllToAll) {
  PlanContext ctx = context("qwen3-30b-a3b", "h100", 64, 4096, 256 * 4096);
  ctx.options.ep_overlap = ExpertOverlap::kNone;
  const TimeBreakdown exposed = plan_step_time(ctx, parse(ctx, "dp=64,ep=8"));
  ctx.options.ep_overlap = ExpertOverlap::kChunked;
  const TimeBreakdown chunked = plan_step_time(ctx, parse(ctx, "dp=64,ep=8"));
  EXPECT_LT(chunked.ep_comm, exposed.ep_comm);
  EXPECT_GE(chunked.ep_comm, 0.25 * exposed.ep_comm * (1 - 1e-9));
  EXPECT_LT(chunked.step_s, exposed.step_s);
}

TEST(StepTime, ThroughputEnergyAndCostFollowFromStepTime) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  ctx.options.train_tokens = 1'000'000'000'000;
  const Evaluation e = evaluate(ctx, parse(ctx, "dp=8,tp=8,ep=8,mbs=1,recompute=full"));
  EXPECT_NEAR(e.tokens_per_s, 256.0 * 4096 / e.time.step_s, 1e-6 * e.tokens_per_s);
  const double seconds = 1e12 / e.tokens_per_s;
  EXPECT_NEAR(e.gpu_hours, 64 * seconds / 3600, 1e-6 * e.gpu_hours);
  EXPECT_NEAR(e.energy_mwh, e.gpu_hours * 1275 * 1.2 / 1e6, 1e-6 * e.energy_mwh);
  EXPECT_NEAR(e.rental_usd, 2.0 * e.gpu_hours, 1e-6 * e.rental_usd);
  EXPECT_GT(e.mfu, 0.05);
  EXPECT_LT(e.mfu, 0.75);
  ctx.cluster.pue = 1.5;
  EXPECT_NEAR(evaluate(ctx, e.layout).energy_mwh / e.energy_mwh, 1.5 / 1.2, 1e-9);
}

TEST(StepTime, MoreGpusShortenTheStep) {
  PlanContext small = context("qwen3-235b-a22b", "h100", 256, 4096, 1024 * 4096);
  PlanContext large = context("qwen3-235b-a22b", "h100", 1024, 4096, 1024 * 4096);
  const double t256 = plan_step_time(small, parse(small, "dp=8,tp=4,pp=8,ep=8,zero=1")).step_s;
  const double t1024 = plan_step_time(large, parse(large, "dp=32,tp=4,pp=8,ep=8,zero=1")).step_s;
  EXPECT_LT(t1024, t256 / 2.5);
}

// DeepSeek-V3's MTP module runs on the last pipeline stage: without a pipeline it adds its share
// of the FLOPs to every GPU's step; with one, the split balanced by FLOPs gives the last stage
// no more layers, and the pipeline, at the pace of its slowest stage, slows by no more than the
// FLOPs grew. Its FLOPs count in MFU, as the engine's.
TEST(StepTime, MtpModulesRunOnTheLastStage) {
  const int64_t gpus = 256, tokens = 1024 * 4096;
  PlanContext with = context("deepseek-v3-671b", "h800", gpus, 4096, tokens);
  PlanContext without =
      context("deepseek-v3-671b", "h800", gpus, 4096, tokens, {"model.num_nextn_predict_layers=0"});
  ASSERT_EQ(with.model.num_mtp_modules, 1);
  const double flops_ratio =
      with.model.model_flops_per_token() / without.model.model_flops_per_token();
  EXPECT_GT(flops_ratio, 1.02);
  EXPECT_LT(flops_ratio, 1.06);
  for (const char* text :
       {"dp=256,ep=64,zero=1,recompute=full", "dp=16,pp=16,ep=16,zero=1,recompute=full"}) {
    SCOPED_TRACE(text);
    const PlanLayout l = parse(with, text);
    const Evaluation a = evaluate(with, l), b = evaluate(without, l);
    EXPECT_GE(a.time.step_s, b.time.step_s);
    EXPECT_GE(a.time.compute, b.time.compute);
    // MFU's numerator is the engine's model FLOPs, the module's included.
    EXPECT_NEAR(a.model_tflops_per_gpu * 1e12 * a.time.step_s * double(gpus),
                training_flops_per_token(with.model.config, 4096) * double(tokens),
                1e-9 * a.model_tflops_per_gpu * 1e12 * a.time.step_s * double(gpus));
    // HFU: the recomputed forward of every layer, the module's too.
    const double layers = with.model.sum_layers(0, with.model.num_layers,
                                                [](const LayerCosts& c) { return c.fwd_flops(); }) +
                          with.model.mtp_layer().fwd_flops();
    const double hardware = a.model_tflops_per_gpu +
                            layers * double(tokens) / a.time.step_s / double(gpus) / 1e12;
    EXPECT_NEAR(a.hardware_tflops_per_gpu, hardware, 1e-9 * hardware);
    if (l.pp() == 1) {
      // Every GPU runs the module on its tokens: the step grows about as the FLOPs.
      EXPECT_NEAR(a.time.step_s / b.time.step_s, flops_ratio, 0.03);
      EXPECT_GT(a.time.step_s, b.time.step_s);
    } else {
      // Only the last stage runs it, with no more layers than without it.
      EXPECT_LE(layers_in_stage(with.model, l, l.pp() - 1),
                layers_in_stage(without.model, l, l.pp() - 1));
      EXPECT_LE(a.time.step_s / b.time.step_s, flops_ratio);
    }
  }
}

TEST(StepTime, Fp8RecipeSetsTheGemmRate) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  PlanLayout l = parse(ctx, "dp=8,tp=8,ep=8,mbs=1,precision=fp8");
  const TimeBreakdown tensorwise = plan_step_time(ctx, l);
  ctx.options.fp8_recipe = Fp8Recipe::kBlockwise;
  const TimeBreakdown blockwise = plan_step_time(ctx, l);
  EXPECT_GT(blockwise.compute, tensorwise.compute);  // Hopper scales blocks outside the MMAs
  // Blackwell's tensor cores apply block scales: MX runs at the tensorwise rate.
  PlanContext b = context("mixtral-8x7b", "b200", 64, 4096, 256 * 4096);
  const PlanLayout lb = parse(b, "dp=8,tp=8,ep=8,mbs=1,precision=fp8");
  const double cs = plan_step_time(b, lb).compute;
  b.options.fp8_recipe = Fp8Recipe::kMx;
  EXPECT_DOUBLE_EQ(plan_step_time(b, lb).compute, cs);
  // bf16 on the same layout is slower than either.
  l.precision = Precision::kBf16;
  EXPECT_GT(plan_step_time(ctx, l).compute, tensorwise.compute);
}

TEST(StepTime, PowerCapSlowsComputeNotMemoryAndDrawsLess) {
  PlanContext full = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  PlanContext capped = context("mixtral-8x7b", "h100-500w", 64, 4096, 256 * 4096);
  const PlanLayout l = parse(full, "dp=8,tp=8,ep=8,mbs=1");
  const Evaluation a = evaluate(full, l), b = evaluate(capped, l);
  EXPECT_GT(b.time.compute, a.time.compute);
  // At most the clock ratio slower: memory-bound work keeps its speed.
  EXPECT_LE(b.time.compute / a.time.compute, 1.0 / std::cbrt(500.0 / 700.0) + 1e-9);
  EXPECT_DOUBLE_EQ(b.time.optimizer, a.time.optimizer);  // streams memory only
  // Energy per hour: the server less the 200 W the cap saves.
  EXPECT_NEAR(b.energy_mwh / b.gpu_hours, (1275.0 - 200.0) * 1.2 / 1e6, 1e-12);
}

TEST(StepTime, MoeImbalanceSlowsTheBusiestGpu) {
  PlanContext ctx = context("qwen3-30b-a3b", "h100", 64, 4096, 256 * 4096);
  const PlanLayout l = parse(ctx, "dp=64,ep=8");
  // Without host time per expert, which hides more rows as long as the experts are host bound.
  ctx.options.moe_expert_overhead_s = 0;
  const TimeBreakdown balanced = plan_step_time(ctx, l);
  ctx.options.moe_imbalance = 1.3;
  const TimeBreakdown skewed = plan_step_time(ctx, l);
  EXPECT_GT(skewed.compute, balanced.compute);
  EXPECT_GT(skewed.ep_comm_intra, balanced.ep_comm_intra * 1.29);
  EXPECT_GT(skewed.step_s, balanced.step_s);
}

// Expert parallelism gathers more rows on each expert: with ep = 1 each of Qwen3-30B-A3B's 128
// experts multiplies 4096 * 8 / 128 = 256 rows per micro-batch and streams its weights and fp32
// weight gradients for them; with ep = 8 it multiplies 2048, and the same routed FLOPs run at the
// full GEMM rate.
TEST(StepTime, ExpertGemmsSlowDownWithFewRowsPerExpert) {
  PlanContext ctx = context("qwen3-30b-a3b", "h100", 8, 4096, 64 * 4096);
  const TimeBreakdown ep1 = plan_step_time(ctx, parse(ctx, "dp=8,ep=1,mbs=1"));
  const TimeBreakdown ep8 = plan_step_time(ctx, parse(ctx, "dp=8,ep=8,mbs=1"));
  EXPECT_DOUBLE_EQ(ep1.expert_rows, 256.0);
  EXPECT_DOUBLE_EQ(ep8.expert_rows, 2048.0);
  EXPECT_LT(ep1.expert_gemm_rate, 1.0);
  EXPECT_DOUBLE_EQ(ep8.expert_gemm_rate, 1.0);
  EXPECT_GT(ep1.expert_gemm, 1.5 * ep8.expert_gemm);
  EXPECT_LT(ep1.expert_gemm, ep1.compute);
  // Larger micro-batches give each expert more rows.
  const TimeBreakdown mbs4 = plan_step_time(ctx, parse(ctx, "dp=8,ep=1,mbs=4"));
  EXPECT_DOUBLE_EQ(mbs4.expert_rows, 1024.0);
  EXPECT_GT(mbs4.expert_gemm_rate, ep1.expert_gemm_rate);
  EXPECT_LT(mbs4.expert_gemm, ep1.expert_gemm);
  // A dense model has no expert GEMMs.
  PlanContext dense = context("bench-dense-small", "h100", 8, 256, 64 * 256);
  EXPECT_EQ(plan_step_time(dense, parse(dense, "dp=8")).expert_gemm, 0.0);
}

// Host time per local expert: every MoE layer of every micro-batch issues each expert the GPU
// holds, a third of the host time with each pass, while the GPU runs the experts issued before.
// A pass whose host time exceeds its expert GEMMs takes the host time (the excess is exposed, and
// halves with the local experts when ep doubles); one whose GEMMs take longer hides it.
TEST(StepTime, ExpertHostTimeIsExposedOnlyBeyondTheExpertGemms) {
  PlanContext ctx = context("qwen3-30b-a3b", "h100", 8, 4096, 64 * 4096);
  const PlanLayout ep4 = parse(ctx, "dp=8,ep=4,mbs=1"), ep8 = parse(ctx, "dp=8,ep=8,mbs=1");
  // The default is the fitted host time (docs/plan.md); 0 models one grouped kernel per pass.
  EXPECT_DOUBLE_EQ(ctx.options.moe_expert_overhead_s, 380e-6);
  ctx.options.moe_expert_overhead_s = 0;
  const TimeBreakdown without = plan_step_time(ctx, ep8);
  EXPECT_EQ(without.expert_overhead, 0.0);
  // Host-bound: 8 micro-batches per GPU, 48 MoE layers, 32 and 16 experts per GPU, every pass
  // taking its host time.
  ctx.options.moe_expert_overhead_s = 2000e-6;
  const TimeBreakdown a = plan_step_time(ctx, ep4), b = plan_step_time(ctx, ep8);
  EXPECT_GT(a.expert_overhead, 0.0);
  EXPECT_NEAR(a.expert_gemm + a.expert_overhead, 8.0 * 48.0 * 32.0 * 2000e-6, 1e-9);
  EXPECT_NEAR(b.expert_gemm + b.expert_overhead, 8.0 * 48.0 * 16.0 * 2000e-6, 1e-9);
  EXPECT_NEAR(b.compute - without.compute, b.expert_overhead, 1e-9);
  EXPECT_GT(b.step_s, without.step_s);
  // GEMM-bound: 1 us per expert hides behind the expert GEMMs of every pass.
  ctx.options.moe_expert_overhead_s = 1e-6;
  const TimeBreakdown hidden = plan_step_time(ctx, ep8);
  EXPECT_EQ(hidden.expert_overhead, 0.0);
  EXPECT_DOUBLE_EQ(hidden.step_s, without.step_s);
  // In between, larger micro-batches give the GEMMs more rows to hide the same host time behind:
  // the exposed host time per micro-batch shrinks.
  // 1.5 x one expert's GEMMs over its three passes: a pass's host time 1.5 x the mean pass.
  const double u = 1.5 * b.expert_gemm / (8.0 * 48.0 * 16.0);
  ctx.options.moe_expert_overhead_s = u;
  const TimeBreakdown mbs1 = plan_step_time(ctx, ep8);
  const TimeBreakdown mbs2 = plan_step_time(ctx, parse(ctx, "dp=8,ep=8,mbs=2"));
  EXPECT_GT(mbs1.expert_overhead, 0.0);
  EXPECT_LT(mbs2.expert_overhead / 4.0, mbs1.expert_overhead / 8.0);
  // A backward that issues each expert's input- and weight-gradient GEMMs together hides the
  // host time behind both; ZB-H1 runs them as separate passes, each hiding its own share only.
  // With 256 rows per expert (ep = 1) the weight-gradient pass, streaming every expert's fp32
  // gradients, is memory bound and longer than the input-gradient pass. For a host time between
  // the two, it is hidden together but partly exposed apart.
  PlanContext pp_ctx = context("qwen3-30b-a3b", "h100", 16, 4096, 64 * 4096);
  const PlanLayout one_f_one_b = parse(pp_ctx, "dp=8,pp=2,ep=1,mbs=1");
  const PlanLayout zb = parse(pp_ctx, "dp=8,pp=2,ep=1,mbs=1,schedule=zb-h1");
  pp_ctx.options.moe_expert_overhead_s = 0;
  // 8 micro-batches, 24 MoE layers on the busier stage, 128 experts per GPU.
  const double per_expert = plan_step_time(pp_ctx, zb).expert_gemm / (8.0 * 24.0 * 128.0);
  int more_apart = 0;
  for (double f = 0.1; f <= 2.0; f += 0.1) {
    pp_ctx.options.moe_expert_overhead_s = f * per_expert;
    const TimeBreakdown together = plan_step_time(pp_ctx, one_f_one_b);
    const TimeBreakdown apart = plan_step_time(pp_ctx, zb);
    EXPECT_DOUBLE_EQ(together.expert_gemm, apart.expert_gemm);
    EXPECT_GE(apart.expert_overhead, together.expert_overhead * (1.0 - 1e-12));
    more_apart += apart.expert_overhead > together.expert_overhead * (1.0 + 1e-9);
  }
  EXPECT_GT(more_apart, 0);
}

// Paired micro-batches (Megatron-Core's all-to-all overlap) hide each direction's exchange behind
// the other direction's computation, as DualPipe does: less exposed than the two-chunk exchange or
// none, and nothing exposed where the computation is longer than the exchange.
TEST(StepTime, PairedMicroBatchesHideTheExpertExchange) {
  PlanContext ctx = context("qwen3-235b-a22b", "h100", 256, 4096, 512 * 4096);
  // Without host time per expert, whose exposure also depends on the weight gradients running
  // apart (they do with paired micro-batches).
  ctx.options.moe_expert_overhead_s = 0;
  const PlanLayout l = parse(ctx, "dp=32,pp=8,ep=32,mbs=1");
  ctx.options.ep_overlap = ExpertOverlap::kNone;
  const TimeBreakdown none = plan_step_time(ctx, l);
  ctx.options.ep_overlap = ExpertOverlap::kChunked;
  const TimeBreakdown chunked = plan_step_time(ctx, l);
  ctx.options.ep_overlap = ExpertOverlap::kPaired;
  const TimeBreakdown paired = plan_step_time(ctx, l);
  EXPECT_GT(none.ep_comm, 0.0);
  EXPECT_LT(chunked.ep_comm, none.ep_comm);
  EXPECT_LT(paired.ep_comm, chunked.ep_comm);
  EXPECT_LT(paired.step_s, none.step_s);
  // The exchange before overlap and the computation do not change.
  EXPECT_DOUBLE_EQ(paired.ep_comm_inter, none.ep_comm_inter);
  EXPECT_DOUBLE_EQ(paired.compute, none.compute);
  // Within one node the exchange is shorter than either direction's computation: all hidden
  // without a pipeline; with one, the first stage's warm-up forwards and cool-down backwards
  // (7 of 16 micro-batches at pp = 8) have no partner and expose theirs.
  PlanContext flat = context("qwen3-235b-a22b", "h100", 64, 4096, 512 * 4096);
  flat.options.moe_expert_overhead_s = 0;
  flat.options.ep_overlap = ExpertOverlap::kPaired;
  EXPECT_EQ(plan_step_time(flat, parse(flat, "dp=8,tp=8,ep=8,mbs=1")).ep_comm, 0.0);
  const PlanLayout within_node = parse(ctx, "dp=32,pp=8,ep=8,mbs=1");
  ASSERT_EQ(num_microbatches(within_node, ctx.batch), 16);
  const TimeBreakdown within = plan_step_time(ctx, within_node);
  ctx.options.ep_overlap = ExpertOverlap::kNone;
  const TimeBreakdown within_none = plan_step_time(ctx, within_node);
  ctx.options.ep_overlap = ExpertOverlap::kPaired;
  EXPECT_GT(within.ep_comm, 0.0);
  EXPECT_LT(within.ep_comm, 7.0 / 16.0 * within_none.ep_comm * (1.0 + 1e-12));
  // Nothing to pair with: GPipe runs all forwards before the backwards, and one micro-batch has
  // no other. Both expose the exchange as without overlap.
  const PlanLayout gpipe = parse(ctx, "dp=32,pp=8,ep=32,mbs=1,schedule=gpipe");
  const TimeBreakdown gpipe_paired = plan_step_time(ctx, gpipe);
  ctx.options.ep_overlap = ExpertOverlap::kNone;
  EXPECT_DOUBLE_EQ(gpipe_paired.ep_comm, plan_step_time(ctx, gpipe).ep_comm);
  PlanContext one = context("qwen3-235b-a22b", "h100", 256, 4096, 8 * 4096);
  one.options.moe_expert_overhead_s = 0;
  const PlanLayout single = parse(one, "dp=8,pp=4,tp=8,ep=8,mbs=1");
  ASSERT_EQ(num_microbatches(single, one.batch), 1);
  one.options.ep_overlap = ExpertOverlap::kPaired;
  const TimeBreakdown single_paired = plan_step_time(one, single);
  one.options.ep_overlap = ExpertOverlap::kNone;
  EXPECT_DOUBLE_EQ(single_paired.ep_comm, plan_step_time(one, single).ep_comm);
}

// Symphony's two-chunk exchange hides the backward's exchange behind the experts' backward
// GEMMs; under ZB-H1 the weight gradients run in a later pass and only the input gradients
// cover it.
TEST(StepTime, ZeroBubbleCoversTheExchangeWithInputGradientsOnly) {
  PlanContext ctx = context("qwen3-235b-a22b", "h100", 256, 4096, 512 * 4096);
  ctx.options.moe_expert_overhead_s = 0;
  ctx.options.ep_overlap = ExpertOverlap::kChunked;
  const TimeBreakdown one_f_one_b = plan_step_time(ctx, parse(ctx, "dp=32,pp=8,ep=32,mbs=1"));
  const TimeBreakdown zb =
      plan_step_time(ctx, parse(ctx, "dp=32,pp=8,ep=32,mbs=1,schedule=zb-h1"));
  EXPECT_DOUBLE_EQ(zb.ep_comm_inter, one_f_one_b.ep_comm_inter);
  EXPECT_GT(zb.ep_comm, one_f_one_b.ep_comm);
}

// A node-deduplicated dispatch (DeepEP) sends a token once per remote node: the inter-node part
// of an expert group over 4 nodes shrinks by remote nodes per token / (k (N-1)/N); a group within
// one node is unchanged.
TEST(StepTime, NodeDedupDispatchShrinksTheInterNodePart) {
  PlanContext ctx = context("qwen3-235b-a22b", "h100", 256, 4096, 512 * 4096);
  ctx.options.ep_overlap = ExpertOverlap::kNone;
  const PlanLayout across = parse(ctx, "dp=32,pp=8,ep=32,mbs=1");
  const PlanLayout within = parse(ctx, "dp=32,pp=8,ep=8,mbs=1");
  const TimeBreakdown a = plan_step_time(ctx, across), w = plan_step_time(ctx, within);
  ctx.options.ep_dispatch = ExpertDispatch::kNodeDedup;
  const TimeBreakdown da = plan_step_time(ctx, across), dw = plan_step_time(ctx, within);
  const ModelConfig& c = ctx.model.config;
  const double ratio = remote_nodes_per_token(c, 4) / (double(c.num_experts_per_tok) * 0.75);
  EXPECT_LT(ratio, 0.5);
  EXPECT_NEAR(da.ep_comm_inter, ratio * a.ep_comm_inter, 1e-9 * a.ep_comm_inter);
  EXPECT_GT(da.ep_comm_intra, a.ep_comm_intra);  // forwarded inside the node
  EXPECT_LT(da.ep_comm, a.ep_comm);
  EXPECT_LT(da.step_s, a.step_s);
  EXPECT_EQ(w.ep_comm_inter, 0.0);
  EXPECT_DOUBLE_EQ(dw.ep_comm, w.ep_comm);
  EXPECT_DOUBLE_EQ(dw.step_s, w.step_s);
}

// Parallel attention and MLP share one gather and one reduce-scatter per layer.
TEST(StepTime, ParallelBlocksHalveTensorParallelTraffic) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  ctx.options.tp_overlap = 0;
  const PlanLayout l = parse(ctx, "dp=8,tp=8,ep=8,mbs=1");
  const double sequential = plan_step_time(ctx, l).tp_comm;
  ModelConfig c = ctx.model.config;
  c.parallel_attn = true;
  ctx.model = model_costs(c, 4096);
  EXPECT_NEAR(plan_step_time(ctx, l).tp_comm, 0.5 * sequential, 1e-9 * sequential);
}

// Multi-query attention under tp = 8: every rank computes the one K and V head in full.
TEST(StepTime, ReplicatedKvHeadsAreComputedOnEveryRank) {
  PlanContext ctx = context("mixtral-8x7b", "h100", 64, 4096, 256 * 4096);
  const PlanLayout l = parse(ctx, "dp=8,tp=8,ep=8,mbs=1");
  ModelConfig c = ctx.model.config;
  c.num_key_value_heads = 1;
  ctx.model = model_costs(c, 4096);
  const double mqa = plan_step_time(ctx, l).compute;
  // The same FLOPs split 8 ways would be cheaper.
  ctx.model.dense.kv_proj_flops = 0;
  ctx.model.moe.kv_proj_flops = 0;
  EXPECT_GT(mqa, plan_step_time(ctx, l).compute);
}

}  // namespace
}  // namespace symphony::plan
