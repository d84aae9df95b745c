// Pipeline parallelism trains like one process. Under mpirun -np {2,4} each layout (pp2 and pp4
// under GPipe, 1F1B, interleaved 1F1B and ZB-H1; pp2 x dp2 with ZeRO-1 and ZeRO-3; pp2 x tp2;
// pp2 x ep2 under each schedule, where every micro-batch in flight keeps its own expert exchange
// plan; pp2 x etp2; pp2 x tp2 x ep2; tied embeddings, whose LM head on the last stage is a copy
// of the first stage's embedding; full recomputation; an uneven split; multi-head latent
// attention under 1F1B, ZB-H1 and with tp2; multi-token prediction, whose modules on the last
// stage read a copy of the first stage's embedding, tied or not) is checked against one
// process running the same global batch from the same weights:
//   - one step's gradients within 1e-5 relative per tensor (each stage compares the tensors it
//     holds, by name);
//   - the losses of a 30-step run within 1e-5 for the first 16 steps (then 1e-3: top-k routing
//     turns rounding-level differences into another expert choice once scores tie), falling;
//   - the same layout run twice gives bitwise the same losses and gradients;
//   - MoE balance terms: the aux, sequence-wise and z losses summed over the stages equal one
//     process's, with softmax and with the published DeepSeek-V3 routing.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "kernels/gemm.h"
#include "model/memory_plan.h"
#include "parallel/comm.h"
#include "tensor/memory_stats.h"
#include "testkit/mpi_world.h"
#include "testkit/parallel_run.h"
#include "train/model_layout.h"
#include "train/pipeline_report.h"
#include "train/pipeline_step.h"

namespace symphony {
namespace {

constexpr int64_t kSteps = 30;
constexpr size_t kTightSteps = 16;
constexpr int64_t kMicroBatches = 4;  // per pipeline per step
const uint64_t kTag = key_for(14, "pp-test");

struct Layout {
  const char* name;
  int ranks;  // world size it runs on
  int pp;
  PipelineSchedule schedule = PipelineSchedule::k1F1B;
  int vpp = 1;
  int tp = 1;
  int ep = 1;
  int etp = 1;
  int zero = 0;
  bool dense = false;     // model.num_experts = 0
  bool tied = false;      // model.tie_word_embeddings = true
  bool recompute = false;  // train.recompute = "full"
  bool mla = false;       // multi-head latent attention (model.kv_lora_rank > 0)
  int mtp = 0;             // model.num_nextn_predict_layers
  int layers = 4;
  std::vector<double> split = {};  // parallel.pp_layers
  double head_share = 0;   // parallel.pp_head_share
  bool published = false;  // testkit::published_architecture_overrides()
};

std::string layout_name(const testing::TestParamInfo<Layout>& info) { return info.param.name; }

RunConfig config_for(const Layout& layout) {
  std::vector<std::string> overrides = {"train.seq_len=32", "train.micro_batch_size=2",
                                        "optim.warmup_steps=4", "optim.lr=1e-3",
                                        "model.router_z_loss_coef=0.001"};
  if (layout.dense) overrides.push_back("model.num_experts=0");
  if (layout.tied) overrides.push_back("model.tie_word_embeddings=true");
  if (layout.mla)
    overrides.insert(overrides.end(), {"model.qk_norm=false", "model.q_lora_rank=48", "model.kv_lora_rank=32",
                                       "model.qk_rope_head_dim=8", "model.qk_nope_head_dim=16",
                                       "model.v_head_dim=24"});
  overrides.push_back("model.num_hidden_layers=" + std::to_string(layout.layers));
  if (layout.published) {
    for (const std::string& o : testkit::published_architecture_overrides())
      overrides.push_back(o);
  }
  overrides.push_back("model.num_nextn_predict_layers=" + std::to_string(layout.mtp));
  auto c = load_run_config("tiny", overrides);
  SYM_CHECK(c.has_value(), "{}", c.error().message());
  c->parallel.pp = layout.pp;
  c->parallel.pp_schedule = layout.schedule;
  c->parallel.vpp = layout.vpp;
  c->parallel.tp = layout.tp;
  c->parallel.ep = layout.ep;
  c->parallel.etp = layout.etp;
  c->parallel.pp_layers = layout.split;
  c->parallel.pp_head_share = layout.head_share;
  c->parallel.zero_stage = ZeroStage(layout.zero);
  c->train.steps = kSteps;
  if (layout.recompute) c->train.recompute = Recompute::kFull;
  const Status valid = validate(*c);
  SYM_CHECK(valid.is_ok(), "{}", valid.message());
  return *c;
}

int64_t global_micro_batches(const RunConfig& c, Comm& world) {
  return kMicroBatches * world.size() / (c.parallel.pp * c.parallel.tp);
}

class PipelineParallelTest : public testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    if (testkit::world().size() != GetParam().ranks)
      GTEST_SKIP() << GetParam().name << " runs on " << GetParam().ranks << " ranks";
  }
};

