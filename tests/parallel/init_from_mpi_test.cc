// --init-from under every kind of layout gives the weights one process gets: the source's, each
// rank holding exactly its blocks. Sources (written by rank 0 from one process): a model file of
// `tiny` with non-zero selection biases, a checkpoint of the same weights, a Hugging Face export
// of `tiny` without shared experts, and a model file with tied embeddings (whose LM head is the
// last pipeline stage's copy of the embedding). Layouts by world size:
//   1: one process;
//   2: dp2 ZeRO-3, tp2 (with and without sequence parallelism), pp2 1F1B, pp2 ZB-H1 with ZeRO-1,
//      ep2 with ZeRO-2;
//   4: tp2 x pp2, dp2 x tp2 ZeRO-3, ep2 x etp2 ZeRO-3, pp2 interleaved (vpp 2) x dp2, pp4.
// Every rank checks each element of each block it holds (after gathering ZeRO-3 shards) against
// the source tensor's element at the block's global index, bitwise, and the selection biases of
// its stage; then one training step from the model file's weights has the loss one process has
// on the same global batch (within 1e-5 relative). Runs under mpirun -np {1,2,4}.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/checkpointer.h"
#include "checkpoint/hf_export.h"
#include "checkpoint/safetensors.h"
#include "config/run_config.h"
#include "core/rng.h"
#include "parallel/comm.h"
#include "testkit/mpi_world.h"
#include "testkit/parallel_run.h"
#include "testkit/temp_dir.h"
#include "train/init_from.h"
#include "train/model_file.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kGlobalMicroBatches = 4;
const uint64_t kTag = key_for(17, "init-from-test");

struct Source {
  const char* name;
  std::vector<std::string> model;  // overrides of `tiny`'s model section
  const char* path;                // under the test directory
  const char* oracle;              // the model file holding the same weights
  bool has_biases;
};

const std::vector<Source>& sources() {
  static const std::vector<Source> all = {
      {"model file", {}, "tiny/model.safetensors", "tiny/model.safetensors", true},
      {"checkpoint", {}, "tiny/checkpoints", "tiny/model.safetensors", true},
      {"Hugging Face", {"model.n_shared_experts=0"}, "hf", "tiny-hf/model.safetensors", false},
      {"tied", {"model.tie_word_embeddings=true"}, "tied/model.safetensors",
       "tied/model.safetensors", true}};
  return all;
}

struct Layout {
  const char* name;
  int ranks;
  std::vector<std::string> parallel;
};

std::vector<Layout> layouts_for(int world) {
  const std::vector<Layout> all = {
      {"one process", 1, {}},
      {"dp2 zero3", 2, {"parallel.zero_stage=3"}},
      {"tp2", 2, {"parallel.tp=2"}},
      {"tp2 without sp", 2, {"parallel.tp=2", "parallel.sequence_parallel=false"}},
      {"pp2 1f1b", 2, {"parallel.pp=2"}},
      {"pp2 zb-h1 zero1", 2,
       {"parallel.pp=2", "parallel.pp_schedule=\"zb-h1\"", "parallel.zero_stage=1"}},
      {"ep2 zero2", 2, {"parallel.ep=2", "parallel.zero_stage=2"}},
      {"tp2 pp2", 4, {"parallel.tp=2", "parallel.pp=2"}},
      {"dp2 tp2 zero3", 4, {"parallel.tp=2", "parallel.zero_stage=3"}},
      {"ep2 etp2 zero3", 4, {"parallel.ep=2", "parallel.etp=2", "parallel.zero_stage=3"}},
      {"pp2 vpp2 interleaved dp2", 4,
       {"parallel.pp=2", "parallel.vpp=2", "parallel.pp_schedule=\"interleaved\""}},
      {"pp4", 4, {"parallel.pp=4"}}};
  std::vector<Layout> out;
  for (const Layout& l : all)
    if (l.ranks == world) out.push_back(l);
  return out;
}

