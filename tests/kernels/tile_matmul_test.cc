#include "kernels/tile_matmul.h"

#include <fmt/format.h>

#include <functional>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;
using TileMatmul = std::function<void(int64_t, int64_t, int64_t, const float*, int64_t, int64_t,
                                      const float*, int64_t, float*, int64_t, bool)>;

struct Case {
  int64_t m, n, k;
  bool transposed_a, accumulate;
};

// Every version against the double-precision reference, on padded tiles with leading dimensions
// wider than the product (as the attention kernels call it), A in both layouts, with and without
// accumulation, and row/column counts that exercise each register block (8 x 32, 8 x 16, 4 x 32,
// 4 x 16).
void check(const TileMatmul& version, const char* name) {
  for (const Case& c : {Case{4, 16, 1, false, false}, Case{8, 32, 64, false, true},
                        Case{12, 48, 64, true, false}, Case{64, 64, 64, true, true},
                        Case{60, 80, 37, false, true}, Case{4, 16, 100, true, true}}) {
    SCOPED_TRACE(fmt::format("{} m={} n={} k={} transposed_a={} accumulate={}", name, c.m, c.n,
                             c.k, c.transposed_a, c.accumulate));
    const int64_t lda = (c.transposed_a ? c.m : c.k) + 3, ldb = c.n + 16, ldc = c.n + 32;
    const int64_t a_rs = c.transposed_a ? 1 : lda, a_ks = c.transposed_a ? lda : 1;
    Buffer a = random_buffer(DType::kF32, {c.transposed_a ? c.k : c.m, lda}, 1);
    Buffer b = random_buffer(DType::kF32, {c.k, ldb}, 2);
    Buffer got = random_buffer(DType::kF32, {c.m, ldc}, 3);
    Buffer want = testkit::convert(got.view(), DType::kF32);
    version(c.m, c.n, c.k, a.f32(), a_rs, a_ks, b.f32(), ldb, got.f32(), ldc, c.accumulate);
    ref::tile_matmul(c.m, c.n, c.k, a.f32(), a_rs, a_ks, b.f32(), ldb, want.f32(), ldc,
                     c.accumulate);
    // Columns past n are untouched.
    EXPECT_TENSOR_NEAR(got.view(), want.view(), testkit::tolerance<float>());
  }
}

TEST(TileMatmul, Avx2MatchesReference) { check(cpu::tile_matmul_avx2, "avx2"); }

TEST(TileMatmul, Avx512MatchesReference) {
  if (!cpu::has_avx512()) GTEST_SKIP() << "this CPU has no AVX-512";
  check(avx512::tile_matmul, "avx512");
}

TEST(TileMatmul, DispatchMatchesReference) { check(cpu::tile_matmul, "dispatch"); }

}  // namespace
}  // namespace symphony
