#include "train/evaluate_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "data/prepare.h"
#include "data/tokenizer_json.h"
#include "testkit/bpe_testing.h"
#include "testkit/temp_dir.h"
#include "train/trainer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// One text file prepared into a dataset (split by tokens), and a tiny model trained on it for a
// few steps with evaluation on, shared by the tests below.
class EvaluateModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testkit::TempDir("evaluate_model");
    std::string text;
    for (int i = 0; i < 600; ++i)
      text += fmt::format("Line {}: the quick brown fox jumps over the lazy dog {} times.\n", i,
                          i % 17);
    text_ = new std::string(text);
    dir_->write("input.txt", text);
    PrepareOptions prepare;
    prepare.inputs = {(*dir_ / "input.txt").string()};
    prepare.output_dir = (*dir_ / "data").string();
    Result<PrepareStats> stats = prepare_dataset(prepare);
    ASSERT_TRUE(stats.has_value()) << stats.error().message();
    ASSERT_EQ(stats->split_unit, SplitUnit::kTokens);
    val_tokens_ = stats->val_tokens;

    Result<RunConfig> c = load_run_config(
        "tiny", std::vector<std::string>{
                    "train.steps=3", "optim.warmup_steps=1", "train.eval_every=3",
                    "train.eval_batches=2", "train.seq_len=32", "train.micro_batch_size=2",
                    "checkpoint.every=3", "checkpoint.async=false",
                    "data.datasets=[\"" + (*dir_ / "data").string() + "\"]",
                    "train.run_dir=\"" + (*dir_ / "run").string() + "\""});
    ASSERT_TRUE(c.has_value()) << c.error().message();
    TrainOptions options;
    options.progress = ProgressOutput::kNone;
    Result<TrainResult> r = train(*c, options);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_EQ(r->eval_losses.size(), 1u);
    run_eval_loss_ = r->eval_losses.back();
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete text_;
  }

  static EvalModelOptions options_for(const fs::path& model, const fs::path& data) {
    EvalModelOptions options;
    options.model = model.string();
    options.data = data.string();
    return options;
  }

  static testkit::TempDir* dir_;
  static std::string* text_;
  static int64_t val_tokens_;
  static double run_eval_loss_;
};

testkit::TempDir* EvaluateModelTest::dir_ = nullptr;
std::string* EvaluateModelTest::text_ = nullptr;
int64_t EvaluateModelTest::val_tokens_ = 0;
double EvaluateModelTest::run_eval_loss_ = 0;

TEST_F(EvaluateModelTest, ReproducesTheTrainersEvalLossFromEveryKindOfSource) {
  const fs::path run = *dir_ / "run";
  const std::vector<StepDir> steps = list_step_dirs(run / "checkpoints");
  ASSERT_EQ(steps.size(), 1u);
  for (const fs::path& model : {run, run / "model.safetensors", steps.back().path}) {
    SCOPED_TRACE(model.string());
    EvalModelOptions options = options_for(model, *dir_ / "data");
    options.max_batches = 2;  // train.eval_batches; seq_len and batch size default to the run's
    Result<EvalModelReport> r = evaluate_model(options);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->loss.loss, run_eval_loss_);  // the same code on the same weights and batches
    EXPECT_EQ(r->loss.tokens, 2 * 2 * 32);
    EXPECT_EQ(r->shape.seq_len, 32);
    EXPECT_EQ(r->shape.batch, 2);
    EXPECT_EQ(r->split, "val");
    EXPECT_EQ(r->tokenizer, "bytes");  // from the training data's manifest
    EXPECT_EQ(r->data_tokens, val_tokens_);
    EXPECT_NEAR(r->perplexity, std::exp(run_eval_loss_), 1e-9 * r->perplexity);
    EXPECT_TRUE(r->notes.empty());
  }
  EXPECT_EQ(evaluate_model(options_for(run, *dir_ / "data"))->loss.loss,
            evaluate_model(options_for(steps.back().path, *dir_ / "data"))->loss.loss);
}

TEST_F(EvaluateModelTest, LimitsChooseWholeBatches) {
  EvalModelOptions options = options_for(*dir_ / "run", *dir_ / "data");
  Result<EvalModelReport> all = evaluate_model(options);
  ASSERT_TRUE(all.has_value()) << all.error().message();
  const int64_t windows = (val_tokens_ - 1) / 32;
  EXPECT_EQ(all->loss.batches, windows / 2);
  options.max_tokens = 2 * 64 + 63;  // two whole batches of 64 tokens fit
  Result<EvalModelReport> limited = evaluate_model(options);
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->loss.batches, 2);
  EXPECT_EQ(limited->loss.loss, run_eval_loss_);
  options.max_tokens = 1;  // at least one batch
  EXPECT_EQ(evaluate_model(options)->loss.batches, 1);
  options.max_tokens = 0;
  options.split = Split::kTrain;
  options.seq_len = 16;
  options.batch_size = 3;
  options.max_batches = all->loss.batches + 1;  // the train split holds more
  Result<EvalModelReport> train = evaluate_model(options);
  ASSERT_TRUE(train.has_value()) << train.error().message();
  EXPECT_EQ(train->split, "train");
  EXPECT_EQ(train->loss.batches, all->loss.batches + 1);
  EXPECT_EQ(train->loss.tokens, train->loss.batches * 3 * 16);
  EXPECT_EQ(train->data_tokens, int64_t(text_->size()) + 1 - val_tokens_);
}

