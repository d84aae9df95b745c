// Resharding: a checkpoint saved by the ranks of one layout (dp = the world size, some ZeRO stage)
// resumes under another (another ZeRO stage on the same ranks, or one process alone), and the
// resumed run's losses match one process trained without interruption within 1e-5 relative.
// The same across expert-parallel layouts (ep = the world size, ep = 2 over edp, ep = 1, and one
// process), and a chain of loads and saves through ep = world, world / 2, 1 (alone) and world
// again reproduces every tensor of the first checkpoint bitwise.
// A checkpoint that only one rank finds corrupt is moved aside by rank 0 for every rank, and the
// run falls back and saves that step again. Runs under mpirun -np {1,2,4}.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_io.h"
#include "checkpoint/checkpoint_manifest.h"
#include "checkpoint/checkpointer.h"
#include "config/run_config.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "parallel/mesh.h"
#include "testkit/markov_tokens.h"
#include "testkit/mpi_world.h"
#include "testkit/temp_dir.h"
#include "train/trainer.h"
#include "zero/data_parallel.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSteps = 6;
constexpr int64_t kStopAt = 3;

class ReshardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Comm& world = testkit::world();
    // Rank 0's temporary directory, shared with the others by name.
    std::string path;
    if (world.rank() == 0) {
      dir_ = std::make_unique<testkit::TempDir>("reshard_test");
      path = dir_->path().string();
      testkit::write_markov_tokens(dir_->path() / "train.tok", 40000, 1);
    }
    int64_t n = int64_t(path.size());
    ASSERT_TRUE(world.broadcast(std::span<int64_t>(&n, 1), 0).is_ok());
    path.resize(size_t(n));
    ASSERT_TRUE(world.broadcast(path.data(), n, CommDType::kU8, 0).is_ok());
    root_ = path;
  }
  void TearDown() override { EXPECT_TRUE(testkit::world().barrier().is_ok()); }

  RunConfig config(const std::string& run, int zero_stage, std::vector<std::string> extra = {}) {
    // A global batch every world size here (1, 2, 4) divides: 4 micro-batches of 4 x 64.
    std::vector<std::string> overrides = {
        "train.steps=" + std::to_string(kSteps), "optim.warmup_steps=1", "train.eval_every=0",
        "train.global_batch_tokens=1024", "model.bias_update_rate=0.001",
        "data.train_path=\"" + (root_ / "train.tok").string() + "\"",
        "train.run_dir=\"" + (root_ / run).string() + "\"",
        "parallel.zero_stage=" + std::to_string(zero_stage)};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    auto c = load_run_config("tiny", overrides);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  std::vector<double> run(Comm& world, const RunConfig& c, const std::string& resume,
                          int64_t stop_at, std::FILE* log = stderr) {
    TrainOptions options;
    options.log = log;
    options.progress = ProgressOutput::kNone;
    options.world = &world;
    options.resume = resume;
    options.stop_at_step = stop_at;
    Result<TrainResult> r = train(c, options);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r.has_value() ? r->losses : std::vector<double>();
  }

  // One process, uninterrupted, on rank 0; broadcast to all.
  std::vector<double> reference() {
    Comm& world = testkit::world();
    std::vector<double> losses(kSteps);
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      losses = run(*self, config("reference", 0), "", 0);
      losses.resize(kSteps);
    }
    EXPECT_TRUE(world.broadcast(std::span<double>(losses), 0).is_ok());
    return losses;
  }

  // got[i] against want[first + i], for the steps first + 1 ... last.
  static void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                           int64_t first, int64_t last = kSteps) {
    ASSERT_EQ(int64_t(got.size()), last - first);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(std::abs(got[i] - want[size_t(first) + i]), 1e-5 * std::abs(want[size_t(first) + i]))
          << "step " << first + int64_t(i) + 1 << ": " << got[i] << " vs " << want[size_t(first) + i];
  }

  // Loads `from` into the layout of `c` on `comm`, as a resumed run does, and saves that state at
  // once (no step taken) into the checkpoint directory `to`. Collective over `comm`.
  static Status load_and_save(Comm& comm, const RunConfig& c, const fs::path& from,
                              const fs::path& to) {
    SYM_TRY_ASSIGN(ParallelLayout layout, ParallelLayout::create(c.parallel, comm.size()));
    SYM_TRY_ASSIGN(DeviceMesh mesh, DeviceMesh::create(layout, comm));
    const ZeroStage zero = layout.zero_stage();
    Transformer model(c.model, DType::kF32, BatchShape{c.train.micro_batch_size, c.train.seq_len},
                      Recompute::kNone, DataParallel::residency_for(zero),
                      ModelParallel::of(mesh, c.parallel.sequence_parallel));
    DataParallel data_parallel(zero, mesh, model, c.optim, c.parallel.bucket_mb);
    data_parallel.init_params(c.model, c.train.seed);
    auto warn = [](const std::string& message) { ADD_FAILURE() << message; };
    SYM_TRY_ASSIGN(std::optional<ResumePoint> point,
                   resume_from(from.string(), to, to_toml(c), comm, model, data_parallel, warn));
    if (!point) return Error::not_found("{}: nothing to load", from.string());
    CheckpointManifest header = point->manifest;
    header.tensors.clear();
    header.files.clear();
    header.layout = {comm.size(), mesh.replicas(ReplicaGroup::kDense).size(), int(zero),
                     layout.describe(), layout.size(Axis::kExpert)};
    Checkpointer checkpointer({to, /*async=*/false, /*keep_last=*/3, /*keep_every=*/0, warn}, comm);
    SYM_TRY(checkpointer.save(std::move(header), model, data_parallel));
    return checkpointer.wait();
  }

  // Every tensor of `got` equals that of `want` bitwise (each gathered whole from its pieces),
  // and so do the step, counters and loader state. One process reads both.
  static void expect_same_state(const fs::path& want_dir, const fs::path& got_dir) {
    auto want = read_checkpoint_manifest(want_dir);
    auto got = read_checkpoint_manifest(got_dir);
    ASSERT_TRUE(want.has_value()) << want.error().message();
    ASSERT_TRUE(got.has_value()) << got.error().message();
    auto all_files = [](const CheckpointManifest& m) {
      std::vector<std::string> names;
      for (const CheckpointFile& f : m.files) names.push_back(f.name);
      return names;
    };
    Status verified = verify_checkpoint_files(*want, want_dir, all_files(*want));
    ASSERT_TRUE(verified.is_ok()) << verified.message();
    verified = verify_checkpoint_files(*got, got_dir, all_files(*got));
    ASSERT_TRUE(verified.is_ok()) << verified.message();
    EXPECT_EQ(got->step, want->step);
    EXPECT_EQ(got->tokens_seen, want->tokens_seen);
    EXPECT_EQ(got->optimizer_steps, want->optimizer_steps);
    EXPECT_EQ(got->lr, want->lr);
    EXPECT_EQ(got->seed, want->seed);
    EXPECT_EQ(got->loader.samples, want->loader.samples);
    ASSERT_EQ(got->loader.sources.size(), want->loader.sources.size());
    for (size_t i = 0; i < want->loader.sources.size(); ++i) {
      EXPECT_EQ(got->loader.sources[i].epoch, want->loader.sources[i].epoch);
      EXPECT_EQ(got->loader.sources[i].position, want->loader.sources[i].position);
    }
    ASSERT_EQ(got->tensors.size(), want->tensors.size());
    int moments = 0, experts = 0, biases = 0;
    for (const CheckpointTensor& t : want->tensors) {
      SCOPED_TRACE(t.name);
      const CheckpointTensor* other = got->find(t.name);
      ASSERT_NE(other, nullptr);
      EXPECT_EQ(other->shape, t.shape);
      auto a = read_checkpoint_tensor(*want, want_dir, t.name);
      auto b = read_checkpoint_tensor(*got, got_dir, t.name);
      ASSERT_TRUE(a.has_value()) << a.error().message();
      ASSERT_TRUE(b.has_value()) << b.error().message();
      ASSERT_EQ(a->size(), b->size());
      EXPECT_EQ(std::memcmp(a->data(), b->data(), a->size() * sizeof(float)), 0);
      moments += t.name.starts_with("exp_avg");
      experts += t.name.find(".mlp.experts.") != std::string::npos;
      biases += t.name.ends_with("e_score_correction_bias");
    }
    // The comparison covered what it is about: moments, expert tensors and selection biases.
    EXPECT_GT(moments, 0);
    EXPECT_GT(experts, 0);
    EXPECT_GT(biases, 0);
  }

  // One hop of a round trip: the layout the previous checkpoint is loaded into and saved from.
  struct Hop {
    int tp = 1, ep = 1, etp = 1, zero = 0;
    bool alone = false;  // one process (rank 0), else every rank
  };

  // Each hop loads the previous hop's checkpoint (the first: `first`) into its layout and saves
  // it again at once; after each, every tensor, moment and counter equals `first`'s bitwise.
  void round_trip(const fs::path& first, std::span<const Hop> hops, const std::string& name) {
    Comm& world = testkit::world();
    fs::path from = first;
    for (size_t i = 0; i < hops.size(); ++i) {
      const Hop& hop = hops[i];
      SCOPED_TRACE(fmt::format("hop {}: tp {} ep {} etp {} zero {}{}", i + 1, hop.tp, hop.ep,
                               hop.etp, hop.zero, hop.alone ? " alone" : ""));
      const std::string run = fmt::format("{}_{}", name, i + 1);
      const fs::path to = root_ / run;
      const RunConfig c = config(run, hop.zero,
                                 {fmt::format("parallel.tp={}", hop.tp),
                                  fmt::format("parallel.ep={}", hop.ep),
                                  fmt::format("parallel.etp={}", hop.etp)});
      Status s = Status::ok();
      if (!hop.alone) {
        s = load_and_save(world, c, from, to);
      } else if (world.rank() == 0) {
        std::unique_ptr<Comm> self = make_self_comm();
        s = load_and_save(*self, c, from, to);
      }
      EXPECT_TRUE(s.is_ok()) << s.message();
      from = to / "step-00000003";
      if (world.rank() == 0) {
        auto m = read_checkpoint_manifest(from);
        EXPECT_TRUE(m.has_value()) << m.error().message();
        if (m.has_value()) {
          EXPECT_EQ(m->layout.ep, hop.ep);
          EXPECT_EQ(m->layout.world, hop.alone ? 1 : world.size());
          if (hop.tp > 1) {
            EXPECT_NE(m->layout.description.find(fmt::format("tp={}", hop.tp)), std::string::npos)
                << m->layout.description;
          }
          expect_same_state(first, from);
        }
      }
      // Every rank stops at the first hop that failed on any.
      int32_t failed = ::testing::Test::HasFailure() ? 1 : 0;
      ASSERT_TRUE(world.all_reduce(std::span<int32_t>(&failed, 1), ReduceOp::kMax).is_ok());
      if (failed != 0) return;
    }
  }

  std::unique_ptr<testkit::TempDir> dir_;
  fs::path root_;
};

