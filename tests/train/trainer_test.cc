#include "train/trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/prepare.h"
#include "data/token_file.h"
#include "monitor/metrics_log.h"
#include "monitor/rank_times.h"
#include "testkit/markov_tokens.h"
#include "train/model_file.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using testkit::write_markov_tokens;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("symphony_trainer_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_markov_tokens(dir_ / "train.tok", 40000, 1);
    write_markov_tokens(dir_ / "val.tok", 4000, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunConfig tiny_config(const std::string& run_name, int64_t steps) {
    return preset_config("tiny", run_name, steps);
  }

  RunConfig preset_config(const std::string& preset, const std::string& run_name, int64_t steps) {
    std::vector<std::string> overrides = {
        "train.steps=" + std::to_string(steps),
        "optim.warmup_steps=" + std::to_string(std::min<int64_t>(steps, 5)),
        "train.eval_every=20",
        "train.eval_batches=2",
        "train.global_batch_tokens=512",
        "data.train_path=\"" + (dir_ / "train.tok").string() + "\"",
        "data.val_path=\"" + (dir_ / "val.tok").string() + "\"",
        "train.run_dir=\"" + (dir_ / run_name).string() + "\""};
    Result<RunConfig> c = load_run_config(preset, overrides);
    EXPECT_TRUE(c.has_value()) << c.error().message();
    return *c;
  }

  fs::path dir_;
};

TEST_F(TrainerTest, LossFallsAndRunDirectoryIsComplete) {
  RunConfig c = tiny_config("run", 60);
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->losses.size(), 60u);
  double first = (r->losses[0] + r->losses[1] + r->losses[2]) / 3;
  double last = (r->losses[57] + r->losses[58] + r->losses[59]) / 3;
  EXPECT_GT(first, 3.5);
  EXPECT_LT(last, first - 1.5) << "first " << first << " last " << last;
  ASSERT_EQ(r->eval_losses.size(), 3u);
  EXPECT_LT(r->eval_losses.back(), r->eval_losses.front());

  for (const char* f : {"config.toml", "metrics.jsonl", "loss.svg", "model.safetensors"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  auto records = read_metrics_log(dir_ / "run" / "metrics.jsonl");
  ASSERT_TRUE(records.has_value());
  const nlohmann::json& step1 = records->front();
  for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "gflops",
                          "max_over_mean_load", "aux_loss", "dropped_fraction", "moe_layers"})
    EXPECT_TRUE(step1.contains(key)) << key;

  // The saved model reproduces the final eval loss.
  Result<LoadedModel> loaded =
      load_model_file(dir_ / "run" / "model.safetensors", {4, 64}, Recompute::kNone);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->config.model.hidden_size, c.model.hidden_size);
}

TEST_F(TrainerTest, SameSeedGivesBitwiseIdenticalLosses) {
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> a = train(tiny_config("a", 12), options);
  Result<TrainResult> b = train(tiny_config("b", 12), options);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->losses, b->losses);
  RunConfig other = tiny_config("c", 12);
  other.train.seed = 99;
  Result<TrainResult> c = train(other, options);
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(a->losses, c->losses);
}

// DeepSeek-V3's routing (sigmoid scores, 4 groups of which 2, routed scaling 2.5, the
// sequence-wise balance loss beside the aux-loss-free bias) with Ling 2.0's partial RoPE: the loss
// falls, the balance loss is reported, and a rerun is bitwise identical.
TEST_F(TrainerTest, PublishedRoutingAndPartialRopeTrainAndRerunBitwise) {
  auto published = [&](const std::string& run) {
    RunConfig c = tiny_config(run, 40);
    c.model.scoring_func = RouterScoring::kSigmoid;
    c.model.n_group = 4;
    c.model.topk_group = 2;
    c.model.routed_scaling_factor = 2.5;
    c.model.router_seq_aux_loss_coef = 0.001;
    c.model.bias_update_rate = 0.001;
    c.model.partial_rotary_factor = 0.5;
    EXPECT_TRUE(validate(c).is_ok());
    return c;
  };
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> a = train(published("a"), options);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_EQ(a->losses.size(), 40u);
  const double first = (a->losses[0] + a->losses[1] + a->losses[2]) / 3;
  const double last = (a->losses[37] + a->losses[38] + a->losses[39]) / 3;
  EXPECT_LT(last, first - 1.0) << "first " << first << " last " << last;
  auto records = read_metrics_log(dir_ / "a" / "metrics.jsonl");
  ASSERT_TRUE(records.has_value());
  ASSERT_TRUE(records->front().contains("seq_aux_loss"));
  EXPECT_GT(records->front()["seq_aux_loss"].get<double>(), 0.0);

  Result<TrainResult> b = train(published("b"), options);
  ASSERT_TRUE(b.has_value()) << b.error().message();
  EXPECT_EQ(a->losses, b->losses);
}

