#include "kernels/embedding.h"

#include <fmt/format.h>
#include <omp.h>

#include <cstring>
#include <vector>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::element;
using testkit::random_buffer;

struct EmbeddingDims {
  int64_t vocab, cols, tokens;
};

std::vector<int32_t> random_tokens(int64_t count, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> tokens(static_cast<size_t>(count));
  for (int64_t n = 0; n < count; ++n)
    tokens[size_t(n)] = int32_t(uniform_at(seed, uint64_t(n)) * double(vocab));
  return tokens;
}

TEST(Embedding, ForwardCopiesRows) {
  Buffer table = random_buffer(DType::kF64, {4, 3}, 1);
  const std::vector<int32_t> tokens = {2, 0, 2, 3};
  for (Exec ex : {Exec::cpu(), Exec::reference()}) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      Buffer t = testkit::convert(table.view(), dtype);
      Buffer out(dtype, {4, 3});
      embedding_forward(ex, t.view(), tokens, out.view());
      for (int64_t n = 0; n < 4; ++n)
        for (int64_t c = 0; c < 3; ++c)
          EXPECT_EQ(element(out.view(), n * 3 + c), element(t.view(), tokens[n] * 3 + c));
    }
  }
}

TEST(Embedding, BackwardAccumulatesRepeatedTokens) {
  // Token 1 appears twice, token 0 never: dtable[1] gains both rows, dtable[0] keeps its value.
  const std::vector<int32_t> tokens = {1, 2, 1};
  for (Exec ex : {Exec::cpu(), Exec::reference()}) {
    Buffer dtable(DType::kF32, {3, 2});
    for (int64_t i = 0; i < 6; ++i) testkit::set_element(dtable.view(), i, 100.0 * double(i));
    Buffer dout(DType::kF32, {3, 2});
    const float rows[6] = {1, 2, 3, 4, 5, 6};
    std::memcpy(dout.f32(), rows, sizeof(rows));
    embedding_backward(ex, tokens, dout.view(), dtable.view());
    const float want[6] = {0, 100, 200 + 1 + 5, 300 + 2 + 6, 400 + 3, 500 + 4};
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(dtable.f32()[i], want[i]) << "element " << i;
  }
}

TEST(Embedding, CpuMatchesReference) {
  for (auto [vocab, cols, count] :
       {EmbeddingDims{1, 1, 1}, {5, 17, 40}, {11, 33, 7}, {300, 100, 513}, {50, 1000, 300}}) {
    SCOPED_TRACE(fmt::format("vocab={} cols={} tokens={}", vocab, cols, count));
    const uint64_t seed = uint64_t(vocab * 1000 + cols);
    const std::vector<int32_t> tokens = random_tokens(count, vocab, seed);
    Buffer table = random_buffer(DType::kF32, {vocab, cols}, seed + 1);
    Buffer out_ref(DType::kF32, {count, cols}), out(DType::kF32, {count, cols});
    ref::embedding_forward(table.view(), tokens, out_ref.view());
    cpu::embedding_forward(table.view(), tokens, out.view());
    EXPECT_TENSOR_NEAR(out.view(), out_ref.view(), (testkit::Tolerance{0, 0}));

    Buffer dout = random_buffer(DType::kF32, {count, cols}, seed + 2);
    Buffer dtable_ref = random_buffer(DType::kF32, {vocab, cols}, seed + 3);
    Buffer dtable = testkit::convert(dtable_ref.view(), DType::kF32);
    ref::embedding_backward(tokens, dout.view(), dtable_ref.view());
    cpu::embedding_backward(tokens, dout.view(), dtable.view());
    // A row repeated r times is a float sum of r terms in the fast kernel.
    EXPECT_TENSOR_NEAR(dtable.view(), dtable_ref.view(), (testkit::Tolerance{1e-5, 1e-4}));
  }
}

// A block of the vocabulary: rows [first, first + rows).
struct VocabBlock {
  int64_t first, rows;
};

// The blocks of a vocabulary cut at `cuts` (ascending, inside (0, vocab)).
std::vector<VocabBlock> blocks_of(int64_t vocab, std::initializer_list<int64_t> cuts) {
  std::vector<VocabBlock> blocks;
  int64_t first = 0;
  for (int64_t cut : cuts) {
    blocks.push_back({first, cut - first});
    first = cut;
  }
  blocks.push_back({first, vocab - first});
  return blocks;
}

