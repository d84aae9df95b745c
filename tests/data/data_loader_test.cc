#include "data/data_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "data/eval_sampler.h"
#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kSeqLen = 10;

// A token file whose token i is first + i, so a window's first input names its start.
TokenDataset make_counting_dataset(const testkit::TempDir& dir, const std::string& name,
                                   int64_t count, int32_t first) {
  auto writer = TokenFileWriter::create(dir / name, TokenFileMeta{65536, 0, 0});
  EXPECT_TRUE(writer.has_value());
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) tokens[size_t(i)] = first + int32_t(i);
  EXPECT_TRUE(writer->append(tokens).is_ok());
  EXPECT_TRUE(writer->close().is_ok());
  auto d = TokenDataset::open_token_file(dir / name);
  EXPECT_TRUE(d.has_value()) << d.error().message();
  return std::move(d).value();
}

struct Batch {
  std::vector<int32_t> inputs, targets;
  bool operator==(const Batch&) const = default;
};

std::unique_ptr<DataLoader> make_loader(std::vector<BlendSource> sources, int64_t mb,
                                        uint64_t seed, int prefetch = 2, int rank = 0,
                                        int size = 1) {
  LoaderOptions o{.seq_len = kSeqLen, .micro_batch_size = mb, .dp_rank = rank, .dp_size = size,
                  .seed = seed, .prefetch_depth = prefetch};
  auto loader = DataLoader::create(std::move(sources), o);
  EXPECT_TRUE(loader.has_value()) << loader.error().message();
  return std::move(loader).value();
}

Batch draw(DataLoader& loader) {
  const size_t n = size_t(loader.options().micro_batch_size * kSeqLen);
  Batch b{std::vector<int32_t>(n), std::vector<int32_t>(n)};
  loader.next(b.inputs, b.targets);
  return b;
}

// The first input of each row: the window start plus the dataset's first token.
std::vector<int32_t> row_starts(const Batch& b) {
  std::vector<int32_t> starts;
  for (size_t r = 0; r < b.inputs.size(); r += kSeqLen) starts.push_back(b.inputs[r]);
  return starts;
}

class DataLoaderTest : public ::testing::Test {
 protected:
  testkit::TempDir dir_{"loader"};
  // 1001 tokens: 100 windows of 10 + 1 tokens.
  TokenDataset a_ = make_counting_dataset(dir_, "a.tok", 1001, 0);
  // 501 tokens from 30000: 50 windows, told apart from a_'s by their values.
  TokenDataset b_ = make_counting_dataset(dir_, "b.tok", 501, 30000);
};

TEST_F(DataLoaderTest, WindowsArePackedRowsWithShiftedTargets) {
  auto loader = make_loader({{&a_, 1.0}}, 4, 1);
  const Batch b = draw(*loader);
  for (size_t r = 0; r < 4; ++r) {
    const int32_t start = b.inputs[r * kSeqLen];
    EXPECT_EQ(start % kSeqLen, 0);
    for (size_t t = 0; t < size_t(kSeqLen); ++t) {
      EXPECT_EQ(b.inputs[r * kSeqLen + t], start + int32_t(t));
      EXPECT_EQ(b.targets[r * kSeqLen + t], start + int32_t(t) + 1);
    }
  }
}

TEST_F(DataLoaderTest, EveryWindowOncePerEpochInANewOrderEachEpoch) {
  auto loader = make_loader({{&a_, 1.0}}, 5, 42);
  std::vector<std::vector<int32_t>> epochs(3);
  for (int step = 0; step < 60; ++step) {  // 300 samples: 3 epochs of 100 windows
    for (int32_t start : row_starts(draw(*loader))) epochs[size_t(step / 20)].push_back(start);
  }
  for (const auto& order : epochs) {
    std::set<int32_t> unique(order.begin(), order.end());
    EXPECT_EQ(unique.size(), 100u);
    EXPECT_EQ(*unique.begin(), 0);
    EXPECT_EQ(*unique.rbegin(), 990);
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
  std::vector<int32_t> sorted = epochs[0];
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(epochs[0], sorted);  // shuffled
  EXPECT_EQ(loader->state().sources[0], (SamplerState{3, 0}));
  EXPECT_EQ(loader->state().samples, 300);
}

TEST_F(DataLoaderTest, SameSeedSameBatchesOtherSeedOtherBatches) {
  auto x = make_loader({{&a_, 1.0}}, 3, 7);
  auto y = make_loader({{&a_, 1.0}}, 3, 7);
  auto z = make_loader({{&a_, 1.0}}, 3, 8);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const Batch bx = draw(*x), by = draw(*y), bz = draw(*z);
    EXPECT_EQ(bx, by) << "batch " << i;
    differs |= !(bx == bz);
  }
  EXPECT_TRUE(differs);
}

