// Starting a run from another model's weights (train/init_from.h): a `tiny` source run (with
// aux-loss-free selection biases) gives a model file, a run directory, a directory of
// checkpoints, a checkpoint step directory and, exported, a Hugging Face directory. From each:
//   - the weights right after init equal the source model file's bitwise, selection biases
//     included (zero from the Hugging Face directory, which has none);
//   - the first step's loss of a run started from it equals the source model's loss on the same
//     batch, evaluated;
//   - mismatches are refused naming the tensor and file or the config key; nothing existing is
//     overwritten; a checkpoint to resume takes precedence.
#include "train/init_from.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "checkpoint/hf_export.h"
#include "checkpoint/safetensors.h"
#include "monitor/metrics_log.h"
#include "parallel/comm.h"
#include "testkit/hf_testing.h"
#include "testkit/markov_tokens.h"
#include "testkit/parallel_run.h"
#include "testkit/temp_dir.h"
#include "train/model_file.h"
#include "train/train_data.h"
#include "train/trainer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kSourceSteps = 3;

class InitFromTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testkit::TempDir("init_from_test");
    testkit::write_markov_tokens(*dir_ / "train.tok", 40000, 1);
    RunConfig c = config("src", kSourceSteps,
                         {"checkpoint.every=1", "model.bias_update_rate=0.01"});
    TrainOptions options;
    options.progress = ProgressOutput::kNone;
    Result<TrainResult> r = train(c, options);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    // The Hugging Face export of the same weights without the selection biases, which no
    // supported architecture has.
    Result<LoadedModel> loaded = load_model_file(model_file(), {1, 1}, Recompute::kFull);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
    zero_biases(*loaded->model);
    HfExportOptions hf;
    hf.tokenizer = "none";
    Result<HfExportReport> exported = export_hf(loaded->config, *loaded->model, hf_dir(), hf);
    ASSERT_TRUE(exported.has_value()) << exported.error().message();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static RunConfig config(const std::string& run, int64_t steps,
                          std::vector<std::string> extra = {}) {
    std::vector<std::string> overrides = {
        "train.steps=" + std::to_string(steps), "optim.warmup_steps=1", "train.eval_every=0",
        "train.global_batch_tokens=512", "model.n_shared_experts=0",
        "data.train_path=\"" + (*dir_ / "train.tok").string() + "\"",
        "train.run_dir=\"" + (*dir_ / run).string() + "\""};
    overrides.insert(overrides.end(), extra.begin(), extra.end());
    Result<RunConfig> c = load_run_config("tiny", overrides);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  static fs::path model_file() { return *dir_ / "src" / "model.safetensors"; }
  static fs::path hf_dir() { return *dir_ / "hf"; }
  static fs::path step_dir() {
    return *dir_ / "src" / "checkpoints" / fmt::format("step-{:08d}", kSourceSteps);
  }

  static void zero_biases(Transformer& model) {
    for (int64_t l = 0; l < model.config().num_hidden_layers; ++l)
      if (model.config().is_moe_layer(l)) {
        View b = model.balance_bias(l);
        std::memset(b.raw(), 0, size_t(b.bytes()));
      }
  }

  struct Source {
    fs::path path;
    WeightSourceKind kind;
    bool has_biases;
  };
  static std::vector<Source> sources() {
    return {{model_file(), WeightSourceKind::kModelFile, true},
            {*dir_ / "src", WeightSourceKind::kModelFile, true},
            {*dir_ / "src" / "checkpoints", WeightSourceKind::kCheckpoint, true},
            {step_dir(), WeightSourceKind::kCheckpoint, true},
            {hf_dir(), WeightSourceKind::kHfDirectory, false}};
  }

  static inline testkit::TempDir* dir_ = nullptr;
};