TEST_P(PipelineParallelTest, OneStepsGradientsMatchOneProcess) {
  const Layout& layout = GetParam();
  if (layout.zero >= 2) GTEST_SKIP() << "gradients are sharded at ZeRO " << layout.zero;
  Comm& world = testkit::world();
  const RunConfig c = config_for(layout);
  const testkit::Comparison r =
      testkit::compare_one_step(c, world, global_micro_batches(c, world), kTag);
  double worst = r.worst;
  ASSERT_TRUE(world.all_reduce(std::span(&worst, 1), ReduceOp::kMax).is_ok());
  if (world.rank() == 0)
    std::printf("  %s: worst relative gradient difference %.2e\n", layout.name, worst);
}

TEST_P(PipelineParallelTest, TrainsLikeOneProcessAndIsBitwiseRepeatable) {
  const Layout& layout = GetParam();
  Comm& world = testkit::world();
  const RunConfig c = config_for(layout);
  const testkit::Comparison r = testkit::compare_training(
      c, world, global_micro_batches(c, world), kTag, kSteps, kTightSteps);
  if (world.rank() == 0)
    std::printf("  %s: worst relative loss difference %.2e over the first %zu steps\n",
                layout.name, r.worst, kTightSteps);
}

// The memory plan (model/memory_plan.h, used by --dry-run) equals what each stage allocates for
// the model and the pipeline runner's staging, weights and activations exactly, with and without
// full recomputation, with activations kept in fp32 and (bf16 GEMMs) in bf16.
TEST_P(PipelineParallelTest, MemoryPlanMatchesTheStagesAllocation) {
  const Layout& layout = GetParam();
  Comm& world = testkit::world();
  const RunConfig c = config_for(layout);
  DeviceMesh mesh = testkit::mesh_for(c, world);
  const int64_t micro_batches = kMicroBatches;
  const Result<ModelParallel> parallel = model_parallel_for(c, mesh, micro_batches);
  ASSERT_TRUE(parallel.has_value()) << parallel.error().message();
  const BatchShape shape{c.train.micro_batch_size, c.train.seq_len};
  for (Precision saved : {Precision::kFp32, Precision::kBf16})
  for (Recompute recompute : {Recompute::kNone, Recompute::kFull}) {
    SCOPED_TRACE(fmt::format("{} recomputation, saved in {}",
                             recompute == Recompute::kFull ? "full" : "no", precision_name(saved)));
    // The bf16 GEMMs' conversion scratch, which the trainer reserves (not the model's memory).
    if (saved == Precision::kBf16) {
      cpu::gemm_bf16_reserve(bf16_gemm_scratch_elems(c.model, shape, parallel->placement,
                                                     c.parallel.sequence_parallel));
      cpu::gemm_bf16_reserve_workers(
          bf16_expert_gemm_scratch_elems(c.model, shape, parallel->placement));
    }
    const MemorySnapshot before = memory_stats_snapshot();
    auto grown = [&](MemoryCategory category) {
      return memory_stats_snapshot().current_bytes[size_t(category)] -
             before.current_bytes[size_t(category)];
    };
    Transformer model(c.model, DType::kF32, shape, recompute, {}, *parallel, saved);
    PipelineStep runner(model, nullptr, mesh.group(Axis::kPipeline), c.parallel.pp_schedule,
                        int(micro_batches), shape);
    const MemoryPlan plan =
        plan_training_memory(c.model, DType::kF32, shape, recompute, parallel->placement,
                             c.parallel.sequence_parallel, saved);
    EXPECT_EQ(grown(MemoryCategory::kWeights), plan.weights);
    EXPECT_EQ(grown(MemoryCategory::kActivations), plan.activations);
    // A step allocates nothing more: zero-bubble schedules' weight-gradient passes fit the
    // arenas reserved for them (model/memory_plan.h weight_grad_pass_elems).
    std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(micro_batches));
    std::vector<std::vector<int32_t>> targets(tokens.size());
    Rng rng(17);
    for (size_t mb = 0; mb < tokens.size(); ++mb)
      for (int64_t i = 0; i < shape.rows(); ++i) {
        tokens[mb].push_back(int32_t(rng.next_u64() % uint64_t(c.model.vocab_size)));
        targets[mb].push_back(int32_t(rng.next_u64() % uint64_t(c.model.vocab_size)));
      }
    model.params().zero_grads();
    const double scale = 1.0 / double(micro_batches * shape.rows());
    ASSERT_TRUE(runner.run(Exec::cpu().with_matmul(saved), tokens, targets,
                           LossScales{scale, 1.0 / double(micro_batches)}).has_value());
    EXPECT_EQ(grown(MemoryCategory::kActivations), plan.activations) << "after a step";
    // The step's report: replaying its passes without the sends and gaps between them cannot
    // leave more of the stages idle than the step did.
    const Result<PipelineStepReport> report =
        report_pipeline_step(runner, mesh.group(Axis::kPipeline));
    ASSERT_TRUE(report.has_value()) << report.error().message();
    EXPECT_GE(report->replayed_bubble, 0.0);
    EXPECT_LE(report->replayed_bubble, report->bubble + 1e-9);
    EXPECT_GE(report->analytic_bubble, 0.0);
    EXPECT_LT(report->analytic_bubble, 1.0);
    EXPECT_EQ(model.weight_grad_queue().capacity(),
              parallel->placement.pipeline.deferred *
                  weight_grad_pass_elems(c.model, shape, parallel->placement,
                                         c.parallel.sequence_parallel));
  }
}