TEST_F(ReshardTest, EverySavedStageResumesUnderAnotherStageAndAlone) {
  Comm& world = testkit::world();
  const std::vector<double> want = reference();
  const std::pair<int, int> cases[] = {{3, 0}, {0, 2}, {1, 3}, {2, 1}};
  for (auto [saved, loaded] : cases) {
    SCOPED_TRACE(fmt::format("saved with zero {}, loaded with zero {}", saved, loaded));
    const std::string run_name = fmt::format("z{}_z{}", saved, loaded);
    const std::vector<double> first = run(world, config(run_name, saved), "", kStopAt);
    expect_close(first, want, 0, kStopAt);
    const fs::path step_dir = root_ / run_name / "checkpoints" / "step-00000003";
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->layout.world, world.size());
    EXPECT_EQ(manifest->layout.zero_stage, saved);
    EXPECT_EQ(int(manifest->files.size()), 2 * world.size());

    // The same ranks, another stage.
    expect_close(run(world, config(run_name, loaded), step_dir.string(), 0), want, kStopAt);
    // One process alone, from the checkpoint the ranks saved.
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      RunConfig alone = config(run_name + "_alone", 0);
      expect_close(run(*self, alone, step_dir.string(), 0), want, kStopAt);
    }
    ASSERT_TRUE(world.barrier().is_ok());
  }
}