TEST_F(InitFromTest, WeightsAfterInitEqualTheSourceBitwise) {
  Result<SafetensorsFile> file = SafetensorsFile::open(model_file());
  ASSERT_TRUE(file.has_value()) << file.error().message();
  std::unique_ptr<Comm> self = make_self_comm();
  const RunConfig c = config("unused", 1);
  for (const Source& s : sources()) {
    SCOPED_TRACE(s.path.string());
    testkit::TrainingRun run(c, testkit::mesh_for(c, *self), 2, 1);
    Result<WeightSource> source = open_init_source(s.path);
    ASSERT_TRUE(source.has_value()) << source.error().message();
    EXPECT_EQ(source->kind(), s.kind);
    Result<InitFromReport> report = init_weights_from(*source, *run.model, *run.dp);
    ASSERT_TRUE(report.has_value()) << report.error().message();
    const int64_t moe_layers = c.model.num_hidden_layers - c.model.first_k_dense_replace;
    const int64_t params = int64_t(run.model->params().infos().size());
    EXPECT_EQ(report->tensors, params + (s.has_biases ? moe_layers : 0));
    EXPECT_EQ(report->zero_biases, s.has_biases ? 0 : moe_layers);
    ParamStore& store = run.model->params();
    for (ParamId id = 0; id < ParamId(store.infos().size()); ++id) {
      const std::string& name = store.info(id).name;
      Result<SafetensorsTensor> want = file->get(name);
      ASSERT_TRUE(want.has_value()) << name;
      ConstView got = store.param(id);
      ASSERT_EQ(want->bytes, got.bytes()) << name;
      EXPECT_EQ(std::memcmp(want->data, got.raw(), size_t(got.bytes())), 0) << name;
    }
    bool some_bias_nonzero = false;
    for (int64_t l = c.model.first_k_dense_replace; l < c.model.num_hidden_layers; ++l) {
      Result<SafetensorsTensor> want = file->get(balance_bias_name(l));
      ASSERT_TRUE(want.has_value());
      std::vector<float> expected(size_t(c.model.num_experts), 0.0f);
      if (s.has_biases) std::memcpy(expected.data(), want->data, size_t(want->bytes));
      View got = run.model->balance_bias(l);
      for (int64_t e = 0; e < c.model.num_experts; ++e) {
        EXPECT_EQ(got.f32()[e], expected[size_t(e)]) << "layer " << l << " expert " << e;
        some_bias_nonzero |= expected[size_t(e)] != 0.0f;
      }
    }
    EXPECT_EQ(some_bias_nonzero, s.has_biases) << "the source run's biases were updated";
  }
}

TEST_F(InitFromTest, FirstStepLossEqualsTheSourceModelsLossOnTheSameBatch) {
  for (const Source& s : sources()) {
    SCOPED_TRACE(s.path.string());
    const std::string run = "ft-" + std::to_string(int(s.kind)) + "-" + s.path.filename().string();
    RunConfig c = config(run, 1);
    // The source model, as the new run should start: evaluated on the new run's first batch.
    Result<LoadedModel> loaded = load_model_file(
        model_file(), {c.train.micro_batch_size, c.train.seq_len}, Recompute::kNone);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
    if (!s.has_biases) zero_biases(*loaded->model);
    Result<std::unique_ptr<TrainData>> data = open_train_data(c, DataParallelRank{0, 1});
    ASSERT_TRUE(data.has_value()) << data.error().message();
    const BatchShape shape{c.train.micro_batch_size, c.train.seq_len};
    std::vector<int32_t> in(size_t(shape.rows())), tgt(size_t(shape.rows()));
    double loss_sum = 0;
    int64_t count = 0;
    for (int64_t m = 0; m < c.train.global_batch_tokens / shape.rows(); ++m) {
      (*data)->loader->next(in, tgt);
      const CrossEntropyResult ce = loaded->model->evaluate(Exec::cpu(), shape, in, tgt);
      loss_sum += ce.loss_sum;
      count += ce.count;
    }
    const double expected = loss_sum / double(count);

    TrainOptions options;
    options.progress = ProgressOutput::kNone;
    options.init_from = s.path.string();
    Result<TrainResult> r = train(c, options);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->first_step, 0);
    ASSERT_EQ(r->losses.size(), 1u);
    EXPECT_EQ(r->losses[0], expected);
    Result<std::vector<nlohmann::json>> records = read_metrics_log(*dir_ / run / "metrics.jsonl");
    ASSERT_TRUE(records.has_value());
    ASSERT_FALSE(records->empty());
    EXPECT_EQ(records->front().value("init_from_kind", ""), weight_source_kind_name(s.kind));
    EXPECT_EQ(records->front().value("step", -1), 0);
  }
}