TEST_F(EvaluateModelTest, ATextFileScoresAsTheSplitPreparedFromIt) {
  // The val split is the file's last val_tokens - 1 bytes and end-of-text.
  dir_->write("val.txt", text_->substr(text_->size() - size_t(val_tokens_ - 1)));
  Result<EvalModelReport> text = evaluate_model(options_for(*dir_ / "run", *dir_ / "val.txt"));
  ASSERT_TRUE(text.has_value()) << text.error().message();
  Result<EvalModelReport> split = evaluate_model(options_for(*dir_ / "run", *dir_ / "data"));
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(text->split, "all");
  EXPECT_EQ(text->data_tokens, val_tokens_);
  EXPECT_EQ(text->loss.loss, split->loss.loss);
  EXPECT_EQ(text->loss.tokens, split->loss.tokens);

  // The val shard, a token file, scores the same too; it records no tokenizer.
  Result<EvalModelReport> tokens =
      evaluate_model(options_for(*dir_ / "run", *dir_ / "data" / "val-00000.tok"));
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message();
  EXPECT_EQ(tokens->loss.loss, split->loss.loss);
  ASSERT_EQ(tokens->notes.size(), 1u);
  EXPECT_THAT(tokens->notes[0], HasSubstr("val-00000.tok records no tokenizer"));

  EvalModelOptions options = options_for(*dir_ / "run", *dir_ / "val.txt");
  options.split = Split::kVal;
  Result<EvalModelReport> with_split = evaluate_model(options);
  ASSERT_FALSE(with_split.has_value());
  EXPECT_THAT(with_split.error().message(), HasSubstr("val.txt: a file is scored whole"));
}

TEST_F(EvaluateModelTest, BadInputIsNamed) {
  const fs::path run = *dir_ / "run";
  Result<EvalModelReport> r = evaluate_model(options_for(*dir_ / "no-run", *dir_ / "data"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr("no-run: no such file or directory"));

  r = evaluate_model(options_for(run, *dir_ / "no-data"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message(), HasSubstr("no-data: no such file or directory"));

  r = evaluate_model(options_for(run, run));  // a directory that is not a dataset
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("is " + run.string() + " a dataset"));

  EvalModelOptions options = options_for(run, *dir_ / "data");
  options.seq_len = 100000;
  r = evaluate_model(options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("max_position_embeddings"));

  // Data prepared with another tokenizer, and another tokenizer named for the model.
  ASSERT_TRUE(save_tokenizer_json(testkit::train_sample_bpe(300), *dir_ / "bpe.json").is_ok());
  PrepareOptions prepare;
  prepare.inputs = {(*dir_ / "input.txt").string()};
  prepare.output_dir = (*dir_ / "data_bpe").string();
  prepare.tokenizer = (*dir_ / "bpe.json").string();
  ASSERT_TRUE(prepare_dataset(prepare).has_value());
  r = evaluate_model(options_for(run, *dir_ / "data_bpe"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr((*dir_ / "data_bpe/manifest.json").string()));
  EXPECT_THAT(r.error().message(), HasSubstr("the model was trained with 'bytes'"));
  options = options_for(run, *dir_ / "data");
  options.tokenizer = (*dir_ / "bpe.json").string();
  r = evaluate_model(options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr((*dir_ / "data/manifest.json").string()));
  options.tokenizer = (*dir_ / "no-tokenizer.json").string();
  r = evaluate_model(options);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("no-tokenizer.json"));

  // An empty val split.
  prepare.output_dir = (*dir_ / "data_no_val").string();
  prepare.tokenizer = "bytes";
  prepare.val_fraction = 0;
  ASSERT_TRUE(prepare_dataset(prepare).has_value());
  r = evaluate_model(options_for(run, *dir_ / "data_no_val"));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("data_no_val: the val split is empty"));

  // Data shorter than one window.
  dir_->write("short.txt", "too short");
  r = evaluate_model(options_for(run, *dir_ / "short.txt"));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), HasSubstr("short.txt: 10 tokens, too short"));
}

}  // namespace
}  // namespace symphony
