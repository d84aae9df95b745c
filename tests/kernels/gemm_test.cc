#include "kernels/gemm.h"

#include <fmt/format.h>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

TEST(Gemm, CpuMatchesReferenceForEveryTransposeAndBeta) {
  struct Case {
    int64_t m, n, k;
  };
  // 600 x 40 x 70 takes the path that transposes B first (A·B^T with many rows of A and few of
  // B, in the oneDNN build).
  for (auto [m, n, k] : {Case{1, 1, 1}, {3, 17, 5}, {64, 48, 33}, {2, 7, 0}, {600, 40, 70}}) {
    for (Trans ta : {Trans::kNo, Trans::kYes}) {
      for (Trans tb : {Trans::kNo, Trans::kYes}) {
        for (double beta : {0.0, 1.0}) {
          SCOPED_TRACE(fmt::format("m={} n={} k={} ta={} tb={} beta={}", m, n, k, int(ta), int(tb),
                                   beta));
          uint64_t seed = uint64_t(m * 7919 + n * 31 + k);
          Shape a_shape = ta == Trans::kNo ? Shape{m, k} : Shape{k, m};
          Shape b_shape = tb == Trans::kNo ? Shape{k, n} : Shape{n, k};
          Buffer a = testkit::random_buffer(DType::kF32, a_shape, seed);
          Buffer b = testkit::random_buffer(DType::kF32, b_shape, seed + 1);
          Buffer c = testkit::random_buffer(DType::kF32, {m, n}, seed + 2);
          Buffer c_ref = testkit::convert(c.view(), DType::kF32);
          ref::gemm(ta, tb, 0.5, a.view(), b.view(), beta, c_ref.view());
          gemm(Exec::cpu(), ta, tb, 0.5, a.view(), b.view(), beta, c.view());
          EXPECT_TENSOR_NEAR(c.view(), c_ref.view(), (testkit::Tolerance{1e-5, 1e-4}));
        }
      }
    }
  }
}

TEST(Gemm, ReferenceComputesKnownProduct) {
  Buffer a(DType::kF64, {2, 2}), b(DType::kF64, {2, 2}), c(DType::kF64, {2, 2});
  double av[] = {1, 2, 3, 4}, bv[] = {5, 6, 7, 8};
  for (int i = 0; i < 4; ++i) a.data<double>()[i] = av[i], b.data<double>()[i] = bv[i];
  ref::gemm(Trans::kNo, Trans::kNo, 1.0, a.view(), b.view(), 0.0, c.view());
  EXPECT_EQ(c.data<double>()[0], 19);
  EXPECT_EQ(c.data<double>()[1], 22);
  EXPECT_EQ(c.data<double>()[2], 43);
  EXPECT_EQ(c.data<double>()[3], 50);
}

}  // namespace
}  // namespace symphony
