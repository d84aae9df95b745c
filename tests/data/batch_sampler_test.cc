#include "data/batch_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A token file whose token i is i % vocab, so a window is identified by its first token.
class BatchSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "symphony_sampler_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  TokenFile make_file(const std::string& name, int64_t num_tokens, int64_t vocab = 60000) {
    const fs::path path = dir_ / name;
    auto writer = TokenFileWriter::create(path, {.vocab_size = vocab, .eot_token = 0});
    EXPECT_TRUE(writer.has_value());
    std::vector<int32_t> tokens(num_tokens);
    for (int64_t i = 0; i < num_tokens; ++i) tokens[i] = static_cast<int32_t>(i % vocab);
    EXPECT_TRUE(writer->append(tokens).is_ok());
    EXPECT_TRUE(writer->close().is_ok());
    auto file = TokenFile::open(path);
    EXPECT_TRUE(file.has_value());
    return std::move(file).value();
  }

  fs::path dir_;
};

struct Batch {
  std::vector<int32_t> inputs, targets;
  Batch(int64_t batch, int64_t seq) : inputs(batch * seq), targets(batch * seq) {}
};

TEST_F(BatchSamplerTest, TargetsAreInputsShiftedByOne) {
  const TokenFile file = make_file("a.tok", 1001);
  const int64_t seq = 10, batch = 4;
  auto sampler = BatchSampler::create(file, seq, batch, /*seed=*/1);
  ASSERT_TRUE(sampler.has_value()) << sampler.error().message();
  EXPECT_EQ(sampler->num_windows(), 100);
  Batch b(batch, seq);
  for (int step = 0; step < 30; ++step) {
    sampler->next(b.inputs, b.targets);
    for (int64_t r = 0; r < batch; ++r) {
      const int32_t start = b.inputs[r * seq];
      EXPECT_EQ(start % seq, 0) << "windows start on multiples of seq_len";
      for (int64_t t = 0; t < seq; ++t) {
        EXPECT_EQ(b.inputs[r * seq + t], start + t);
        EXPECT_EQ(b.targets[r * seq + t], start + t + 1);
      }
    }
  }
}

TEST_F(BatchSamplerTest, EachEpochCoversEveryWindowOnceInANewOrder) {
  // 1000 tokens, seq 7: floor(999 / 7) = 142 windows; the last token is never an input.
  const TokenFile file = make_file("b.tok", 1000);
  const int64_t seq = 7;
  auto sampler = BatchSampler::create(file, seq, /*micro_batch_size=*/1, /*seed=*/99);
  ASSERT_TRUE(sampler.has_value());
  const int64_t windows = sampler->num_windows();
  ASSERT_EQ(windows, 142);
  Batch b(1, seq);
  std::vector<std::vector<int32_t>> orders(3);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<int32_t> starts;
    for (int64_t i = 0; i < windows; ++i) {
      EXPECT_EQ(sampler->state().epoch, epoch);
      EXPECT_EQ(sampler->state().position, i);
      sampler->next(b.inputs, b.targets);
      starts.insert(b.inputs[0]);
      orders[epoch].push_back(b.inputs[0]);
    }
    EXPECT_EQ(int64_t(starts.size()), windows);
    EXPECT_EQ(*starts.begin(), 0);
    EXPECT_EQ(*starts.rbegin(), (windows - 1) * seq);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
  EXPECT_EQ(sampler->window_start(1, 5), orders[1][5]);
}

TEST_F(BatchSamplerTest, SameSeedSameBatchesOtherSeedOtherBatches) {
  const TokenFile file = make_file("c.tok", 5000);
  auto a = BatchSampler::create(file, 16, 3, 5);
  auto b = BatchSampler::create(file, 16, 3, 5);
  auto c = BatchSampler::create(file, 16, 3, 6);
  ASSERT_TRUE(a && b && c);
  Batch ba(3, 16), bb(3, 16), bc(3, 16);
  bool any_differs = false;
  for (int step = 0; step < 20; ++step) {
    a->next(ba.inputs, ba.targets);
    b->next(bb.inputs, bb.targets);
    c->next(bc.inputs, bc.targets);
    EXPECT_EQ(ba.inputs, bb.inputs);
    EXPECT_EQ(ba.targets, bb.targets);
    any_differs |= ba.inputs != bc.inputs;
  }
  EXPECT_TRUE(any_differs);
}

