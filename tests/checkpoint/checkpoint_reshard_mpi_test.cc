// Resharding: a checkpoint saved by the ranks of one layout (dp = the world size, some ZeRO stage)
// resumes under another (another ZeRO stage on the same ranks, or one process alone), and the
// resumed run's losses match one process trained without interruption within 1e-5 relative.
// The same across expert-parallel layouts (ep = the world size, ep = 2 over edp, ep = 1, and one
// process), and a chain of loads and saves through ep = world, world / 2, 1 (alone) and world
// again reproduces every tensor of the first checkpoint bitwise.
// The same across pipeline layouts (pp = the world size under 1F1B and ZB-H1, ZeRO 0 to 3, to
// pp = 2 beside dp, to plain data parallelism and to one process), and a chain through pp = world,
// 1, 2 (interleaved; beside tp when world is 4), 1 and world again, bitwise. With tied embeddings
// the last stage's copy of the embedding is not saved and is loaded, weights and moments, from
// the embedding the first stage saved; the same with multi-token prediction, whose modules on
// the last stage read such a copy of an untied embedding.
// The same for the deepseek-v3-tiny preset: ep = the world size under ZeRO-3 to plain data
// parallelism and to one process, and a round trip through one process and ep = 2.
// A checkpoint that only one rank finds corrupt is moved aside by rank 0 for every rank, and the
// run falls back and saves that step again. Runs under mpirun -np {1,2,4}.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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
#include "train/model_layout.h"
#include "train/train_step.h"
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
    auto c = load_run_config(preset_, overrides);
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

  // One process, uninterrupted, on rank 0; broadcast to all. `model`: overrides of the model.
  std::vector<double> reference(const std::vector<std::string>& model = {}) {
    Comm& world = testkit::world();
    std::vector<double> losses(kSteps);
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      losses = run(*self, config("reference", 0, model), "", 0);
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

  // The overrides of a pipeline of `pp` stages under `schedule` (with `vpp` model chunks per
  // stage); none for pp = 1.
  static std::vector<std::string> pipeline(int pp, const std::string& schedule = "1f1b",
                                           int vpp = 1) {
    if (pp <= 1) return {};
    return {fmt::format("parallel.pp={}", pp),
            fmt::format("parallel.pp_schedule=\"{}\"", schedule),
            fmt::format("parallel.vpp={}", vpp)};
  }

  // The state a run of `c` on `comm` would resume with, as the trainer builds it.
  struct Loaded {
    const ParallelLayout& layout;
    DeviceMesh& mesh;
    Transformer& model;
    DataParallel& data_parallel;
    const ResumePoint& point;
  };

  // Loads `from` into the layout of `c` on `comm`, as a resumed run does, and calls `then` with
  // it. `to`: the run's checkpoint directory. Collective over `comm`.
  template <typename Then>
  static Status load_then(Comm& comm, const RunConfig& c, const fs::path& from,
                          const fs::path& to, Then&& then) {
    SYM_TRY_ASSIGN(ParallelLayout layout, ParallelLayout::create(c.parallel, comm.size()));
    SYM_TRY_ASSIGN(DeviceMesh mesh, DeviceMesh::create(layout, comm));
    const ZeroStage zero = layout.zero_stage();
    const int64_t micro_batches =
        TrainStep::micro_batches_for(c.train, mesh.replicas(ReplicaGroup::kDense).size());
    SYM_TRY_ASSIGN(const ModelParallel model_parallel,
                   model_parallel_for(c, mesh, micro_batches));
    Transformer model(c.model, DType::kF32, BatchShape{c.train.micro_batch_size, c.train.seq_len},
                      Recompute::kNone, DataParallel::residency_for(zero), model_parallel);
    DataParallel data_parallel(zero, mesh, model, c.optim, c.parallel.bucket_mb);
    data_parallel.init_params(c.model, c.train.seed);
    auto warn = [](const std::string& message) { ADD_FAILURE() << message; };
    SYM_TRY_ASSIGN(std::optional<ResumePoint> point,
                   resume_from(from.string(), to, to_toml(c), comm, model, data_parallel, warn));
    if (!point) return Error::not_found("{}: nothing to load", from.string());
    return then(Loaded{layout, mesh, model, data_parallel, *point});
  }

  // Loads `from` into the layout of `c` on `comm` and saves that state at once (no step taken)
  // into the checkpoint directory `to`. Collective over `comm`.
  static Status load_and_save(Comm& comm, const RunConfig& c, const fs::path& from,
                              const fs::path& to) {
    return load_then(comm, c, from, to, [&](const Loaded& s) -> Status {
      CheckpointManifest header = s.point.manifest;
      header.tensors.clear();
      header.files.clear();
      header.layout = {comm.size(),
                       s.mesh.replicas(ReplicaGroup::kDense).size(),
                       int(s.layout.zero_stage()),
                       s.layout.describe(),
                       s.layout.size(Axis::kExpert),
                       s.layout.size(Axis::kPipeline)};
      auto warn = [](const std::string& message) { ADD_FAILURE() << message; };
      Checkpointer checkpointer({to, /*async=*/false, /*keep_last=*/3, /*keep_every=*/0, warn},
                                comm);
      SYM_TRY(checkpointer.save(std::move(header), s.model, s.data_parallel));
      return checkpointer.wait();
    });
  }

  // Loads `step_dir` into the layout of `c` on every rank; the rank holding the last stage's copy
  // of a tied embedding checks that its weights and AdamW moments equal, elementwise, the
  // embedding's in the checkpoint. Returns how many ranks hold such a copy.
  int expect_stage_copy_loaded(const RunConfig& c, const fs::path& step_dir,
                               const std::string& run,
                               const std::string& copy_of = "model.embed_tokens.weight") {
    Comm& world = testkit::world();
    int32_t holders = 0;
    Status s = load_then(world, c, step_dir, root_ / run, [&](const Loaded& l) -> Status {
      const ParamId id = l.model.stage_copy();
      if (id < 0) return Status::ok();
      ++holders;
      ParamStore& store = l.model.params();
      const ParamInfo& info = store.info(id);
      EXPECT_EQ(info.name, copy_of);
      EXPECT_TRUE(info.shard.stage_copy);
      TensorBox box;
      for (int d = 0; d < info.global_shape.ndim; ++d) {
        box.offset.push_back(info.box_offset[size_t(d)]);
        box.shape.push_back(info.shape.dims[size_t(d)]);
      }
      const CheckpointManifest& m = l.point.manifest;
      const fs::path& dir = l.point.step_dir;
      SYM_TRY_ASSIGN(std::vector<float> weights, read_checkpoint_box(m, dir, info.name, box));
      SYM_TRY_ASSIGN(std::vector<float> exp_avg,
                     read_checkpoint_box(m, dir, "exp_avg." + info.name, box));
      SYM_TRY_ASSIGN(std::vector<float> exp_avg_sq,
                     read_checkpoint_box(m, dir, "exp_avg_sq." + info.name, box));
      const int64_t n = info.shape.numel();
      auto same = [](const float* got, const float* want, int64_t count) {
        return std::memcmp(got, want, size_t(count) * sizeof(float)) == 0;
      };
      if (l.data_parallel.weights_replicated()) {
        EXPECT_TRUE(same(store.param(id).f32(), weights.data(), n));
      }
      int64_t moments = 0;
      for (const StateSlice& slice : l.data_parallel.held_slices()) {
        const int64_t a = std::max(slice.offset, info.offset);
        const int64_t b = std::min(slice.offset + slice.numel, info.offset + n);
        if (a >= b) continue;
        const int64_t at = a - slice.offset, begin = a - info.offset;
        if (!l.data_parallel.weights_replicated()) {
          EXPECT_TRUE(same(slice.weights + at, weights.data() + begin, b - a));
        }
        EXPECT_TRUE(same(slice.exp_avg + at, exp_avg.data() + begin, b - a));
        EXPECT_TRUE(same(slice.exp_avg_sq + at, exp_avg_sq.data() + begin, b - a));
        moments += b - a;
      }
      EXPECT_GT(moments, 0);
      return Status::ok();
    });
    EXPECT_TRUE(s.is_ok()) << s.message();
    EXPECT_TRUE(world.all_reduce(std::span<int32_t>(&holders, 1), ReduceOp::kSum).is_ok());
    return holders;
  }

  // What a checkpoint's model has besides weights and moments: routed experts and their
  // selection biases, or neither.
  enum class Experts : uint8_t { kYes, kNo };

  // Every tensor of `got` equals that of `want` bitwise (each gathered whole from its pieces),
  // and so do the step, counters and loader state. One process reads both.
  static void expect_same_state(const fs::path& want_dir, const fs::path& got_dir,
                                Experts model_experts) {
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
    if (model_experts == Experts::kYes) {
      EXPECT_GT(experts, 0);
      EXPECT_GT(biases, 0);
    }
  }

  // One hop of a round trip: the layout the previous checkpoint is loaded into and saved from.
  struct Hop {
    int tp = 1, ep = 1, etp = 1, pp = 1, zero = 0;
    bool alone = false;  // one process (rank 0), else every rank
    const char* schedule = "1f1b";  // with pp > 1
    int vpp = 1;
    const char* split = nullptr;    // parallel.pp_layers, with pp > 1
  };

  // Each hop loads the previous hop's checkpoint (the first: `first`) into its layout and saves
  // it again at once; after each, every tensor, moment and counter equals `first`'s bitwise.
  void round_trip(const fs::path& first, std::span<const Hop> hops, const std::string& name,
                  const std::vector<std::string>& model = {},
                  Experts model_experts = Experts::kYes) {
    Comm& world = testkit::world();
    fs::path from = first;
    for (size_t i = 0; i < hops.size(); ++i) {
      const Hop& hop = hops[i];
      SCOPED_TRACE(fmt::format("hop {}: tp {} ep {} etp {} pp {} zero {}{}", i + 1, hop.tp, hop.ep,
                               hop.etp, hop.pp, hop.zero, hop.alone ? " alone" : ""));
      const std::string run = fmt::format("{}_{}", name, i + 1);
      const fs::path to = root_ / run;
      std::vector<std::string> overrides = {fmt::format("parallel.tp={}", hop.tp),
                                            fmt::format("parallel.ep={}", hop.ep),
                                            fmt::format("parallel.etp={}", hop.etp)};
      for (const std::string& o : pipeline(hop.pp, hop.schedule, hop.vpp)) overrides.push_back(o);
      if (hop.split) overrides.push_back(fmt::format("parallel.pp_layers={}", hop.split));
      overrides.insert(overrides.end(), model.begin(), model.end());
      const RunConfig c = config(run, hop.zero, overrides);
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
          EXPECT_EQ(m->layout.pp, hop.pp);
          EXPECT_EQ(m->layout.world, hop.alone ? 1 : world.size());
          if (hop.tp > 1) {
            EXPECT_NE(m->layout.description.find(fmt::format("tp={}", hop.tp)), std::string::npos)
                << m->layout.description;
          }
          expect_same_state(first, from, model_experts);
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
  std::string preset_ = "tiny";  // the model of config()
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

TEST_F(ReshardTest, PipelineLayoutsResumeUnderOtherLayoutsAndAlone) {
  Comm& world = testkit::world();
  const int w = world.size();
  if (w < 2) GTEST_SKIP() << "pipeline parallelism needs two ranks";
  const std::vector<double> want = reference();
  struct Case {
    int saved_pp, saved_zero;
    const char* saved_schedule;
    int loaded_pp, loaded_zero;
    const char* loaded_schedule;
  };
  // pp = world (ZeRO 0 and 3) to pp = 2 beside dp = world / 2 and to plain data parallelism;
  // pp = 2 under ZB-H1 to pp = world; dp = world to pp = world. Each also to one process.
  const Case cases[] = {{w, 0, "1f1b", 2, 3, "1f1b"},
                        {w, 3, "1f1b", 1, 0, "1f1b"},
                        {2, 1, "zb-h1", w, 2, "zb-h1"},
                        {1, 2, "1f1b", w, 0, "1f1b"}};
  for (const Case& k : cases) {
    SCOPED_TRACE(fmt::format("saved with pp {} zero {} {}, loaded with pp {} zero {} {}",
                             k.saved_pp, k.saved_zero, k.saved_schedule, k.loaded_pp,
                             k.loaded_zero, k.loaded_schedule));
    const std::string run_name = fmt::format("pp{}z{}_pp{}z{}", k.saved_pp, k.saved_zero,
                                             k.loaded_pp, k.loaded_zero);
    const std::vector<double> first =
        run(world, config(run_name, k.saved_zero, pipeline(k.saved_pp, k.saved_schedule)), "",
            kStopAt);
    expect_close(first, want, 0, kStopAt);
    const fs::path step_dir = root_ / run_name / "checkpoints" / "step-00000003";
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->layout.world, w);
    EXPECT_EQ(manifest->layout.pp, k.saved_pp);
    EXPECT_EQ(manifest->layout.dp, w / k.saved_pp);
    EXPECT_EQ(manifest->layout.zero_stage, k.saved_zero);

    const RunConfig loaded =
        config(run_name, k.loaded_zero, pipeline(k.loaded_pp, k.loaded_schedule));
    expect_close(run(world, loaded, step_dir.string(), 0), want, kStopAt);
    if (world.rank() == 0) {
      std::unique_ptr<Comm> self = make_self_comm();
      expect_close(run(*self, config(run_name + "_alone", 0), step_dir.string(), 0), want, kStopAt);
    }
    ASSERT_TRUE(world.barrier().is_ok());
  }
}

TEST_F(ReshardTest, PipelineRoundTripReproducesEveryTensorBitwise) {
  Comm& world = testkit::world();
  const int w = world.size();
  if (w < 2) GTEST_SKIP() << "pipeline parallelism needs two ranks";
  const fs::path first = root_ / "pp_round_trip" / "checkpoints" / "step-00000003";
  run(world, config("pp_round_trip", 3, pipeline(w)), "", kStopAt);
  // pp = world -> 1 -> 2 (two chunks per stage, interleaved: stage 0 holds layers 0 and 2;
  // beside tp = 2 when world is 4) -> 1 -> 2 split inside layers 1 and 2 (stage 0: layer 0, layer
  // 1's attention; stage 1: layer 1's MoE, layers 2 and 3; then the other way) -> world.
  const Hop hops[] = {{.alone = true},
                      {.tp = w / 2, .pp = 2, .zero = 1, .schedule = "interleaved", .vpp = 2},
                      {.alone = true},
                      {.pp = 2, .zero = 3, .split = "[1.5,2.5]"},
                      {.pp = 2, .schedule = "zb-h1", .split = "[2.5,1.5]"},
                      {.pp = w, .zero = 2}};
  round_trip(first, hops, "pp_round_trip");
}

TEST_F(ReshardTest, TiedEmbeddingStageCopyIsLoadedFromTheEmbedding) {
  Comm& world = testkit::world();
  const int w = world.size();
  if (w < 2) GTEST_SKIP() << "pipeline parallelism needs two ranks";
  const std::vector<std::string> tied = {"model.num_experts=0", "model.tie_word_embeddings=true"};
  auto with = [&](std::vector<std::string> overrides) {
    overrides.insert(overrides.end(), tied.begin(), tied.end());
    return overrides;
  };
  const std::vector<double> want = reference(tied);
  const std::vector<double> first = run(world, config("tied", 0, with(pipeline(w))), "", kStopAt);
  expect_close(first, want, 0, kStopAt);
  const fs::path step_dir = root_ / "tied" / "checkpoints" / "step-00000003";
  if (world.rank() == 0) {
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->layout.pp, w);
    // The embedding once, from the first stage; no LM head of its own.
    int embeddings = 0;
    for (const CheckpointTensor& t : manifest->tensors) {
      embeddings += t.name == "model.embed_tokens.weight";
      EXPECT_EQ(t.name.find("lm_head"), std::string::npos) << t.name;
    }
    EXPECT_EQ(embeddings, 1);
    EXPECT_NE(manifest->find("exp_avg.model.embed_tokens.weight"), nullptr);
  }

  // The last stage's copy receives the embedding's weights and moments, under ZeRO 0 and 3.
  EXPECT_EQ(expect_stage_copy_loaded(config("tied_copy_z0", 0, with(pipeline(w))), step_dir,
                                     "tied_copy_z0"),
            1);
  EXPECT_EQ(expect_stage_copy_loaded(config("tied_copy_z3", 3, with(pipeline(2))), step_dir,
                                     "tied_copy_z3"),
            w / 2);
  // Resumed under another schedule and stage, and alone, it trains on like one process.
  expect_close(run(world, config("tied_resumed", 3, with(pipeline(w, "zb-h1"))),
                   step_dir.string(), 0),
               want, kStopAt);
  if (world.rank() == 0) {
    std::unique_ptr<Comm> self = make_self_comm();
    expect_close(run(*self, config("tied_alone", 0, tied), step_dir.string(), 0), want, kStopAt);
  }
  ASSERT_TRUE(world.barrier().is_ok());

  const Hop hops[] = {{.alone = true}, {.pp = 2, .zero = 3}, {.pp = w, .zero = 1}};
  round_trip(step_dir, hops, "tied_round_trip", tied, Experts::kNo);
}

// The head split with an untied LM head (parallel.pp_head_share): the first stage's copy of the
// head is not saved and is loaded, weights and moments, from the head; resumed with the split from
// a checkpoint saved without it, the run trains on like one process.
TEST_F(ReshardTest, HeadSplitCopyOfTheLmHeadIsLoadedFromIt) {
  Comm& world = testkit::world();
  const int w = world.size();
  if (w < 2) GTEST_SKIP() << "pipeline parallelism needs two ranks";
  const std::vector<double> want = reference();
  const std::vector<double> first = run(world, config("head_split", 0, pipeline(2)), "", kStopAt);
  expect_close(first, want, 0, kStopAt);
  const fs::path step_dir = root_ / "head_split" / "checkpoints" / "step-00000003";
  std::vector<std::string> split = pipeline(2, "zb-h1");
  split.push_back("parallel.pp_head_share=0.25");
  EXPECT_EQ(expect_stage_copy_loaded(config("head_copy_z0", 0, split), step_dir, "head_copy_z0",
                                     "lm_head.weight"),
            w / 2);
  EXPECT_EQ(expect_stage_copy_loaded(config("head_copy_z3", 3, split), step_dir, "head_copy_z3",
                                     "lm_head.weight"),
            w / 2);
  expect_close(run(world, config("head_resumed", 1, split), step_dir.string(), 0), want, kStopAt);
  // A run with the split saves the head once, from the last stage.
  expect_close(run(world, config("head_saved", 0, split), "", kStopAt), want, 0, kStopAt);
  const fs::path saved = root_ / "head_saved" / "checkpoints" / "step-00000003";
  if (world.rank() == 0) {
    auto manifest = read_checkpoint_manifest(saved);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    int heads = 0;
    for (const CheckpointTensor& t : manifest->tensors) heads += t.name == "lm_head.weight";
    EXPECT_EQ(heads, 1);
  }
}

// Multi-token prediction under pipeline parallelism: its modules live on the last stage, which
// holds a copy of the (untied) embedding for their input; the copy is not saved and is loaded,
// weights and moments, from the embedding. The modules' tensors and selection biases reshard like
// any layer's.
TEST_F(ReshardTest, MtpModulesAndTheirEmbeddingCopyReshard) {
  Comm& world = testkit::world();
  const int w = world.size();
  if (w < 2) GTEST_SKIP() << "pipeline parallelism needs two ranks";
  const std::vector<std::string> mtp = {"model.num_nextn_predict_layers=1"};
  auto with = [&](std::vector<std::string> overrides) {
    overrides.insert(overrides.end(), mtp.begin(), mtp.end());
    return overrides;
  };
  const std::vector<double> want = reference(mtp);
  const std::vector<double> first = run(world, config("mtp", 0, with(pipeline(w))), "", kStopAt);
  expect_close(first, want, 0, kStopAt);
  const fs::path step_dir = root_ / "mtp" / "checkpoints" / "step-00000003";
  if (world.rank() == 0) {
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    int embeddings = 0;
    for (const CheckpointTensor& t : manifest->tensors)
      embeddings += t.name == "model.embed_tokens.weight";
    EXPECT_EQ(embeddings, 1);
    EXPECT_NE(manifest->find("model.layers.4.eh_proj.weight"), nullptr);
    EXPECT_NE(manifest->find("exp_avg.model.layers.4.mlp.experts.gate_proj"), nullptr);
  }
  EXPECT_EQ(expect_stage_copy_loaded(config("mtp_copy_z3", 3, with(pipeline(2))), step_dir,
                                     "mtp_copy_z3"),
            w / 2);
  expect_close(run(world, config("mtp_resumed", 3, with(pipeline(w, "zb-h1"))),
                   step_dir.string(), 0),
               want, kStopAt);
  if (world.rank() == 0) {
    std::unique_ptr<Comm> self = make_self_comm();
    expect_close(run(*self, config("mtp_alone", 0, mtp), step_dir.string(), 0), want, kStopAt);
  }
  ASSERT_TRUE(world.barrier().is_ok());

  const Hop hops[] = {{.alone = true}, {.pp = 2, .zero = 3}, {.pp = w, .zero = 1}};
  round_trip(step_dir, hops, "mtp_round_trip", mtp);
}

// The deepseek-v3-tiny preset (MLA, sigmoid group-limited routing with its selection biases, a
// shared expert, one MTP module): saved by expert parallelism over every rank under ZeRO-3, it
// resumes under plain data parallelism with ZeRO-1 and alone like one process, and a round trip
// through one process and ep = 2 reproduces every tensor bitwise.
TEST_F(ReshardTest, DeepseekV3TinyReshardsAcrossExpertAndDataLayouts) {
  preset_ = "deepseek-v3-tiny";
  Comm& world = testkit::world();
  const int w = world.size();
  const std::vector<double> want = reference();
  double worst = 0;  // relative to one process, over every run below
  auto close = [&](const std::vector<double>& got, int64_t first, int64_t last = kSteps) {
    expect_close(got, want, first, last);
    for (size_t i = 0; i < got.size() && int64_t(i) < last - first; ++i)
      worst = std::max(worst, std::abs(got[i] - want[size_t(first) + i]) /
                                  std::abs(want[size_t(first) + i]));
  };
  const std::string saved_ep = fmt::format("parallel.ep={}", w);
  close(run(world, config("ds", 3, {saved_ep}), "", kStopAt), 0, kStopAt);
  const fs::path step_dir = root_ / "ds" / "checkpoints" / "step-00000003";
  if (world.rank() == 0) {
    auto manifest = read_checkpoint_manifest(step_dir);
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    EXPECT_EQ(manifest->layout.ep, w);
    EXPECT_EQ(manifest->layout.zero_stage, 3);
    for (const char* name : {"model.layers.1.self_attn.kv_b_proj.weight",
                             "exp_avg.model.layers.4.mlp.experts.gate_proj",
                             "model.layers.4.mlp.gate.e_score_correction_bias"})
      EXPECT_NE(manifest->find(name), nullptr) << name;
  }
  close(run(world, config("ds_dp", 1), step_dir.string(), 0), kStopAt);
  if (world.rank() == 0) {
    std::unique_ptr<Comm> self = make_self_comm();
    close(run(*self, config("ds_alone", 0), step_dir.string(), 0), kStopAt);
    std::printf("  deepseek-v3-tiny, %d ranks: worst relative loss difference %.2e\n", w, worst);
  }
  ASSERT_TRUE(world.barrier().is_ok());

  const Hop hops[] = {{.alone = true}, {.ep = std::min(w, 2), .zero = 2}};
  round_trip(step_dir, hops, "ds_round_trip");
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