// The tiny preset with multi-head latent attention in place of GQA and QK-norm.
TEST_F(TrainerTest, MlaModelLearnsAndRerunsBitwise) {
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  auto mla_config = [&](const std::string& run_name) {
    RunConfig c = tiny_config(run_name, 40);
    c.model.qk_norm = false;
    c.model.q_lora_rank = 48;
    c.model.kv_lora_rank = 32;
    c.model.qk_rope_head_dim = 8;
    c.model.qk_nope_head_dim = 16;
    c.model.v_head_dim = 24;
    return c;
  };
  Result<TrainResult> a = train(mla_config("a"), options);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  Result<TrainResult> b = train(mla_config("b"), options);
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ASSERT_EQ(a->losses.size(), 40u);
  const double first = (a->losses[0] + a->losses[1] + a->losses[2]) / 3;
  const double last = (a->losses[37] + a->losses[38] + a->losses[39]) / 3;
  EXPECT_LT(last, first - 1.0) << "first " << first << " last " << last;
  EXPECT_EQ(a->losses, b->losses);
  // The saved model is an MLA model again.
  Result<LoadedModel> loaded =
      load_model_file(dir_ / "a" / "model.safetensors", {1, 64}, Recompute::kNone);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->config.model.kv_lora_rank, 32);
  EXPECT_GE(loaded->model->params().find("model.layers.0.self_attn.kv_b_proj.weight"), 0);
}

TEST_F(TrainerTest, MtpLossIsReportedBesideTheMainLoss) {
  RunConfig c = tiny_config("mtp", 3);
  c.model.num_nextn_predict_layers = 2;
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->mtp_losses.size(), 3u);
  auto records = read_metrics_log(dir_ / "mtp" / "metrics.jsonl");
  ASSERT_TRUE(records.has_value());
  const nlohmann::json& step1 = records->front();
  ASSERT_TRUE(step1.contains("mtp_loss"));
  EXPECT_EQ(step1["loss"].get<double>(), r->losses[0]);  // the main LM loss
  EXPECT_EQ(step1["mtp_loss"].get<double>(), r->mtp_losses[0]);
  ASSERT_EQ(step1["mtp_loss_per_depth"].size(), 2u);
  EXPECT_DOUBLE_EQ(step1["mtp_loss"].get<double>(),
                   (step1["mtp_loss_per_depth"][0].get<double>() +
                    step1["mtp_loss_per_depth"][1].get<double>()) / 2);
  // The MTP modules' MoE layers (4 and 5) report their routing, marked.
  int mtp_layers = 0;
  for (const nlohmann::json& layer : step1["moe_layers"])
    if (layer.contains("mtp")) mtp_layers += layer["layer"].get<int64_t>() >= 4;
  EXPECT_EQ(mtp_layers, 2);
}

