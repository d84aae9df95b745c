// Data parallelism with every ZeRO stage trains like one process: under mpirun -np {1,2,4} each
// rank trains its share of each global batch and also trains, alone, one process on the whole
// global batch; per-step losses must agree within 1e-5 relative for 32 steps (MoE: 16 steps, then
// 1e-3, see kMoeTightSteps). The same layout run twice must give bitwise-identical losses. Models:
// the MoE `tiny`, a dense variant, and a dense one with multi-head latent attention. With
// multi-token prediction (ZeRO-1 and 3) the MTP losses are held to the same bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/rng.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "parallel/mesh.h"
#include "zero/data_parallel.h"
#include "tensor/memory_stats.h"
#include "testkit/mpi_world.h"
#include "train/train_step.h"

namespace symphony {
namespace {

constexpr int64_t kSteps = 32;
constexpr int64_t kAccumulation = 2;  // micro-batches per rank per step
// Summing gradients over ranks rounds differently from accumulating them in one process. Top-k
// routing (and the sign-driven bias update) turns such rounding-level differences into a different
// expert choice once two scores tie within rounding, and the MoE losses then drift apart slowly:
// measured up to 1.5e-4 relative by step 28 with one GEMM library and 2.3e-7 with another.
constexpr size_t kMoeTightSteps = 16;

RunConfig config_for(const char* kind) {
  std::vector<std::string> overrides = {"train.seq_len=32", "train.micro_batch_size=2",
                                        "optim.warmup_steps=4", "optim.lr=3e-3"};
  // lr 1e-3 with MTP: its MoE layer adds ties in top-k routing, and at 3e-3 one flipped the
  // expert choice at step 7 on 2 ranks (see kMoeTightSteps), which says nothing about MTP.
  if (std::string(kind) == "moe-mtp")
    overrides.insert(overrides.end(), {"model.num_nextn_predict_layers=1", "optim.lr=1e-3"});
  if (std::string(kind) == "dense") {
    overrides.insert(overrides.end(), {"model.num_experts=0", "model.num_hidden_layers=3",
                                       "model.tie_word_embeddings=true"});
  } else if (std::string(kind) == "mla") {
    // Dense, with multi-head latent attention in place of GQA.
    overrides.insert(overrides.end(),
                     {"model.num_experts=0", "model.num_hidden_layers=3", "model.qk_norm=false",
                      "model.q_lora_rank=48", "model.kv_lora_rank=32", "model.qk_rope_head_dim=8",
                      "model.qk_nope_head_dim=16", "model.v_head_dim=24"});
  } else {
    // Aux-loss-free bias on too: it depends on router statistics summed over ranks.
    overrides.insert(overrides.end(), {"model.bias_update_rate=0.001", "model.router_z_loss_coef=0.001"});
  }
  auto c = load_run_config("tiny", overrides);
  SYM_CHECK(c.has_value(), "{}", c.error().message());
  return *c;
}

// Global micro-batch j of a step: tokens that depend only on the seed, the step and j.
void fill_micro_batch(const RunConfig& c, int64_t step, int64_t j, std::span<int32_t> in,
                      std::span<int32_t> tgt) {
  const uint64_t key = key_for(7, "dp-test") ^ (uint64_t(step) << 20) ^ uint64_t(j);
  const uint64_t v = uint64_t(c.model.vocab_size);
  // A learnable stream: each target is a fixed function of its input token.
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = int32_t(splitmix64(key ^ splitmix64(i)) % v);
    tgt[i] = int32_t((uint64_t(in[i]) * 7 + 3) % v);
  }
}

// Losses of kSteps steps: `ranks` ranks of `comm` share each global batch of
// ranks * kAccumulation micro-batches; this rank takes micro-batch a * ranks + rank.
// The data-parallel layout of `comm`'s ranks.
DeviceMesh data_parallel_mesh(Comm& comm) {
  Result<ParallelLayout> layout = ParallelLayout::create(ParallelConfig{}, comm.size());
  SYM_CHECK(layout.has_value(), "{}", layout.error().message());
  Result<DeviceMesh> mesh = DeviceMesh::create(*layout, comm);
  SYM_CHECK(mesh.has_value(), "{}", mesh.error().message());
  return std::move(mesh).value();
}

// Per step the main loss, then the MTP losses when the model has them.
std::vector<double> train_losses(const RunConfig& base, Comm& comm, ZeroStage stage) {
  RunConfig c = base;
  const int64_t ranks = comm.size();
  c.train.steps = kSteps;
  c.train.global_batch_tokens =
      c.train.micro_batch_size * c.train.seq_len * kAccumulation * ranks;
  Transformer model(c.model, DType::kF32, {c.train.micro_batch_size, c.train.seq_len},
                    Recompute::kNone, DataParallel::residency_for(stage));
  // A small bucket so stage 0 and 1 overlap several all-reduces.
  DeviceMesh mesh = data_parallel_mesh(comm);
  DataParallel dp(stage, mesh, model, c.optim, /*bucket_mb=*/0.05);
  dp.init_params(c.model, c.train.seed);
  TrainStep step(c.train, c.optim, model, dp);
  EXPECT_EQ(step.micro_batches(), kAccumulation);
  std::vector<double> losses;
  for (int64_t s = 0; s < kSteps; ++s) {
    int64_t a = 0;
    BatchSource source = [&](std::span<int32_t> in, std::span<int32_t> tgt) {
      fill_micro_batch(c, s, a * ranks + comm.rank(), in, tgt);
      ++a;
    };
    Result<StepResult> r = step.run(Exec::cpu(), s, source);
    SYM_CHECK(r.has_value(), "{}", r.error().message());
    losses.push_back(r->loss);
    losses.insert(losses.end(), r->mtp_losses.begin(), r->mtp_losses.end());
  }
  return losses;
}

// The same global batches on one process: micro-batch j of the step in order.
std::vector<double> single_process_losses(const RunConfig& base, int64_t ranks) {
  RunConfig c = base;
  c.train.steps = kSteps;
  c.train.global_batch_tokens =
      c.train.micro_batch_size * c.train.seq_len * kAccumulation * ranks;
  Transformer model(c.model, DType::kF32, {c.train.micro_batch_size, c.train.seq_len},
                    Recompute::kNone);
  DeviceMesh mesh = DeviceMesh::single();
  DataParallel dp(ZeroStage::kNone, mesh, model, c.optim, 25);
  dp.init_params(c.model, c.train.seed);
  TrainStep step(c.train, c.optim, model, dp);
  std::vector<double> losses;
  for (int64_t s = 0; s < kSteps; ++s) {
    int64_t j = 0;
    BatchSource source = [&](std::span<int32_t> in, std::span<int32_t> tgt) {
      fill_micro_batch(c, s, j++, in, tgt);
    };
    const Result<StepResult> r = step.run(Exec::cpu(), s, source);
    losses.push_back(r->loss);
    losses.insert(losses.end(), r->mtp_losses.begin(), r->mtp_losses.end());
  }
  return losses;
}

class DataParallelTest : public testing::TestWithParam<std::tuple<const char*, int>> {};

TEST_P(DataParallelTest, MatchesOneProcessAndIsBitwiseRepeatable) {
  auto [kind, stage_index] = GetParam();
  const ZeroStage stage = ZeroStage(stage_index);
  Comm& world = testkit::world();
  const RunConfig c = config_for(kind);
  const std::vector<double> reference = single_process_losses(c, world.size());
  const std::vector<double> first = train_losses(c, world, stage);
  const std::vector<double> second = train_losses(c, world, stage);
  ASSERT_EQ(first.size(), reference.size());
  const size_t per_step = reference.size() / size_t(kSteps);  // main loss (and MTP's)
  double worst = 0;
  for (size_t s = 0; s < reference.size(); ++s) {
    const double rel = std::abs(first[s] - reference[s]) / std::abs(reference[s]);
    worst = std::max(worst, rel);
    const bool tight = std::string(kind) == "dense" || std::string(kind) == "mla" ||
                       s / per_step < kMoeTightSteps;
    EXPECT_LE(rel, tight ? 1e-5 : 1e-3)
        << "step " << s / per_step << (s % per_step ? " MTP: " : ": ") << first[s]
        << " vs one process " << reference[s];
    EXPECT_EQ(first[s], second[s]) << "value " << s << " differs between two identical runs";
  }
  // Training did something: the loss fell.
  EXPECT_LT(first[first.size() - per_step], first.front() * 0.9);
  if (world.rank() == 0)
    std::printf("  %s zero=%d ranks=%d: worst relative loss difference %.2e over %zu steps\n",
                kind, stage_index, world.size(), worst, reference.size());
}

INSTANTIATE_TEST_SUITE_P(Stages, DataParallelTest,
                         testing::Combine(testing::Values("moe", "dense"),
                                          testing::Values(0, 1, 2, 3)));
INSTANTIATE_TEST_SUITE_P(Mla, DataParallelTest,
                         testing::Combine(testing::Values("mla"), testing::Values(0, 3)));
INSTANTIATE_TEST_SUITE_P(Mtp, DataParallelTest,
                         testing::Combine(testing::Values("moe-mtp"), testing::Values(1, 3)));

int64_t current_bytes(MemoryCategory c) {
  return memory_stats_snapshot().current_bytes[size_t(c)];
}

TEST(DataParallel, PlannedMemoryMatchesAllocationExactly) {
  Comm& world = testkit::world();
  for (const char* kind : {"moe", "dense", "moe-mtp"}) {
    const RunConfig c = config_for(kind);
    for (int stage = 0; stage <= 3; ++stage) {
      SCOPED_TRACE(testing::Message() << kind << " zero=" << stage);
      const MemorySnapshot before = memory_stats_snapshot();
      Transformer model(c.model, DType::kF32, {c.train.micro_batch_size, c.train.seq_len},
                        Recompute::kNone, DataParallel::residency_for(ZeroStage(stage)));
      DeviceMesh mesh = data_parallel_mesh(world);
      DataParallel dp(ZeroStage(stage), mesh, model, c.optim, 25);
      auto grown = [&](MemoryCategory cat) {
        return current_bytes(cat) - before.current_bytes[size_t(cat)];
      };
      const ShardedMemory plan = plan_sharded_memory(
          c.model, ShardPlacement::of(mesh.layout(), world.rank()), ZeroStage(stage));
      EXPECT_EQ(grown(MemoryCategory::kWeights), plan.weights);
      EXPECT_EQ(grown(MemoryCategory::kGrads), plan.grads);
      EXPECT_EQ(grown(MemoryCategory::kOptimizer), plan.optimizer);
      EXPECT_EQ(grown(MemoryCategory::kCommunication), plan.communication);
    }
  }
}

TEST(DataParallel, ZeroThreeStateIsAboutOneOverRanks) {
  // A deeper model, so the two gathered units are a small part of it.
  RunConfig c = config_for("dense");
  c.model.num_hidden_layers = 24;
  const int n = testkit::world().size();
  const ParallelLayout layout = *ParallelLayout::create(ParallelConfig{}, n);
  const ShardPlacement placement = ShardPlacement::of(layout, 0);
  const ShardedMemory zero0 = plan_sharded_memory(c.model, placement, ZeroStage::kNone);
  const ShardedMemory zero3 = plan_sharded_memory(c.model, placement, ZeroStage::kParameters);
  const double ratio = double(zero3.weights + zero3.grads + zero3.optimizer) /
                       double(zero0.weights + zero0.grads + zero0.optimizer);
  if (testkit::world().rank() == 0)
    std::printf("  24-layer dense, %d ranks: ZeRO-3 weight+grad+optimizer bytes = %.3f of stage 0's\n",
                n, ratio);
  EXPECT_LE(ratio, 1.0 / n + 0.15);
}

TEST(DataParallel, ShardedStateShrinksWithRanks) {
  Comm& world = testkit::world();
  const RunConfig c = config_for("moe");
  Transformer model(c.model, DType::kF32, {c.train.micro_batch_size, c.train.seq_len},
                    Recompute::kNone, DataParallel::residency_for(ZeroStage::kParameters));
  DeviceMesh mesh = data_parallel_mesh(world);
  DataParallel dp(ZeroStage::kParameters, mesh, model, c.optim, 25);
  const int64_t full = model.params().numel();
  // Each unit is padded to a multiple of 16 * ranks: the shard is within that of full / ranks.
  EXPECT_LE(dp.shard_numel(), full / world.size() + 16 * model.params().num_units());
  EXPECT_GE(dp.shard_numel() * world.size(), full);
}

}  // namespace
}  // namespace symphony
