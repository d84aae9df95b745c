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

TEST(Embedding, BackwardIsBitwiseIndependentOfThreadCount) {
  const int64_t vocab = 13, cols = 257, count = 999;
  const std::vector<int32_t> tokens = random_tokens(count, vocab, 77);
  Buffer dout = random_buffer(DType::kF32, {count, cols}, 78);
  const int saved_threads = omp_get_max_threads();
  std::vector<Buffer> results;
  for (int threads : {1, 2, 3, 7}) {
    omp_set_num_threads(threads);
    Buffer dtable = random_buffer(DType::kF32, {vocab, cols}, 79);
    cpu::embedding_backward(tokens, dout.view(), dtable.view());
    results.push_back(std::move(dtable));
  }
  omp_set_num_threads(saved_threads);
  for (size_t i = 1; i < results.size(); ++i)
    EXPECT_EQ(std::memcmp(results[i].f32(), results[0].f32(), size_t(results[0].bytes())), 0)
        << "run " << i;
}

}  // namespace
}  // namespace symphony