// The deepseek-v3-tiny preset as it stands (MLA, sigmoid group-limited routing, shared expert,
// aux-loss-free bias with the sequence-wise balance loss, one MTP module): the loss falls, the
// MTP loss is reported apart from the main loss and falls too, and a rerun is bitwise identical.
TEST_F(TrainerTest, DeepseekV3TinyLearnsReportsMtpAndRerunsBitwise) {
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  constexpr int64_t kSteps = 30;
  Result<TrainResult> a = train(preset_config("deepseek-v3-tiny", "a", kSteps), options);
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_EQ(a->losses.size(), size_t(kSteps));
  ASSERT_EQ(a->mtp_losses.size(), size_t(kSteps));
  auto mean3 = [](const std::vector<double>& v, size_t at) {
    return (v[at] + v[at + 1] + v[at + 2]) / 3;
  };
  const double first = mean3(a->losses, 0), last = mean3(a->losses, kSteps - 3);
  EXPECT_LT(last, first - 1.0) << "first " << first << " last " << last;
  const double mtp_first = mean3(a->mtp_losses, 0), mtp_last = mean3(a->mtp_losses, kSteps - 3);
  EXPECT_LT(mtp_last, mtp_first - 0.5) << "MTP first " << mtp_first << " last " << mtp_last;
  std::printf("  loss %.3f -> %.3f, MTP loss %.3f -> %.3f\n", first, last, mtp_first, mtp_last);
  ASSERT_EQ(a->eval_losses.size(), 2u);
  EXPECT_LT(a->eval_losses.back(), a->eval_losses.front());

  auto records = read_metrics_log(dir_ / "a" / "metrics.jsonl");
  ASSERT_TRUE(records.has_value());
  const nlohmann::json& step1 = records->front();
  for (const char* key : {"loss", "mtp_loss", "seq_aux_loss", "moe_layers"})
    ASSERT_TRUE(step1.contains(key)) << key;
  EXPECT_EQ(step1["loss"].get<double>(), a->losses[0]);  // the main LM loss alone
  EXPECT_EQ(step1["mtp_loss"].get<double>(), a->mtp_losses[0]);
  EXPECT_NE(a->losses[0], a->mtp_losses[0]);
  EXPECT_GT(step1["seq_aux_loss"].get<double>(), 0.0);
  // Layers 1-3 of the trunk and the MTP module's layer 4 route; the dense layer 0 does not.
  int trunk = 0, mtp = 0;
  for (const nlohmann::json& layer : step1["moe_layers"]) ++(layer.contains("mtp") ? mtp : trunk);
  EXPECT_EQ(trunk, 3);
  EXPECT_EQ(mtp, 1);

  Result<TrainResult> b = train(preset_config("deepseek-v3-tiny", "b", kSteps), options);
  ASSERT_TRUE(b.has_value()) << b.error().message();
  EXPECT_EQ(a->losses, b->losses);
  EXPECT_EQ(a->mtp_losses, b->mtp_losses);
  EXPECT_EQ(a->eval_losses, b->eval_losses);

  // The saved model is the same architecture again.
  Result<LoadedModel> loaded =
      load_model_file(dir_ / "a" / "model.safetensors", {1, 64}, Recompute::kNone);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->config.model.kv_lora_rank, 32);
  EXPECT_EQ(loaded->config.model.num_nextn_predict_layers, 1);
  EXPECT_EQ(loaded->config.model.scoring_func, RouterScoring::kSigmoid);
}

// Per-rank timing rows every monitor.rank_stats_every steps (the first step of the process left
// out of the first window), their parts adding up to the step time.
TEST_F(TrainerTest, RankTimingsAreWrittenEveryWindow) {
  RunConfig c = tiny_config("ranks", 7);
  c.monitor.rank_stats_every = 3;
  c.checkpoint.every = 3;
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  auto records = read_metrics_log(dir_ / "ranks" / "metrics.jsonl");
  ASSERT_TRUE(records.has_value());
  std::vector<nlohmann::json> rows;
  for (const nlohmann::json& record : *records)
    if (record.contains("rank_times")) rows.push_back(record);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["step"], 3);
  EXPECT_EQ(rows[1]["step"], 6);
  EXPECT_EQ(rows[0]["rank_times"]["window_steps"], 2);
  EXPECT_EQ(rows[1]["rank_times"]["window_steps"], 3);
  for (const nlohmann::json& row : rows) {
    EXPECT_EQ(row["rank"], 0);
    EXPECT_EQ(row["pid"], int64_t(getpid()));
    EXPECT_FALSE(row["host"].get<std::string>().empty());
    EXPECT_FALSE(row["named_straggler"].get<bool>());
    const nlohmann::json& t = row["rank_times"];
    double waits = 0;
    for (auto& [kind, seconds] : t["comm_wait_s"].items()) waits += seconds.get<double>();
    EXPECT_EQ(t["comm_wait_s"].size(), size_t(kNumWaitKinds));
    EXPECT_GT(t["compute_s"].get<double>(), 0.0);
    EXPECT_NEAR(t["compute_s"].get<double>() + t["data_wait_s"].get<double>() +
                    t["checkpoint_stall_s"].get<double>() + waits,
                t["step_s"].get<double>(), 1e-9);
    EXPECT_GT(row["memory_bytes"].get<int64_t>(), 0);
  }
  // The checkpoint saved after step 3 held the first window's training thread.
  EXPECT_GT(rows[0]["rank_times"]["checkpoint_stall_s"].get<double>(), 0.0);
}

