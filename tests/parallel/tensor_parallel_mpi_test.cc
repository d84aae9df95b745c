// Tensor parallelism trains like one process. Under mpirun -np {2,4} each layout (tp2 with and
// without sequence parallelism, tp4 with replicated KV heads, tp2 x dp2 with ZeRO-1 and ZeRO-3,
// tp2 x ep2 with etp 1 and 2, full recomputation, on the MoE `tiny`, a dense variant, one with
// multi-head latent attention, multi-token prediction with and without sequence parallelism,
// and the published DeepSeek-V3 routing, where under tp4 each sequence's rows are split over two
// ranks)
// is checked against one process running the same global batch from the same weights:
//   - one step's gradients, gathered (blocks joined over tp and ep), within 1e-5 relative per
//     tensor;
//   - the losses of a 30-step run within 1e-5 for the first 16 steps (then 1e-3: top-k routing
//     turns rounding-level differences into a different expert choice once scores tie, see
//     data_parallel_mpi_test.cc), and the loss falls;
//   - the same layout run twice gives bitwise the same losses and gradients;
//   - replicated parameters (norms, router) stay bitwise equal on every tensor-parallel rank.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "parallel/comm.h"
#include "model/memory_plan.h"
#include "tensor/memory_stats.h"
#include "testkit/mpi_world.h"
#include "testkit/parallel_run.h"

namespace symphony {
namespace {

using testkit::mesh_for;

constexpr int64_t kSteps = 30;
constexpr size_t kTightSteps = 16;
constexpr int64_t kAccumulation = 2;  // micro-batches per data-parallel rank per step
const uint64_t kTag = key_for(13, "tp-test");

struct Layout {
  const char* name;
  int ranks;  // world size it runs on
  int tp;
  int ep = 1;
  int etp = 1;
  int zero = 0;
  bool sequence_parallel = true;
  bool dense = false;  // model.num_experts = 0
  bool recompute = false;  // train.recompute = "full"
  bool published = false;  // testkit::published_architecture_overrides()
  bool mla = false;        // multi-head latent attention (model.kv_lora_rank > 0)
  int mtp = 0;             // model.num_nextn_predict_layers
};

std::string layout_name(const testing::TestParamInfo<Layout>& info) { return info.param.name; }

RunConfig config_for(const Layout& layout) {
  std::vector<std::string> overrides = {"train.seq_len=32", "train.micro_batch_size=2",
                                        "optim.warmup_steps=4", "optim.lr=1e-3",
                                        "model.router_z_loss_coef=0.001"};
  if (layout.dense) overrides.push_back("model.num_experts=0");
  if (layout.published) {
    for (const std::string& o : testkit::published_architecture_overrides())
      overrides.push_back(o);
  }
  if (layout.mla)
    overrides.insert(overrides.end(), {"model.qk_norm=false", "model.q_lora_rank=48", "model.kv_lora_rank=32",
                                       "model.qk_rope_head_dim=8", "model.qk_nope_head_dim=16",
                                       "model.v_head_dim=24"});
  overrides.push_back("model.num_nextn_predict_layers=" + std::to_string(layout.mtp));
  auto c = load_run_config("tiny", overrides);
  SYM_CHECK(c.has_value(), "{}", c.error().message());
  c->parallel.tp = layout.tp;
  c->parallel.ep = layout.ep;
  c->parallel.etp = layout.etp;
  c->parallel.sequence_parallel = layout.sequence_parallel;
  c->parallel.zero_stage = ZeroStage(layout.zero);
  c->train.steps = kSteps;
  if (layout.recompute) c->train.recompute = Recompute::kFull;
  return *c;
}

int64_t global_micro_batches(const RunConfig& c, Comm& world) {
  return kAccumulation * world.size() / c.parallel.tp;
}

class TensorParallelTest : public testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    if (testkit::world().size() != GetParam().ranks)
      GTEST_SKIP() << GetParam().name << " runs on " << GetParam().ranks << " ranks";
  }
};

TEST_P(TensorParallelTest, OneStepsGradientsMatchOneProcess) {
  const Layout& layout = GetParam();
  if (layout.zero >= 2) GTEST_SKIP() << "gradients are sharded at ZeRO " << layout.zero;
  Comm& world = testkit::world();
  const RunConfig c = config_for(layout);
  const testkit::Comparison r =
      testkit::compare_one_step(c, world, global_micro_batches(c, world), kTag);
  if (world.rank() == 0)
    std::printf("  %s: worst relative gradient difference %.2e\n", layout.name, r.worst);
}