RunConfig config_for(const std::vector<std::string>& model,
                     const std::vector<std::string>& parallel) {
  std::vector<std::string> overrides = {"train.seq_len=32", "train.micro_batch_size=2",
                                        "optim.warmup_steps=1", "optim.lr=1e-3"};
  overrides.insert(overrides.end(), model.begin(), model.end());
  overrides.insert(overrides.end(), parallel.begin(), parallel.end());
  Result<RunConfig> c = load_run_config("tiny", overrides);
  SYM_CHECK(c.has_value(), "{}", c.error().message());
  return *c;
}

// Writes the sources into `dir` (one process).
void write_sources(const fs::path& dir) {
  std::unique_ptr<Comm> self = make_self_comm();
  auto make_run = [&](const std::vector<std::string>& model, uint64_t seed) {
    RunConfig c = config_for(model, {});
    c.train.seed = seed;
    return std::make_unique<testkit::TrainingRun>(c, testkit::mesh_for(c, *self),
                                                  kGlobalMicroBatches, kTag);
  };
  auto set_biases = [](Transformer& model, float scale) {
    for (int64_t l = 0; l < model.config().num_hidden_layers; ++l) {
      if (!model.config().is_moe_layer(l)) continue;
      View b = model.balance_bias(l);
      for (int64_t e = 0; e < b.numel(); ++e)
        b.f32()[e] = scale * float((l * 31 + e * 7) % 11 - 5);
    }
  };
  {
    auto run = make_run({}, 21);
    set_biases(*run->model, 0.01f);
    fs::create_directories(dir / "tiny");
    SYM_CHECK(save_model_file(dir / "tiny/model.safetensors", run->config, *run->model).is_ok(),
              "saving the model file");
    CheckpointManifest header;
    header.step = 1;
    header.seed = run->config.train.seed;
    header.config_toml = to_toml(run->config);
    header.layout = {1, 1, 0, "single process", 1, 1};
    Checkpointer checkpointer({dir / "tiny/checkpoints", /*async=*/false, 3, 0, {}}, *self);
    SYM_CHECK(checkpointer.save(std::move(header), *run->model, *run->dp).is_ok(), "checkpoint");
    SYM_CHECK(checkpointer.wait().is_ok(), "checkpoint");
  }
  {
    auto run = make_run({"model.n_shared_experts=0"}, 22);
    fs::create_directories(dir / "tiny-hf");
    SYM_CHECK(
        save_model_file(dir / "tiny-hf/model.safetensors", run->config, *run->model).is_ok(),
        "saving the model file");
    HfExportOptions options;
    options.tokenizer = "none";
    Result<HfExportReport> r = export_hf(run->config, *run->model, dir / "hf", options);
    SYM_CHECK(r.has_value(), "{}", r.error().message());
  }
  {
    auto run = make_run({"model.tie_word_embeddings=true"}, 23);
    set_biases(*run->model, -0.02f);
    fs::create_directories(dir / "tied");
    SYM_CHECK(save_model_file(dir / "tied/model.safetensors", run->config, *run->model).is_ok(),
              "saving the model file");
  }
}

class InitFromMpiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Comm& world = testkit::world();
    std::string path;
    if (world.rank() == 0) {
      dir_ = new testkit::TempDir("init_from_mpi_test");
      path = dir_->path().string();
      write_sources(dir_->path());
    }
    int64_t n = int64_t(path.size());
    SYM_CHECK(world.broadcast(std::span<int64_t>(&n, 1), 0).is_ok(), "broadcast");
    path.resize(size_t(n));
    SYM_CHECK(world.broadcast(path.data(), n, CommDType::kU8, 0).is_ok(), "broadcast");
    root_ = new fs::path(path);
  }
  static void TearDownTestSuite() {
    SYM_CHECK(testkit::world().barrier().is_ok(), "barrier");
    delete dir_;
    delete root_;
  }

  // Every element this rank holds against the oracle's element at its global index, bitwise.
  static void expect_source_weights(testkit::TrainingRun& run, const Source& source) {
    Result<SafetensorsFile> oracle = SafetensorsFile::open(*root_ / source.oracle);
    ASSERT_TRUE(oracle.has_value()) << oracle.error().message();
    ASSERT_TRUE(run.dp->gather_full_weights().is_ok());
    ParamStore& store = run.model->params();
    for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
      const ParamInfo& info = store.info(id);
      Result<SafetensorsTensor> want = oracle->get(info.name);
      ASSERT_TRUE(want.has_value()) << info.name;
      ConstView got = store.param(id);
      int64_t differing = 0;
      for (int64_t i = 0; i < got.numel(); ++i) {
        float w;
        std::memcpy(&w, want->data + info.global_index(i) * int64_t(sizeof(float)), sizeof(w));
        if (std::memcmp(&w, got.f32() + i, sizeof(float)) != 0) ++differing;
      }
      EXPECT_EQ(differing, 0) << info.name << ": " << differing << " of " << got.numel()
                              << " elements differ";
    }
    run.dp->release_full_weights();
    for (int64_t l = 0; l < run.config.model.num_hidden_layers; ++l) {
      View got = run.model->balance_bias(l);
      if (got.empty()) continue;  // a dense layer, or another stage's
      Result<SafetensorsTensor> want = oracle->get(balance_bias_name(l));
      ASSERT_TRUE(want.has_value());
      std::vector<float> expected(size_t(got.numel()), 0.0f);
      if (source.has_biases) std::memcpy(expected.data(), want->data, size_t(want->bytes));
      EXPECT_EQ(std::memcmp(expected.data(), got.raw(), size_t(got.bytes())), 0)
          << balance_bias_name(l);
    }
  }

  static Status init(testkit::TrainingRun& run, const Source& source) {
    SYM_TRY_ASSIGN(const WeightSource from, open_init_source(*root_ / source.path));
    const Result<InitFromReport> report = init_weights_from(from, *run.model, *run.dp);
    return report.has_value() ? Status::ok() : report.error();
  }

  static inline testkit::TempDir* dir_ = nullptr;  // rank 0's
  static inline fs::path* root_ = nullptr;
};

TEST_F(InitFromMpiTest, EveryLayoutHoldsTheSourcesWeights) {
  Comm& world = testkit::world();
  for (const Layout& layout : layouts_for(world.size())) {
    for (const Source& source : sources()) {
      SCOPED_TRACE(fmt::format("{} from the {}", layout.name, source.name));
      const RunConfig c = config_for(source.model, layout.parallel);
      testkit::TrainingRun run(c, testkit::mesh_for(c, world), kGlobalMicroBatches, kTag);
      const Status s = init(run, source);
      ASSERT_TRUE(s.is_ok()) << s.message();
      expect_source_weights(run, source);
    }
  }
}

TEST_F(InitFromMpiTest, OneStepFromTheSourceMatchesOneProcess) {
  Comm& world = testkit::world();
  const Source& source = sources().front();
  std::unique_ptr<Comm> self = make_self_comm();
  const RunConfig single = config_for(source.model, {});
  testkit::TrainingRun reference(single, testkit::mesh_for(single, *self), kGlobalMicroBatches,
                                 kTag);
  ASSERT_TRUE(init(reference, source).is_ok());
  const double want = reference.train(1).at(0);
  for (const Layout& layout : layouts_for(world.size())) {
    SCOPED_TRACE(layout.name);
    const RunConfig c = config_for(source.model, layout.parallel);
    testkit::TrainingRun run(c, testkit::mesh_for(c, world), kGlobalMicroBatches, kTag);
    ASSERT_TRUE(init(run, source).is_ok());
    const double got = run.train(1).at(0);
    EXPECT_LE(std::abs(got - want), 1e-5 * std::abs(want)) << got << " vs " << want;
  }
}

}  // namespace
}  // namespace symphony