TEST_F(BatchSamplerTest, ResumeFromStateReplaysTheSameBatches) {
  // 31 windows, batches of 4: batches straddle epoch boundaries.
  const TokenFile file = make_file("d.tok", 32 * 8);
  const int64_t seq = 8, batch = 4;
  auto first = BatchSampler::create(file, seq, batch, 11);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->num_windows(), 31);
  Batch b(batch, seq);
  for (int step = 0; step < 13; ++step) first->next(b.inputs, b.targets);
  const SamplerState saved = first->state();
  EXPECT_EQ(saved.epoch, 1);  // 52 windows consumed
  EXPECT_EQ(saved.position, 21);

  auto resumed = BatchSampler::create(file, seq, batch, 11);
  ASSERT_TRUE(resumed.has_value());
  ASSERT_TRUE(resumed->set_state(saved).is_ok());
  Batch r(batch, seq);
  for (int step = 0; step < 40; ++step) {
    first->next(b.inputs, b.targets);
    resumed->next(r.inputs, r.targets);
    ASSERT_EQ(b.inputs, r.inputs) << "step " << step;
    ASSERT_EQ(b.targets, r.targets) << "step " << step;
  }
  EXPECT_EQ(first->state().epoch, resumed->state().epoch);
  EXPECT_EQ(first->state().position, resumed->state().position);

  Status bad = resumed->set_state({.epoch = 0, .position = 31});
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("d.tok"));
}

TEST_F(BatchSamplerTest, ShortFileIsRejectedByName) {
  const TokenFile file = make_file("short.tok", 8);
  auto sampler = BatchSampler::create(file, 8, 1, 1);
  ASSERT_FALSE(sampler.has_value());
  EXPECT_THAT(sampler.error().message(), HasSubstr("short.tok"));
  EXPECT_THAT(sampler.error().message(), HasSubstr("seq_len + 1 = 9"));
  auto eval = EvalSampler::create(file, 8, 1);
  ASSERT_FALSE(eval.has_value());
  EXPECT_THAT(eval.error().message(), HasSubstr("short.tok"));
  // Exactly seq_len + 1 tokens is one window.
  const TokenFile fits = make_file("fits.tok", 9);
  auto one = BatchSampler::create(fits, 8, 2, 1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->num_windows(), 1);
  Batch b(2, 8);
  one->next(b.inputs, b.targets);
  EXPECT_EQ(b.inputs[0], 0);
  EXPECT_EQ(b.targets[15], 8);
}

TEST_F(BatchSamplerTest, EvalSamplerIsSequentialAndResets) {
  const TokenFile file = make_file("val.tok", 50);
  const int64_t seq = 5, batch = 3;  // 9 windows: 3 batches
  auto eval = EvalSampler::create(file, seq, batch);
  ASSERT_TRUE(eval.has_value());
  EXPECT_EQ(eval->num_windows(), 9);
  EXPECT_EQ(eval->num_batches(), 3);
  Batch b(batch, seq);
  std::vector<int32_t> starts;
  for (int step = 0; step < 3; ++step) {
    eval->next(b.inputs, b.targets);
    for (int64_t r = 0; r < batch; ++r) {
      starts.push_back(b.inputs[r * seq]);
      EXPECT_EQ(b.targets[r * seq + seq - 1], b.inputs[r * seq] + seq);
    }
  }
  EXPECT_EQ(starts, (std::vector<int32_t>{0, 5, 10, 15, 20, 25, 30, 35, 40}));
  eval->next(b.inputs, b.targets);  // wraps around
  EXPECT_EQ(b.inputs[0], 0);
  eval->reset();
  eval->next(b.inputs, b.targets);
  EXPECT_EQ(b.inputs[0], 0);
  EXPECT_EQ(b.inputs[seq], 5);
}

}  // namespace
}  // namespace symphony