TEST(Embedding, BlockCpuMatchesReference) {
  struct Case {
    EmbeddingDims dims;
    VocabBlock block;
  };
  // Blocks at the start, in the middle and at the end; 17 and 33 columns leave vector tails.
  for (auto [dims, block] : {Case{{5, 17, 40}, {0, 2}}, Case{{11, 33, 70}, {4, 3}},
                             Case{{300, 100, 513}, {225, 75}}, Case{{50, 1000, 300}, {10, 1}}}) {
    const auto [vocab, cols, count] = dims;
    SCOPED_TRACE(fmt::format("vocab={} cols={} tokens={} block=[{}, {})", vocab, cols, count,
                             block.first, block.first + block.rows));
    const uint64_t seed = uint64_t(vocab * 1000 + cols + 7);
    const std::vector<int32_t> tokens = random_tokens(count, vocab, seed);
    Buffer table = random_buffer(DType::kF32, {block.rows, cols}, seed + 1);
    Buffer out_ref = random_buffer(DType::kF32, {count, cols}, seed + 4);
    Buffer out = random_buffer(DType::kF32, {count, cols}, seed + 5);
    ref::embedding_forward(table.view(), tokens, out_ref.view(), block.first);
    cpu::embedding_forward(table.view(), tokens, out.view(), block.first);
    EXPECT_TENSOR_NEAR(out.view(), out_ref.view(), (testkit::Tolerance{0, 0}));
    for (int64_t n = 0; n < count; ++n) {
      const int64_t row = tokens[size_t(n)] - block.first;
      for (int64_t c = 0; c < cols; ++c) {
        const double want =
            row >= 0 && row < block.rows ? element(table.view(), row * cols + c) : 0.0;
        ASSERT_EQ(element(out.view(), n * cols + c), want) << "token " << n << " column " << c;
      }
    }

    Buffer dout = random_buffer(DType::kF32, {count, cols}, seed + 2);
    Buffer dtable_ref = random_buffer(DType::kF32, {block.rows, cols}, seed + 3);
    Buffer dtable = testkit::convert(dtable_ref.view(), DType::kF32);
    ref::embedding_backward(tokens, dout.view(), dtable_ref.view(), block.first);
    cpu::embedding_backward(tokens, dout.view(), dtable.view(), block.first);
    EXPECT_TENSOR_NEAR(dtable.view(), dtable_ref.view(), (testkit::Tolerance{1e-5, 1e-4}));
  }
}

// The blocks of a vocabulary together are the whole table: the sum of their lookups is the
// whole-table lookup exactly (one block contributes each row, the others add zeros), and their
// gradients, stacked, are the whole-table gradient bitwise.
TEST(Embedding, BlocksSumToWholeTable) {
  const int64_t vocab = 64, cols = 37, count = 200;
  const std::vector<int32_t> tokens = random_tokens(count, vocab, 91);
  for (Exec ex : {Exec::cpu(), Exec::reference()}) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      for (const std::vector<VocabBlock>& blocks :
           {blocks_of(vocab, {16, 32, 48}), blocks_of(vocab, {1, 40}), blocks_of(vocab, {})}) {
        SCOPED_TRACE(fmt::format("ref={} f64={} blocks={}", ex.impl == KernelImpl::kRef,
                                 dtype == DType::kF64, blocks.size()));
        Buffer table = random_buffer(dtype, {vocab, cols}, 92);
        Buffer whole(dtype, {count, cols});
        embedding_forward(ex, table.view(), tokens, whole.view());
        Buffer dout = random_buffer(dtype, {count, cols}, 93);
        Buffer dtable_whole = random_buffer(dtype, {vocab, cols}, 94);
        Buffer dtable_blocks = testkit::convert(dtable_whole.view(), dtype);
        embedding_backward(ex, tokens, dout.view(), dtable_whole.view());

        std::vector<double> sum(size_t(count * cols), 0.0);
        Buffer part(dtype, {count, cols});
        for (const VocabBlock& b : blocks) {
          embedding_forward(ex, table.view().rows(b.first, b.first + b.rows), tokens, part.view(),
                            b.first);
          for (int64_t i = 0; i < count * cols; ++i) sum[size_t(i)] += element(part.view(), i);
          embedding_backward(ex, tokens, dout.view(),
                             dtable_blocks.view().rows(b.first, b.first + b.rows), b.first);
        }
        for (int64_t i = 0; i < count * cols; ++i)
          ASSERT_EQ(sum[size_t(i)], element(whole.view(), i)) << "element " << i;
        EXPECT_EQ(std::memcmp(dtable_blocks.view().raw(), dtable_whole.view().raw(),
                              size_t(dtable_whole.bytes())),
                  0);
      }
    }
  }
}

TEST(Embedding, NegativeTokenIsRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // OpenMP threads exist by now
  Buffer table = random_buffer(DType::kF32, {4, 3}, 1);
  Buffer out(DType::kF32, {2, 3});
  const std::vector<int32_t> tokens = {1, -1};
  EXPECT_DEATH(embedding_forward(Exec::cpu(), table.view(), tokens, out.view()),
               "token -1 at position 1 is negative");
}

TEST(Embedding, BackwardIsBitwiseIndependentOfThreadCount) {
  const int64_t vocab = 13, cols = 257, count = 999;
  const std::vector<int32_t> tokens = random_tokens(count, vocab, 77);
  Buffer dout = random_buffer(DType::kF32, {count, cols}, 78);
  const int saved_threads = omp_get_max_threads();
  std::vector<Buffer> results;
  for (int64_t first : {0, 5}) {  // the whole table, then the block [5, 13) of 5 + 13 rows
    for (int threads : {1, 2, 3, 7}) {
      omp_set_num_threads(threads);
      Buffer dtable = random_buffer(DType::kF32, {vocab, cols}, 79);
      cpu::embedding_backward(tokens, dout.view(), dtable.view().rows(0, vocab - first), first);
      results.push_back(std::move(dtable));
    }
  }
  omp_set_num_threads(saved_threads);
  for (size_t i = 1; i < results.size(); ++i) {
    const size_t base = i < 4 ? 0 : 4;
    EXPECT_EQ(std::memcmp(results[i].f32(), results[base].f32(), size_t(results[0].bytes())), 0)
        << "run " << i;
  }
}

}  // namespace
}  // namespace symphony