TEST_P(TensorParallelTest, TrainsLikeOneProcessAndIsBitwiseRepeatable) {
  const Layout& layout = GetParam();
  Comm& world = testkit::world();
  const RunConfig c = config_for(layout);
  const testkit::Comparison r = testkit::compare_training(
      c, world, global_micro_batches(c, world), kTag, kSteps, kTightSteps);
  // Replicated tensors stay bitwise equal on every tensor-parallel rank.
  Comm& tp = r.run->mesh.group(Axis::kTensor);
  const ParamStore& store = r.run->model->params();
  if (r.run->dp->weights_replicated()) {
    for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
      if (store.info(id).shard.sharded()) continue;
      ConstView w = store.param(id);
      std::vector<float> root(w.data<float>(), w.data<float>() + w.numel());
      ASSERT_TRUE(tp.broadcast(std::span<float>(root), 0).is_ok());
      EXPECT_EQ(std::memcmp(root.data(), w.data<float>(), root.size() * sizeof(float)), 0)
          << store.info(id).name << " differs from tp rank 0's";
    }
  }
  if (world.rank() == 0)
    std::printf("  %s: worst relative loss difference %.2e over the first %zu steps\n",
                layout.name, r.worst, kTightSteps);
}

// The memory plan (model/memory_plan.h, used by --dry-run and the planner) equals what the model
// allocates on each rank of the layout, weights and activations exactly, with and without full
// recomputation, with activations kept in fp32 and in bf16 (model/act_stash.h: under sequence
// parallelism the normed inputs recomputed for this rank's rows).
TEST_P(TensorParallelTest, MemoryPlanMatchesTheRanksAllocation) {
  const Layout& layout = GetParam();
  Comm& world = testkit::world();
  const RunConfig c = config_for(layout);
  DeviceMesh mesh = mesh_for(c, world);
  const ModelParallel parallel = ModelParallel::of(mesh, c.parallel.sequence_parallel);
  const BatchShape shape{c.train.micro_batch_size, c.train.seq_len};
  for (Precision saved : {Precision::kFp32, Precision::kBf16})
    for (Recompute recompute : {Recompute::kNone, Recompute::kFull}) {
      const MemorySnapshot before = memory_stats_snapshot();
      auto grown = [&](MemoryCategory category) {
        return memory_stats_snapshot().current_bytes[size_t(category)] -
               before.current_bytes[size_t(category)];
      };
      Transformer model(c.model, DType::kF32, shape, recompute, {}, parallel, saved);
      const MemoryPlan plan =
          plan_training_memory(c.model, DType::kF32, shape, recompute, parallel.placement,
                               c.parallel.sequence_parallel, saved);
      EXPECT_EQ(grown(MemoryCategory::kWeights), plan.weights);
      EXPECT_EQ(grown(MemoryCategory::kActivations), plan.activations)
          << (recompute == Recompute::kFull ? "full recomputation" : "no recomputation")
          << ", saved in " << precision_name(saved);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, TensorParallelTest,
    testing::Values(Layout{.name = "tp2", .ranks = 2, .tp = 2, .sequence_parallel = false},
                    Layout{.name = "tp2_sp", .ranks = 2, .tp = 2},
                    Layout{.name = "tp2_dense", .ranks = 2, .tp = 2, .sequence_parallel = false,
                           .dense = true},
                    Layout{.name = "tp2_sp_dense", .ranks = 2, .tp = 2, .dense = true},
                    Layout{.name = "tp2_ep2", .ranks = 2, .tp = 2, .ep = 2},
                    Layout{.name = "tp2_etp2", .ranks = 2, .tp = 2, .etp = 2},
                    Layout{.name = "tp2_sp_recompute", .ranks = 2, .tp = 2, .recompute = true},
                    Layout{.name = "tp2_sp_published", .ranks = 2, .tp = 2, .published = true},
                    Layout{.name = "tp2_mla", .ranks = 2, .tp = 2, .sequence_parallel = false,
                           .mla = true},
                    Layout{.name = "tp2_sp_mla_recompute", .ranks = 2, .tp = 2,
                           .recompute = true, .mla = true},
                    Layout{.name = "tp4_sp_mla", .ranks = 4, .tp = 4, .mla = true},
                    Layout{.name = "tp2_mtp", .ranks = 2, .tp = 2, .sequence_parallel = false,
                           .mtp = 1},
                    Layout{.name = "tp2_sp_mtp2", .ranks = 2, .tp = 2, .mtp = 2},
                    Layout{.name = "tp4", .ranks = 4, .tp = 4},
                    Layout{.name = "tp4_published", .ranks = 4, .tp = 4, .published = true},
                    Layout{.name = "tp4_dense", .ranks = 4, .tp = 4, .sequence_parallel = false,
                           .dense = true},
                    Layout{.name = "tp2_dp2_zero1", .ranks = 4, .tp = 2, .zero = 1},
                    Layout{.name = "tp2_dp2_zero3", .ranks = 4, .tp = 2, .zero = 3},
                    Layout{.name = "tp2_ep2_dp2", .ranks = 4, .tp = 2, .ep = 2, .zero = 1},
                    Layout{.name = "tp2_ep2_etp2", .ranks = 4, .tp = 2, .ep = 2, .etp = 2},
                    Layout{.name = "tp2_ep2_etp2_zero3", .ranks = 4, .tp = 2, .ep = 2, .etp = 2,
                           .zero = 3}),
    layout_name);

}  // namespace
}  // namespace symphony