TEST_F(InitFromTest, MismatchesAreRefusedNamingTheTensorAndFileOrTheKey) {
  Result<WeightSource> source = open_init_source(model_file());
  ASSERT_TRUE(source.has_value()) << source.error().message();
  Result<WeightSource> hf = open_init_source(hf_dir());
  ASSERT_TRUE(hf.has_value()) << hf.error().message();
  const std::string file = model_file().string();
  auto refusal = [&](const WeightSource& from, std::vector<std::string> overrides) {
    const Status s = check_weight_source(from, config("unused", 1, std::move(overrides)).model);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    return s.message();
  };
  EXPECT_EQ(refusal(*source, {"model.intermediate_size=256"}),
            "model.layers.0.mlp.gate_proj.weight: (384, 128) in " + file +
                ", (256, 128) for this config (model.intermediate_size = 384 in the source, "
                "256 here)");
  EXPECT_THAT(refusal(*hf, {"model.moe_intermediate_size=32"}),
              HasSubstr("model.layers.1.mlp.experts.gate_proj: (8, 64, 128) in " +
                        (hf_dir() / "model.safetensors").string() + ", (8, 32, 128) for this "
                        "config"));
  EXPECT_THAT(refusal(*source, {"model.n_shared_experts=1"}),
              HasSubstr(file + ": no tensor model.layers.1.mlp.shared_experts.gate_proj.weight "
                        "(64, 128), which this config needs (model.n_shared_experts = 0 in the "
                        "source, 1 here)"));
  EXPECT_THAT(refusal(*source, {"model.qk_norm=false"}),
              HasSubstr("model.layers.0.self_attn.q_norm.weight in " + file +
                        " has no place in this config (model.qk_norm = true in the source"));
  EXPECT_THAT(refusal(*source, {"model.tie_word_embeddings=true"}),
              HasSubstr("lm_head.weight in " + file + " has no place in this config "
                        "(model.tie_word_embeddings = false in the source, true here)"));
  EXPECT_THAT(refusal(*hf, {"model.tie_word_embeddings=true"}),
              HasSubstr("model.tie_word_embeddings = false in the source, true here"));
  EXPECT_THAT(refusal(*source, {"model.num_experts=0"}),
              HasSubstr("(model.num_experts = 8 in the source, 0 here)"));
  // A selection bias of a layer that is dense here.
  EXPECT_THAT(refusal(*source, {"model.first_k_dense_replace=2"}),
              HasSubstr("model.first_k_dense_replace = 1 in the source, 2 here"));
  // Same tensors, another function.
  EXPECT_THAT(refusal(*source, {"model.rope_theta=500000"}),
              HasSubstr(file + " holds a model of another architecture: model.rope_theta = "
                        "10000.0 in the source, 500000.0 here"));
  EXPECT_THAT(refusal(*hf, {"model.rms_norm_eps=1e-5"}), HasSubstr("model.rms_norm_eps = "));
  // Training-only settings may differ.
  for (const char* setting : {"model.bias_update_rate=0", "model.router_aux_loss_coef=0.1",
                              "model.router_z_loss_coef=0.001", "model.capacity_factor=1.5",
                              "model.initializer_range=0.01"}) {
    EXPECT_TRUE(check_weight_source(*source, config("unused", 1, {setting}).model).is_ok())
        << setting;
    EXPECT_TRUE(check_weight_source(*hf, config("unused", 1, {setting}).model).is_ok())
        << setting;
  }
}

TEST_F(InitFromTest, MissingOrUnusableSourcesAreNamed) {
  const Result<WeightSource> missing = open_init_source(*dir_ / "no-such-model");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(),
              HasSubstr("--init-from: " + (*dir_ / "no-such-model").string() +
                        ": no such file or directory"));
  const fs::path text = dir_->write("not-a-model/notes.txt", "hello");
  const Result<WeightSource> not_safetensors = open_init_source(text);
  ASSERT_FALSE(not_safetensors.has_value());
  EXPECT_THAT(not_safetensors.error().message(), HasSubstr(text.string()));
  const Result<WeightSource> empty = open_init_source(text.parent_path());
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(empty.error().message(), HasSubstr("holds no config.json, model.safetensors or "
                                                 "checkpoint"));
  // A Hugging Face model file alone is not a Symphony model file.
  const Result<WeightSource> hf_file = open_init_source(hf_dir() / "model.safetensors");
  ASSERT_FALSE(hf_file.has_value());
  EXPECT_THAT(hf_file.error().message(), HasSubstr("not a Symphony model file"));
}