TEST_F(DataLoaderTest, RanksAreDisjointAndTheirUnionIsTheSingleProcessBatch) {
  for (bool blended : {false, true}) {
    SCOPED_TRACE(blended ? "blended" : "one dataset");
    std::vector<BlendSource> sources = {{&a_, 2.0}};
    if (blended) sources.push_back({&b_, 1.0});
    constexpr int kRanks = 4;
    constexpr int64_t kMb = 3;
    auto single = make_loader(sources, kRanks * kMb, 5, /*prefetch=*/0);
    std::vector<std::unique_ptr<DataLoader>> ranks;
    for (int r = 0; r < kRanks; ++r) ranks.push_back(make_loader(sources, kMb, 5, 2, r, kRanks));
    for (int step = 0; step < 40; ++step) {  // 480 samples: several epochs of both datasets
      const Batch whole = draw(*single);
      Batch joined;
      std::set<int32_t> seen;
      for (int r = 0; r < kRanks; ++r) {
        const Batch part = draw(*ranks[size_t(r)]);
        joined.inputs.insert(joined.inputs.end(), part.inputs.begin(), part.inputs.end());
        joined.targets.insert(joined.targets.end(), part.targets.begin(), part.targets.end());
        for (int32_t start : row_starts(part)) EXPECT_TRUE(seen.insert(start).second) << start;
        EXPECT_EQ(ranks[size_t(r)]->state(), single->state()) << "rank " << r;
      }
      ASSERT_EQ(joined, whole) << "step " << step;
    }
  }
}

TEST_F(DataLoaderTest, RanksSeeDisjointWindowsWithinAnEpoch) {
  std::vector<std::set<int32_t>> per_rank(2);
  for (int r = 0; r < 2; ++r) {
    auto loader = make_loader({{&a_, 1.0}}, 5, 3, 1, r, 2);
    for (int step = 0; step < 10; ++step) {  // 10 * 2 * 5 = 100 samples: one epoch
      for (int32_t start : row_starts(draw(*loader))) per_rank[size_t(r)].insert(start);
    }
  }
  EXPECT_EQ(per_rank[0].size(), 50u);
  EXPECT_EQ(per_rank[1].size(), 50u);
  for (int32_t s : per_rank[0]) EXPECT_EQ(per_rank[1].count(s), 0u) << s;
}

TEST_F(DataLoaderTest, ResumedLoaderYieldsExactlyTheUninterruptedBatches) {
  for (int prefetch : {0, 3}) {
    SCOPED_TRACE(prefetch);
    const std::vector<BlendSource> sources = {{&a_, 1.0}, {&b_, 3.0}};
    auto uninterrupted = make_loader(sources, 4, 11, prefetch, 1, 2);
    for (int i = 0; i < 37; ++i) draw(*uninterrupted);
    const LoaderState saved = uninterrupted->state();
    EXPECT_EQ(saved.samples, 37 * 8);
    std::vector<Batch> expected;
    for (int i = 0; i < 60; ++i) expected.push_back(draw(*uninterrupted));

    auto resumed = make_loader(sources, 4, 11, prefetch, 1, 2);
    draw(*resumed);  // a fresh loader that has already moved on is rewound too
    ASSERT_TRUE(resumed->set_state(saved).is_ok());
    EXPECT_EQ(resumed->state(), saved);
    for (int i = 0; i < 60; ++i) ASSERT_EQ(draw(*resumed), expected[size_t(i)]) << "batch " << i;
    EXPECT_EQ(resumed->state(), uninterrupted->state());
  }
}

TEST_F(DataLoaderTest, PrefetchOnAndOffGiveTheSameBatchesAndStates) {
  const std::vector<BlendSource> sources = {{&a_, 1.0}, {&b_, 1.0}};
  auto sync = make_loader(sources, 6, 2, 0);
  auto shallow = make_loader(sources, 6, 2, 1);
  auto deep = make_loader(sources, 6, 2, 8);
  for (int i = 0; i < 100; ++i) {
    const Batch expected = draw(*sync);
    ASSERT_EQ(draw(*shallow), expected) << "batch " << i;
    ASSERT_EQ(draw(*deep), expected) << "batch " << i;
    // state() counts consumed batches only, not those prefetched.
    ASSERT_EQ(shallow->state(), sync->state());
    ASSERT_EQ(deep->state(), sync->state());
  }
}