TEST_F(TrainerTest, DebugSlowRankMustBeARank) {
  RunConfig c = tiny_config("slow", 2);
  c.monitor.debug_slow_rank = 1;
  c.monitor.debug_slow_factor = 0.3;  // rank 1 of one process
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("monitor.debug_slow_rank = 1 is not a rank"));
}

TEST_F(TrainerTest, MissingDataFileIsNamed) {
  RunConfig c = tiny_config("run", 2);
  c.data.train_path = (dir_ / "nope.tok").string();
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("nope.tok"));
}

TEST_F(TrainerTest, VocabularyLargerThanModelIsRejected) {
  RunConfig c = tiny_config("run", 2);
  c.model.vocab_size = 32;
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("model.vocab_size"));
}

// A prepared dataset directory (byte tokenizer) as the training data, given by data.datasets.
TEST_F(TrainerTest, TrainsFromPreparedDatasetsAndReportsTheLoaderState) {
  for (int i = 0; i < 40; ++i) {
    std::ofstream(dir_ / fmt::format("text{:02d}.txt", i))
        << fmt::format("Document {} says: the quick brown fox jumps over the lazy dog {} times.\n",
                       i, i * 7);
  }
  PrepareOptions prepare;
  prepare.inputs = {(dir_ / "text*.txt").string()};
  prepare.output_dir = (dir_ / "ds").string();
  prepare.val_fraction = 0.2;
  auto stats = prepare_dataset(prepare);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();

  std::vector<std::string> overrides = {
      "train.steps=4", "optim.warmup_steps=1", "train.eval_every=2", "train.eval_batches=1",
      "train.seq_len=16", "train.global_batch_tokens=128", "data.tokenizer_path=\"bytes\"",
      "data.datasets=[\"" + (dir_ / "ds").string() + "\", \"" + (dir_ / "ds").string() + "\"]",
      "data.weights=[1.0, 2.0]", "data.prefetch_depth=3",
      "train.run_dir=\"" + (dir_ / "run").string() + "\""};
  Result<RunConfig> c = load_run_config("tiny", overrides);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(*c, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->eval_losses.size(), 2u);
  // 4 steps of 2 micro-batches of 4 samples, spread over the two blended sources.
  EXPECT_EQ(r->loader_state.samples, 32);
  ASSERT_EQ(r->loader_state.sources.size(), 2u);

  // Starting from a saved loader state continues the order; a state of another shape is refused.
  options.loader_state = r->loader_state;
  c->train.run_dir = (dir_ / "run2").string();
  Result<TrainResult> resumed = train(*c, options);
  ASSERT_TRUE(resumed.has_value()) << resumed.error().message();
  EXPECT_EQ(resumed->loader_state.samples, 64);
  options.loader_state = LoaderState{0, {{0, 0}}};
  Result<TrainResult> bad = train(*c, options);
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr("loader state has 1 sources"));
}

TEST_F(TrainerTest, DatasetDirectoryWithoutManifestIsNamed) {
  RunConfig c = tiny_config("run", 2);
  c.data.train_path.clear();
  c.data.val_path.clear();
  c.data.datasets = {(dir_ / "nothing_here").string()};
  TrainOptions options;
  options.progress = ProgressOutput::kNone;
  Result<TrainResult> r = train(c, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("nothing_here"));
  EXPECT_THAT(r.error().message(), HasSubstr("symphony data prepare"));
}

}  // namespace
}  // namespace symphony