// MoE balance across stages: each stage holds its own layers' router statistics; summed over the
// stages they equal one process's on the same global batch, step after step, under the
// aux-loss-free bias (updated by each stage for its layers), the aux loss and the z-loss, with
// gradient accumulation over 4 micro-batches.
TEST(PipelineMoeBalance, StatisticsAndBiasEqualOneProcess) {
  Comm& world = testkit::world();
  if (world.size() < 2) GTEST_SKIP() << "a pipeline needs 2 ranks or more";
  for (auto [schedule, published] :
       {std::pair{PipelineSchedule::k1F1B, false}, std::pair{PipelineSchedule::kZeroBubble, false},
        std::pair{PipelineSchedule::k1F1B, true}}) {
    SCOPED_TRACE(published ? "published routing" : "softmax routing");
    Layout layout{.name = "balance", .ranks = world.size(), .pp = world.size(),
                  .schedule = schedule, .published = published};
    RunConfig c = config_for(layout);
    c.model.bias_update_rate = 0.01;
    const int64_t global = kMicroBatches;
    testkit::TrainingRun ref(testkit::single_process(c), DeviceMesh::single(), global, kTag);
    testkit::TrainingRun run(c, testkit::mesh_for(c, world), global, kTag);
    for (int64_t step = 0; step < 6; ++step) {
      const Result<StepResult> a = ref.step->run(Exec::cpu(), step, ref.source(step));
      const Result<StepResult> b = run.step->run(Exec::cpu(), step, run.source(step));
      ASSERT_TRUE(a.has_value() && b.has_value());
      EXPECT_NEAR(b->loss, a->loss, 1e-5 * a->loss) << "step " << step;
      for (int64_t l = 0; l < c.model.num_hidden_layers; ++l) {
        if (!c.model.is_moe_layer(l)) continue;
        const MoeStats& x = ref.model->moe_stats()[size_t(l)];
        const MoeStats& y = run.model->moe_stats()[size_t(l)];
        EXPECT_EQ(y.routed, x.routed) << "layer " << l << " step " << step;
        EXPECT_NEAR(y.aux_loss, x.aux_loss, 1e-6 * std::abs(x.aux_loss)) << "layer " << l;
        EXPECT_NEAR(y.seq_aux_loss, x.seq_aux_loss, 1e-6 * std::abs(x.seq_aux_loss))
            << "layer " << l;
        EXPECT_NEAR(y.z_loss, x.z_loss, 1e-6 * std::abs(x.z_loss)) << "layer " << l;
        const View bias = run.model->balance_bias(l);
        if (bias.empty()) continue;  // another stage's layer
        const View expected = ref.model->balance_bias(l);
        for (int64_t e = 0; e < bias.numel(); ++e)
          EXPECT_EQ(bias.f32()[e], expected.f32()[e]) << "layer " << l << " expert " << e;
      }
    }
  }
}