TEST_F(DataLoaderTest, BlendingFollowsTheWeightsDeterministically) {
  auto loader = make_loader({{&a_, 3.0}, {&b_, 1.0}}, 8, 9);
  int64_t from_a = 0, from_b = 0;
  std::set<int32_t> b_epoch;
  for (int step = 0; step < 500; ++step) {  // 4000 samples
    for (int32_t start : row_starts(draw(*loader))) {
      (start < 30000 ? from_a : from_b) += 1;
      if (start >= 30000 && b_epoch.size() < 50) b_epoch.insert(start);
    }
  }
  // 3:1 gives 3000 vs 1000; a binomial standard deviation is about 27.
  EXPECT_NEAR(double(from_a) / 4000.0, 0.75, 0.03);
  EXPECT_EQ(from_a + from_b, 4000);
  EXPECT_EQ(b_epoch.size(), 50u);  // b's windows are each drawn before any repeats
  const LoaderState s = loader->state();
  EXPECT_EQ(s.sources[0].epoch * 100 + s.sources[0].position, from_a);
  EXPECT_EQ(s.sources[1].epoch * 50 + s.sources[1].position, from_b);

  // The schedule is a function of the seed and the sample index alone.
  auto again = make_loader({{&a_, 3.0}, {&b_, 1.0}}, 8, 9);
  auto other = make_loader({{&a_, 3.0}, {&b_, 1.0}}, 8, 10);
  int same = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(loader->stream().source_of(i), again->stream().source_of(i));
    same += loader->stream().source_of(i) == other->stream().source_of(i);
  }
  EXPECT_LT(same, 900);
}

TEST_F(DataLoaderTest, BadOptionsAndStatesAreRejected) {
  LoaderOptions o{.seq_len = kSeqLen, .micro_batch_size = 2, .dp_rank = 2, .dp_size = 2};
  auto bad_rank = DataLoader::create({{&a_, 1.0}}, o);
  ASSERT_FALSE(bad_rank.has_value());
  EXPECT_THAT(bad_rank.error().message(), HasSubstr("dp_rank 2"));
  o.dp_rank = 0;
  auto bad_weight = DataLoader::create({{&a_, 0.0}}, o);
  ASSERT_FALSE(bad_weight.has_value());
  EXPECT_THAT(bad_weight.error().message(), HasSubstr("a.tok: blend weight 0"));
  o.seq_len = 1001;
  auto too_short = DataLoader::create({{&a_, 1.0}}, o);
  ASSERT_FALSE(too_short.has_value());
  EXPECT_THAT(too_short.error().message(), HasSubstr("a.tok: 1001 tokens, too short"));

  auto loader = make_loader({{&a_, 1.0}}, 2, 1);
  const Batch first = draw(*loader);
  const LoaderState before = loader->state();
  Status s = loader->set_state(LoaderState{4, {{0, 100}}});
  ASSERT_FALSE(s.is_ok());
  EXPECT_THAT(s.message(), HasSubstr("does not fit 100 windows"));
  EXPECT_FALSE(loader->set_state(LoaderState{0, {{0, 0}, {0, 0}}}).is_ok());
  EXPECT_EQ(loader->state(), before);  // a rejected state changes nothing
  auto fresh = make_loader({{&a_, 1.0}}, 2, 1);
  draw(*fresh);
  EXPECT_EQ(draw(*loader), draw(*fresh));
}

TEST_F(DataLoaderTest, EvalSamplerReadsSequentialWindowsAndWraps) {
  auto eval = EvalSampler::create(b_, kSeqLen, 4);
  ASSERT_TRUE(eval.has_value());
  EXPECT_EQ(eval->num_windows(), 50);
  EXPECT_EQ(eval->num_batches(), 12);
  std::vector<int32_t> in(4 * kSeqLen), tgt(4 * kSeqLen);
  for (int b = 0; b < 13; ++b) eval->next(in, tgt);  // 52 windows: wraps after 50
  EXPECT_EQ(in[0], 30000 + 480);
  EXPECT_EQ(in[2 * kSeqLen], 30000);
  EXPECT_EQ(tgt[2 * kSeqLen], 30001);
  eval->reset();
  eval->next(in, tgt);
  EXPECT_EQ(in[0], 30000);
}

}  // namespace
}  // namespace symphony