TEST_F(InitFromTest, AnInvalidNewestCheckpointIsSkippedUnlessNamed) {
  const fs::path copy = *dir_ / "ckpt-copy";
  fs::copy(*dir_ / "src" / "checkpoints", copy, fs::copy_options::recursive);
  const fs::path newest = copy / fmt::format("step-{:08d}", kSourceSteps);
  fs::resize_file(newest / "model-rank00000.safetensors", 100);
  Result<WeightSource> source = open_init_source(copy);
  ASSERT_TRUE(source.has_value()) << source.error().message();
  EXPECT_EQ(source->path(), copy / fmt::format("step-{:08d}", kSourceSteps - 1));
  ASSERT_FALSE(source->notes().empty());
  EXPECT_THAT(source->notes().front(), HasSubstr("skipped checkpoint " + newest.string()));
  const Result<WeightSource> named = open_init_source(newest);
  ASSERT_FALSE(named.has_value());
  EXPECT_EQ(named.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(named.error().message(), HasSubstr("model-rank00000.safetensors"));
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  return text;
}

TEST_F(InitFromTest, NothingExistingIsOverwritten) {
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  // Into the source run's own directory, which holds checkpoints: refused, and its files kept.
  const std::string before = testkit::read_file_bytes(model_file());
  const std::string config_before = testkit::read_file_bytes(*dir_ / "src" / "config.toml");
  options.init_from = hf_dir().string();
  Result<TrainResult> r = train(config("src", 1), options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(),
              HasSubstr((*dir_ / "src" / "checkpoints").string() + " already holds checkpoints "
                        "(the newest step-00000003)"));
  // A source inside the run directory.
  options.init_from = model_file().string();
  r = train(config("src", 1, {"checkpoint.dir=\"" + (*dir_ / "elsewhere").string() + "\""}),
            options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("--init-from " + model_file().string() +
                                             " lies inside " + (*dir_ / "src").string()));
  EXPECT_EQ(testkit::read_file_bytes(model_file()), before);
  EXPECT_EQ(testkit::read_file_bytes(*dir_ / "src" / "config.toml"), config_before);
  EXPECT_FALSE(fs::exists(*dir_ / "elsewhere"));
}

TEST_F(InitFromTest, ACheckpointToResumeTakesPrecedence) {
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  options.log = log;
  options.init_from = model_file().string();
  options.resume = "auto";  // nothing to resume yet: starts from the source
  options.stop_at_step = 1;
  const RunConfig c = config("resumed", 3, {"checkpoint.every=1"});
  Result<TrainResult> first = train(c, options);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_TRUE(first->stopped);
  options.stop_at_step = 0;
  Result<TrainResult> second = train(c, options);
  ASSERT_TRUE(second.has_value()) << second.error().message();
  EXPECT_EQ(second->first_step, 1);
  const std::string text = read_all(log);
  std::fclose(log);
  EXPECT_THAT(text, HasSubstr("initialised the weights from model file " + model_file().string() +
                              ": 53 tensors"));
  EXPECT_THAT(text, HasSubstr("--init-from " + model_file().string() +
                              " not used: the run resumes from its checkpoint"));
}

// A deepseek_v3 directory (the deepseek-v3-tiny preset: MTP module, selection biases) and the
// model file it was exported from hold every tensor the preset needs, the MTP module's layer's
// selection bias included.
TEST(InitFromDeepseekV3, SourcesHoldEveryTensorOfThePresetWithItsBiases) {
  testkit::TempDir dir("init_from_deepseek");
  Result<RunConfig> preset = load_run_config("deepseek-v3-tiny", {});
  ASSERT_TRUE(preset.has_value()) << preset.error().message();
  const ModelConfig& m = preset->model;
  ASSERT_GT(m.num_nextn_predict_layers, 0);
  testkit::write_hf_test_model(dir / "run/model.safetensors", testkit::hf_test_run_config(m), 3,
                               testkit::BiasInit::kNonZero);
  Result<LoadedModel> loaded = load_model_file(dir / "run/model.safetensors", {1, 1},
                                               Recompute::kFull);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  HfExportOptions hf;
  hf.tokenizer = "none";
  ASSERT_TRUE(export_hf(loaded->config, *loaded->model, dir / "hf", hf).has_value());
  for (const fs::path& path : {dir / "hf", dir / "run/model.safetensors"}) {
    SCOPED_TRACE(path.string());
    Result<WeightSource> source = open_init_source(path);
    ASSERT_TRUE(source.has_value()) << source.error().message();
    Status s = check_weight_source(*source, m);
    EXPECT_TRUE(s.is_ok()) << s.message();
    for (int64_t l = 0; l < m.num_layers_with_mtp(); ++l)
      EXPECT_EQ(source->find(balance_bias_name(l)) != nullptr, m.is_moe_layer(l)) << l;
  }
}

}  // namespace
}  // namespace symphony
