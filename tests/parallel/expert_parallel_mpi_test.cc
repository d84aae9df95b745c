// Expert parallelism trains like one process. Under mpirun -np {2,4} each layout (ep2, ep2 x dp2,
// ep4, with ZeRO stages, the aux-loss-free bias, a capacity factor and the published DeepSeek-V3
// routing, multi-token prediction, bf16; dp2 alone as the control) is checked against one process
// running the same global batch from the same weights, which every rank also computes alone:
//   - one step's gradients, gathered (expert blocks joined over the ep group), within 1e-5
//     relative per tensor;
//   - the losses of a 30-step run within 1e-5 for the first 16 steps (then 1e-3: top-k routing
//     turns rounding-level differences into a different expert choice once scores tie, see
//     data_parallel_mpi_test.cc), and the loss falls;
//   - the same layout run twice gives bitwise the same losses and gradients;
//   - the routing bias is bitwise equal on every rank.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "parallel/mesh.h"
#include "testkit/mpi_world.h"
#include "testkit/parallel_run.h"
#include "train/train_step.h"
#include "zero/data_parallel.h"

namespace symphony {
namespace {

constexpr int64_t kSteps = 30;
constexpr size_t kTightSteps = 16;
constexpr int64_t kAccumulation = 2;  // micro-batches per rank per step

struct Layout {
  const char* name;
  int ranks;  // world size it runs on
  int ep;
  int zero;
  bool bias;  // aux-loss-free balancing on
  double capacity = 0;  // model.capacity_factor (0: dropless)
  bool published = false;  // testkit::published_architecture_overrides()
  int64_t mtp = 0;      // model.num_nextn_predict_layers (the MTP layers are MoE layers too)
  // train.precision: bf16 GEMMs and activations kept in bf16 (the experts' inputs and outputs
  // among them), against one process doing the same.
  Precision precision = Precision::kFp32;
};

std::string layout_name(const testing::TestParamInfo<Layout>& info) { return info.param.name; }

// lr 1e-3: at 3e-3 a near-tie in top-k routing flipped at step 11 in a clang build for the dp2
// control itself (a 1e-5 jump of the loss between two runs that agreed to 2e-8 before), which
// says nothing about the layout; the smaller step keeps the comparison window clear of such ties.
RunConfig config_for(const Layout& layout) {
  std::vector<std::string> overrides = {"train.seq_len=32", "train.micro_batch_size=2",
                                        "optim.warmup_steps=4", "optim.lr=1e-3",
                                        "model.router_z_loss_coef=0.001"};
  if (layout.bias) overrides.push_back("model.bias_update_rate=0.001");
  if (layout.published) {
    for (const std::string& o : testkit::published_architecture_overrides())
      overrides.push_back(o);
  }
  auto c = load_run_config("tiny", overrides);
  SYM_CHECK(c.has_value(), "{}", c.error().message());
  c->model.capacity_factor = layout.capacity;
  c->model.num_nextn_predict_layers = layout.mtp;
  c->parallel.ep = layout.ep;
  c->train.precision = layout.precision;
  c->parallel.zero_stage = ZeroStage(layout.zero);
  c->train.steps = kSteps;
  return *c;
}

const uint64_t kTag = key_for(11, "ep-test");

class ExpertParallelTest : public testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    if (testkit::world().size() != GetParam().ranks)
      GTEST_SKIP() << GetParam().name << " runs on " << GetParam().ranks << " ranks";
  }
};

TEST_P(ExpertParallelTest, OneStepsGradientsMatchOneProcess) {
  const Layout& layout = GetParam();
  if (layout.zero >= 2) GTEST_SKIP() << "gradients are sharded at ZeRO " << layout.zero;
  Comm& world = testkit::world();
  const testkit::Comparison r =
      testkit::compare_one_step(config_for(layout), world, kAccumulation * world.size(), kTag);
  // The exchange moved rows: every rank received some.
  double in_flight = 0;
  for (const MoeStats& s : r.run->model->moe_stats()) in_flight += s.exchange.in_flight_s;
  if (layout.ep > 1) {
    EXPECT_GT(in_flight, 0);
  }
  if (layout.capacity > 0) {
    int64_t dropped = 0;
    for (const MoeStats& s : r.run->model->moe_stats()) dropped += s.dropped;
    EXPECT_GT(dropped, 0) << "capacity factor " << layout.capacity << " dropped nothing";
  }
  if (world.rank() == 0)
    std::printf("  %s: worst relative gradient difference %.2e\n", layout.name, r.worst);
}

TEST_P(ExpertParallelTest, TrainsLikeOneProcessAndIsBitwiseRepeatable) {
  const Layout& layout = GetParam();
  Comm& world = testkit::world();
  // bf16 rounds GEMM inputs and saved activations: a weight that differs by the summation order
  // (1e-8) rounds to the other side of a bf16 step now and then, so after the first step the
  // losses follow one process's within 1e-3 (measured: 9e-5 by step 16), not 1e-5; the first
  // step's gradients above stay within 1e-5 (measured: 6e-8).
  const size_t tight = layout.precision == Precision::kFp32 ? kTightSteps : 1;
  const testkit::Comparison r = testkit::compare_training(
      config_for(layout), world, kAccumulation * world.size(), kTag, kSteps, tight);
  // The routing bias: bitwise the same on every rank (rank 0's broadcast to all).
  const ModelConfig& mc = r.run->config.model;
  for (int64_t l = 0; l < mc.num_hidden_layers; ++l) {
    if (!mc.is_moe_layer(l)) continue;
    View bias = r.run->model->balance_bias(l);
    std::vector<float> root(bias.data<float>(), bias.data<float>() + bias.numel());
    ASSERT_TRUE(world.broadcast(std::span<float>(root), 0).is_ok());
    EXPECT_EQ(std::memcmp(root.data(), bias.data<float>(), root.size() * sizeof(float)), 0)
        << "layer " << l << "'s routing bias differs from rank 0's";
    if (layout.bias) {
      double moved = 0;
      for (float b : root) moved += std::abs(b);
      EXPECT_GT(moved, 0) << "layer " << l << "'s bias never moved";
    }
  }
  if (world.rank() == 0)
    std::printf("  %s: worst relative loss difference %.2e over the first %zu steps\n",
                layout.name, r.worst, tight);
}

INSTANTIATE_TEST_SUITE_P(Layouts, ExpertParallelTest,
                         testing::Values(Layout{"dp2", 2, 1, 0, false},
                                         Layout{"ep2", 2, 2, 0, false},
                                         Layout{"ep2_zero1", 2, 2, 1, false},
                                         Layout{"ep2_zero3", 2, 2, 3, false},
                                         Layout{"ep2_bias", 2, 2, 0, true},
                                         Layout{"ep2_capacity", 2, 2, 0, false, 1.0},
                                         Layout{"ep2_published", 2, 2, 0, true, 0, true},
                                         Layout{"ep2_mtp_bias", 2, 2, 1, true, 0, false, 1},
                                         Layout{"ep2_bf16", 2, 2, 1, true, 0, false, 0,
                                                Precision::kBf16},
                                         Layout{"ep2_dp2", 4, 2, 0, false},
                                         Layout{"ep2_dp2_zero2", 4, 2, 2, true},
                                         Layout{"ep4", 4, 4, 0, false},
                                         Layout{"ep4_zero3", 4, 4, 3, true}),
                         layout_name);

}  // namespace
}  // namespace symphony