using PP = PipelineSchedule;
INSTANTIATE_TEST_SUITE_P(
    Layouts, PipelineParallelTest,
    testing::Values(
        Layout{.name = "pp2_gpipe", .ranks = 2, .pp = 2, .schedule = PP::kGpipe},
        // GPipe runs the loss in the last stage's forward (tied: on the embedding's copy).
        Layout{.name = "pp2_gpipe_tied_dense_mtp", .ranks = 2, .pp = 2, .schedule = PP::kGpipe,
               .dense = true, .tied = true, .mtp = 1},
        Layout{.name = "pp2_1f1b", .ranks = 2, .pp = 2},
        Layout{.name = "pp2_interleaved", .ranks = 2, .pp = 2, .schedule = PP::kInterleaved,
               .vpp = 2},
        Layout{.name = "pp2_zb", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble},
        // The head split: the first stage scores a share of each micro-batch's rows with the
        // tied embedding, the last stage the rest.
        Layout{.name = "pp2_zb_head_tied_dense", .ranks = 2, .pp = 2,
               .schedule = PP::kZeroBubble, .dense = true, .tied = true, .head_share = 0.25},
        // Untied: the first stage scores with a copy of the LM head, summed with it.
        Layout{.name = "pp2_zb_head_untied", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .head_share = 0.25},
        Layout{.name = "pp2_half_zb_head_tied_recompute", .ranks = 2, .pp = 2,
               .schedule = PP::kZeroBubble, .tied = true, .recompute = true,
               .split = {2.5, 1.5}, .head_share = 0.5},
        Layout{.name = "pp2_1f1b_tied_dense", .ranks = 2, .pp = 2, .dense = true, .tied = true},
        Layout{.name = "pp2_zb_recompute", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .recompute = true},
        Layout{.name = "pp2_uneven", .ranks = 2, .pp = 2, .split = {3, 1}},
        // Stage boundaries inside a layer: layer 1's attention on stage 0, its MoE on stage 1.
        Layout{.name = "pp2_half_1f1b", .ranks = 2, .pp = 2, .split = {1.5, 2.5}},
        Layout{.name = "pp2_half_zb", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .split = {2.5, 1.5}},
        Layout{.name = "pp2_half_zb_recompute_mla", .ranks = 2, .pp = 2,
               .schedule = PP::kZeroBubble, .recompute = true, .mla = true,
               .split = {0.5, 3.5}},
        Layout{.name = "pp2_half_interleaved_tied_dense", .ranks = 2, .pp = 2,
               .schedule = PP::kInterleaved, .vpp = 2, .dense = true, .tied = true,
               .split = {1.5, 0.5, 1, 1}},
        Layout{.name = "pp2_zb_published", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .published = true},
        Layout{.name = "pp2_1f1b_mla", .ranks = 2, .pp = 2, .mla = true},
        Layout{.name = "pp2_zb_mla", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .mla = true},
        Layout{.name = "pp2_zb_mla_recompute", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .recompute = true, .mla = true},
        Layout{.name = "pp4_gpipe", .ranks = 4, .pp = 4, .schedule = PP::kGpipe},
        Layout{.name = "pp4_1f1b", .ranks = 4, .pp = 4},
        Layout{.name = "pp4_interleaved", .ranks = 4, .pp = 4, .schedule = PP::kInterleaved,
               .vpp = 2, .layers = 8},
        Layout{.name = "pp4_zb", .ranks = 4, .pp = 4, .schedule = PP::kZeroBubble},
        Layout{.name = "pp2_dp2_zero1", .ranks = 4, .pp = 2, .zero = 1},
        Layout{.name = "pp2_dp2_zero3", .ranks = 4, .pp = 2, .zero = 3},
        Layout{.name = "pp2_dp2_zero3_gpipe_tied", .ranks = 4, .pp = 2, .schedule = PP::kGpipe,
               .zero = 3, .dense = true, .tied = true},
        // Under tp the vocabulary-parallel loss stays in the backward.
        Layout{.name = "pp2_tp2_gpipe", .ranks = 4, .pp = 2, .schedule = PP::kGpipe, .tp = 2},
        // ZeRO-3 with ZB-H1 and tied embeddings, the head split on: the first stage's H passes
        // gather the embedding and reduce-scatter their part of its gradient.
        Layout{.name = "pp2_dp2_zero3_zb_head_tied", .ranks = 4, .pp = 2,
               .schedule = PP::kZeroBubble, .zero = 3, .dense = true, .tied = true,
               .head_share = 0.25},
        // Untied: the LM head's copy on the first stage, its gradient summed with the head's
        // whole (ZeRO 0) and reduce-scattered per micro-batch (ZeRO 2).
        Layout{.name = "pp2_dp2_zb_head_untied", .ranks = 4, .pp = 2,
               .schedule = PP::kZeroBubble, .head_share = 0.25},
        Layout{.name = "pp2_dp2_zero2_zb_head_untied", .ranks = 4, .pp = 2,
               .schedule = PP::kZeroBubble, .zero = 2, .dense = true, .head_share = 0.5},
        Layout{.name = "pp2_dp2_zero2_zb", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .zero = 2},

        Layout{.name = "pp2_tp2", .ranks = 4, .pp = 2, .tp = 2},
        Layout{.name = "pp2_tp2_half_zb", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .tp = 2, .split = {1.5, 2.5}},
        Layout{.name = "pp2_ep2_half_1f1b", .ranks = 4, .pp = 2, .ep = 2, .split = {2.5, 1.5}},
        Layout{.name = "pp2_dp2_zero3_half_zb", .ranks = 4, .pp = 2,
               .schedule = PP::kZeroBubble, .zero = 3, .split = {1.5, 2.5}},
        Layout{.name = "pp2_tp2_zb_tied", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .tp = 2, .tied = true},
        Layout{.name = "pp2_tp2_zb_mla", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .tp = 2, .mla = true},
        Layout{.name = "pp2_ep2_1f1b", .ranks = 4, .pp = 2, .ep = 2},
        Layout{.name = "pp2_ep2_zb", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble, .ep = 2},
        Layout{.name = "pp2_ep2_gpipe_recompute", .ranks = 4, .pp = 2, .schedule = PP::kGpipe,
               .ep = 2, .recompute = true},
        Layout{.name = "pp2_ep2_interleaved", .ranks = 4, .pp = 2, .schedule = PP::kInterleaved,
               .vpp = 2, .ep = 2},
        Layout{.name = "pp2_ep2_zero3_zb", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .ep = 2, .zero = 3},
        Layout{.name = "pp2_etp2_1f1b", .ranks = 4, .pp = 2, .etp = 2},
        Layout{.name = "pp2_etp2_zb", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble, .etp = 2},
        Layout{.name = "pp2_tp2_ep2_zb", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .tp = 2, .ep = 2},
        Layout{.name = "pp2_1f1b_mtp", .ranks = 2, .pp = 2, .mtp = 1},
        Layout{.name = "pp2_zb_mtp2", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .mtp = 2},
        Layout{.name = "pp2_1f1b_tied_dense_mtp", .ranks = 2, .pp = 2, .dense = true,
               .tied = true, .mtp = 1},
        Layout{.name = "pp2_zb_recompute_mtp", .ranks = 2, .pp = 2, .schedule = PP::kZeroBubble,
               .recompute = true, .mtp = 1},
        Layout{.name = "pp2_dp2_zero3_zb_mtp", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .zero = 3, .mtp = 1},
        Layout{.name = "pp2_dp2_1f1b_tied_dense", .ranks = 4, .pp = 2, .dense = true,
               .tied = true},
        Layout{.name = "pp2_ep2_1f1b_mtp", .ranks = 4, .pp = 2, .ep = 2, .mtp = 1},
        Layout{.name = "pp2_tp2_zb_mtp", .ranks = 4, .pp = 2, .schedule = PP::kZeroBubble,
               .tp = 2, .mtp = 1}),
    layout_name);

}  // namespace
}  // namespace symphony