TEST_F(ReshardTest, ExpertLayoutsResumeUnderOtherExpertLayoutsAndAlone) {
  Comm& world = testkit::world();
  const int w = world.size();
  const std::vector<double> want = reference();
  struct Case {
    int saved_ep, saved_zero, loaded_ep, loaded_zero;
  };
  // ep = world, ZeRO 0 and 3, to ep = 2 (over edp = world / 2 when world is 4) and to plain data
  // parallelism; and back from ep = 1 to ep = world.
  const Case cases[] = {{w, 0, std::min(w, 2), 3}, {w, 3, 1, 0}, {1, 2, w, 3}};
  for (const Case& k : cases) {
    SCOPED_TRACE(fmt::format("saved with ep {} zero {}, loaded with ep {} zero {}", k.saved_ep,
                             k.saved_zero, k.loaded_ep, k.loaded_zero));
    const std::string run_name =
        fmt::format("ep{}z{}_ep{}z{}", k.saved_ep, k.saved_zero, k.loaded_ep, k.loaded_zero);
    const std::vector<double> first =
        run(world, config(run_name, k.saved_zero, {fmt::format("parallel.ep={}", k.saved_ep)}), "",
            kStopAt);
    expect_close(first, want, 0, kStopAt);
    const fs::path step_dir = root_ / run_name / "checkpoints" / "step-00000003";
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->layout.world, w);
    EXPECT_EQ(manifest->layout.ep, k.saved_ep);
    EXPECT_EQ(manifest->layout.zero_stage, k.saved_zero);

    const RunConfig loaded =
        config(run_name, k.loaded_zero, {fmt::format("parallel.ep={}", k.loaded_ep)});
    expect_close(run(world, loaded, step_dir.string(), 0), want, kStopAt);
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      expect_close(run(*self, config(run_name + "_alone", 0), step_dir.string(), 0), want, kStopAt);
    }
    ASSERT_TRUE(world.barrier().is_ok());
  }
}

