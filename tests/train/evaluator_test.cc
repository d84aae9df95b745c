#include "train/evaluator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "config/run_config.h"
#include "data/token_dataset.h"
#include "model/init.h"
#include "testkit/markov_tokens.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

ModelConfig tiny_model() {
  Result<RunConfig> c = load_run_config("tiny", {});
  EXPECT_TRUE(c.has_value()) << c.error().message();
  return c->model;
}

// The reference: every window scored alone (batch 1), in order, losses summed in double.
double reference_loss(Transformer& model, const TokenDataset& data, int64_t seq_len,
                      int64_t windows) {
  std::vector<int32_t> in(static_cast<size_t>(seq_len)), tgt(static_cast<size_t>(seq_len));
  double sum = 0;
  int64_t count = 0;
  for (int64_t w = 0; w < windows; ++w) {
    data.read(w * seq_len, in);
    data.read(w * seq_len + 1, tgt);
    CrossEntropyResult ce = model.evaluate(Exec::cpu(), {1, seq_len}, in, tgt);
    sum += ce.loss_sum;
    count += ce.count;
  }
  return sum / double(count);
}

TEST(Evaluator, MatchesScoringEachWindowAloneAndRestartsEachRun) {
  testkit::TempDir dir("evaluator");
  testkit::write_markov_tokens(dir / "val.tok", 2000, 3);
  Result<TokenDataset> data = TokenDataset::open_token_file(dir / "val.tok");
  ASSERT_TRUE(data.has_value()) << data.error().message();
  const ModelConfig config = tiny_model();
  const BatchShape shape{3, 32};
  Transformer model(config, DType::kF32, shape, Recompute::kFull);
  init_params(config, 7, model.params());

  Result<EvalSampler> sampler = EvalSampler::create(*data, shape.seq_len, shape.batch);
  ASSERT_TRUE(sampler.has_value());
  Evaluator evaluator(shape, 5);
  Result<EvalLoss> first = evaluator.run(Exec::cpu(), model, *sampler, EvalGroup{});
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(first->batches, 5);
  EXPECT_EQ(first->tokens, 5 * shape.rows());
  Transformer single(config, DType::kF32, {1, shape.seq_len}, Recompute::kFull);
  init_params(config, 7, single.params());
  const double expected = reference_loss(single, *data, shape.seq_len, 15);
  EXPECT_NEAR(first->loss, expected, 1e-5 * expected);
  EXPECT_GT(first->loss, 3.0);  // an untrained model: about ln 512 per token

  // The sampler moved on: the next run starts from the first window again.
  Result<EvalLoss> again = evaluator.run(Exec::cpu(), model, *sampler, EvalGroup{});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->loss, first->loss);
}

}  // namespace
}  // namespace symphony