TEST_F(ReshardTest, ExpertLayoutRoundTripReproducesEveryTensorBitwise) {
  Comm& world = testkit::world();
  const int w = world.size();
  const fs::path first = root_ / "round_trip" / "checkpoints" / "step-00000003";
  run(world, config("round_trip", 3, {fmt::format("parallel.ep={}", w)}), "", kStopAt);
  const Hop hops[] = {{.ep = std::max(w / 2, 1), .zero = 1},
                      {.alone = true},
                      {.ep = w, .zero = 2}};
  round_trip(first, hops, "round_trip");
}

TEST_F(ReshardTest, TensorLayoutsResumeAndRoundTripBitwise) {
  Comm& world = testkit::world();
  const int w = world.size();
  if (w < 2) GTEST_SKIP() << "tensor parallelism needs two ranks";
  const std::vector<double> want = reference();
  auto layout = [](int tp, int ep, int etp = 1) {
    return std::vector<std::string>{fmt::format("parallel.tp={}", tp),
                                    fmt::format("parallel.ep={}", ep),
                                    fmt::format("parallel.etp={}", etp)};
  };
  const std::vector<double> saved = run(world, config("tp_first", 1, layout(2, 2)), "", kStopAt);
  expect_close(saved, want, 0, kStopAt);
  const fs::path first = root_ / "tp_first" / "checkpoints" / "step-00000003";
  expect_close(run(world, config("tp_resumed", 3, layout(w, 1)), first.string(), 0), want,
               kStopAt);

  const Hop hops[] = {{.alone = true},
                      {.tp = w, .ep = w, .zero = 3},
                      {.tp = w, .etp = 2, .zero = 1},
                      {.tp = w / 2, .zero = 2}};
  round_trip(first, hops, "tp_round_trip");
}

TEST_F(ReshardTest, CheckpointOneRankFindsCorruptIsMovedAsideByRankZero) {
  Comm& world = testkit::world();
  const std::vector<double> want = reference();
  const RunConfig c =
      config("corrupt_on_last_rank", 2, {"checkpoint.every=1", "checkpoint.keep_last=6"});
  expect_close(run(world, c, "", 2), want, 0, 2);
  // Under ZeRO-2 each rank reads the moments it saved, so only the last rank reads this file.
  const fs::path checkpoints = root_ / "corrupt_on_last_rank" / "checkpoints";
  const fs::path step2 = checkpoints / "step-00000002";
  const std::string file = fmt::format("optim-rank{:05d}.safetensors", world.size() - 1);
  if (world.rank() == 0) std::ofstream(step2 / file, std::ios::in | std::ios::out) << "garbage";
  ASSERT_TRUE(world.barrier().is_ok());

  const fs::path log_path = root_ / "corrupt_on_last_rank.log";
  std::FILE* log = world.rank() == 0 ? std::fopen(log_path.c_str(), "w") : stderr;
  expect_close(run(world, c, "auto", 0, log), want, 1);
  if (world.rank() != 0) return;
  std::fclose(log);
  const std::string text = testkit::read_file_bytes(log_path);
  const fs::path aside = checkpoints / ".invalid-step-00000002-1";
  EXPECT_THAT(text, ::testing::HasSubstr("checkpoint " + step2.string() + " is invalid: " +
                                         (step2 / file).string() + ": checksum"));
  if (world.size() > 1) {
    EXPECT_THAT(text, ::testing::HasSubstr(fmt::format("(on rank {})", world.size() - 1)));
  }
  EXPECT_THAT(text, ::testing::HasSubstr("moved it to " + aside.string()));
  EXPECT_TRUE(fs::exists(aside / file));
  auto saved = read_checkpoint_manifest(step2);
  ASSERT_TRUE(saved.has_value()) << saved.error().message();
  EXPECT_EQ(saved->layout.world, world.size());
}

}  // namespace
}  // namespace symphony
