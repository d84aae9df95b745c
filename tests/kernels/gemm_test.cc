#include "kernels/gemm.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/bf16_convert.h"
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

// ---------------------------------------------------------------------------------------------
// BF16 GEMM

using cpu::Bf16GemmPath;

std::vector<Bf16GemmPath> bf16_paths() {
  std::vector<Bf16GemmPath> paths = {Bf16GemmPath::kRoundedFp32};
  if (cpu::bf16_gemm_path() == Bf16GemmPath::kNative) paths.push_back(Bf16GemmPath::kNative);
  return paths;
}

// Largest allowed |fast - ref| at C(i, j). Both versions multiply the same bf16 values, exactly;
// the fast one sums the k products in fp32 (in any order or blocking) and adds beta * C, which
// Higham's bound for floating-point summation limits to (k + 1) u sum_p |alpha a_ip b_pj| plus
// u |beta c_ij|, u = 2^-24. The bf16 values are within 2^-8 of the fp32 inputs used here.
double bf16_error_bound(Trans ta, Trans tb, double alpha, ConstView a, ConstView b, double beta,
                        ConstView c_before, int64_t i, int64_t j) {
  const int64_t k = ta == Trans::kNo ? a.dim(1) : a.dim(0);
  const float* af = a.f32();
  const float* bf = b.f32();
  double abs_sum = 0;
  for (int64_t p = 0; p < k; ++p) {
    const double x = ta == Trans::kNo ? af[i * a.dim(1) + p] : af[p * a.dim(1) + i];
    const double y = tb == Trans::kNo ? bf[p * b.dim(1) + j] : bf[j * b.dim(1) + p];
    abs_sum += std::fabs(x * y);
  }
  const double u = std::ldexp(1.0, -24), widen = (1 + 1.0 / 256) * (1 + 1.0 / 256);
  const double prior =
      beta == 0.0 ? 0.0 : std::fabs(beta * c_before.f32()[i * c_before.dim(1) + j]);
  return (double(k) + 1) * u * widen * std::fabs(alpha) * abs_sum + 2 * u * prior;
}

TEST(GemmBf16, EveryPathMatchesReferenceForEveryTransposeAndBeta) {
  struct Case {
    int64_t m, n, k;
  };
  // Odd sizes (not multiples of 16 or 64), tiny and empty shapes, and k = 300, where a result
  // that skipped the rounding of its inputs would exceed the bound (see RoundsItsInputs).
  const Case cases[] = {{1, 1, 1}, {3, 17, 5},   {65, 33, 129}, {2, 7, 0},   {0, 5, 3},
                        {5, 0, 3}, {1, 64, 300}, {97, 50, 300}, {16, 16, 16}};
  for (Bf16GemmPath path : bf16_paths()) {
    for (auto [m, n, k] : cases) {
      for (Trans ta : {Trans::kNo, Trans::kYes}) {
        for (Trans tb : {Trans::kNo, Trans::kYes}) {
          for (double beta : {0.0, 1.0}) {
            const double alpha = m % 2 == 0 ? 0.5 : 1.0;
            SCOPED_TRACE(fmt::format("{} m={} n={} k={} ta={} tb={} alpha={} beta={}",
                                     cpu::bf16_gemm_path_name(path), m, n, k, int(ta), int(tb),
                                     alpha, beta));
            const uint64_t seed = uint64_t(m * 7919 + n * 31 + k);
            Buffer a = testkit::random_buffer(DType::kF32,
                                              ta == Trans::kNo ? Shape{m, k} : Shape{k, m}, seed);
            Buffer b = testkit::random_buffer(
                DType::kF32, tb == Trans::kNo ? Shape{k, n} : Shape{n, k}, seed + 1);
            Buffer c = testkit::random_buffer(DType::kF32, {m, n}, seed + 2);
            Buffer c_before = testkit::convert(c.view(), DType::kF32);
            Buffer c_ref = testkit::convert(c.view(), DType::kF32);
            ref::gemm_bf16(ta, tb, alpha, a.view(), b.view(), beta, c_ref.view());
            cpu::gemm_bf16(path, ta, tb, alpha, a.view(), b.view(), beta, c.view());
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                const double got = c.f32()[i * n + j], want = c_ref.f32()[i * n + j];
                ASSERT_LE(std::fabs(got - want), bf16_error_bound(ta, tb, alpha, a.view(), b.view(),
                                                                  beta, c_before.view(), i, j))
                    << fmt::format("C({}, {}) = {} against {}", i, j, got, want);
              }
          }
        }
      }
    }
  }
}

// 1 + 2^-10 lies between the bf16 values 1 and 1 + 2^-7, nearer 1: a BF16 GEMM of 64 such terms
// is exactly 64, an fp32 one 64.0625.
TEST(GemmBf16, RoundsItsInputs) {
  const int64_t k = 64;
  Buffer a(DType::kF32, {2, k}), b(DType::kF32, {k, 3}), c(DType::kF32, {2, 3});
  for (int64_t i = 0; i < a.numel(); ++i) a.f32()[i] = 1.0f + 0x1p-10f;
  for (int64_t i = 0; i < b.numel(); ++i) b.f32()[i] = 1.0f;
  for (Bf16GemmPath path : bf16_paths()) {
    cpu::gemm_bf16(path, Trans::kNo, Trans::kNo, 1.0, a.view(), b.view(), 0.0, c.view());
    for (int64_t i = 0; i < c.numel(); ++i)
      EXPECT_EQ(c.f32()[i], 64.0f) << cpu::bf16_gemm_path_name(path);
  }
  gemm(Exec::cpu().with_matmul(Precision::kBf16), Trans::kNo, Trans::kNo, 1.0, a.view(), b.view(),
       0.0, c.view());
  EXPECT_EQ(c.f32()[0], 64.0f);
  gemm(Exec::reference().with_matmul(Precision::kBf16), Trans::kNo, Trans::kNo, 1.0, a.view(),
       b.view(), 0.0, c.view());
  EXPECT_EQ(c.f32()[0], 64.0f);
  gemm(Exec::cpu(), Trans::kNo, Trans::kNo, 1.0, a.view(), b.view(), 0.0, c.view());
  EXPECT_EQ(c.f32()[0], 64.0625f);
  // f64 views keep the exact reference GEMM whatever the Exec says (gradient checks).
  Buffer a64 = testkit::convert(a.view(), DType::kF64),
         b64 = testkit::convert(b.view(), DType::kF64);
  Buffer c64(DType::kF64, {2, 3});
  gemm(Exec::cpu().with_matmul(Precision::kBf16), Trans::kNo, Trans::kNo, 1.0, a64.view(),
       b64.view(), 0.0, c64.view());
  EXPECT_EQ(c64.data<double>()[0], 64.0 * (1.0 + 0x1p-10));
}

TEST(GemmBf16, DispatchRunsTheFastPathDeterministicallyAndBetaZeroIgnoresNaN) {
  const int64_t m = 37, n = 45, k = 70;
  Buffer a = testkit::random_buffer(DType::kF32, {k, m}, 11);
  Buffer b = testkit::random_buffer(DType::kF32, {n, k}, 12);
  Buffer c1(DType::kF32, {m, n}), c2(DType::kF32, {m, n}), c3(DType::kF32, {m, n});
  for (int64_t i = 0; i < c1.numel(); ++i)
    c1.f32()[i] = c2.f32()[i] = std::numeric_limits<float>::quiet_NaN();
  const Exec bf16 = Exec::cpu().with_matmul(Precision::kBf16);
  gemm(bf16, Trans::kYes, Trans::kYes, 1.0, a.view(), b.view(), 0.0, c1.view());
  gemm(bf16, Trans::kYes, Trans::kYes, 1.0, a.view(), b.view(), 0.0, c2.view());
  cpu::gemm_bf16(Trans::kYes, Trans::kYes, 1.0, a.view(), b.view(), 0.0, c3.view());
  for (int64_t i = 0; i < c1.numel(); ++i) {
    ASSERT_FALSE(std::isnan(c1.f32()[i])) << i;
    ASSERT_EQ(c1.f32()[i], c2.f32()[i]) << i;
    ASSERT_EQ(c1.f32()[i], c3.f32()[i]) << i;
  }
}

TEST(GemmBf16, ScratchGrowsToTheLargestGemmAndIsReused) {
  const int64_t before = cpu::gemm_bf16_scratch_held_bytes();
  const int64_t m = 40, n = 50, k = 60;
  Buffer a = testkit::random_buffer(DType::kF32, {m, k}, 1);
  Buffer b = testkit::random_buffer(DType::kF32, {k, n}, 2);
  Buffer c(DType::kF32, {m, n});
  cpu::gemm_bf16(Trans::kNo, Trans::kNo, 1.0, a.view(), b.view(), 0.0, c.view());
  const int64_t after = cpu::gemm_bf16_scratch_held_bytes();
  EXPECT_EQ(after, std::max(before, cpu::gemm_bf16_scratch_bytes(m * k + k * n)));
  cpu::gemm_bf16(Trans::kNo, Trans::kNo, 1.0, a.view().rows(0, 10), b.view(), 0.0,
                 c.view().rows(0, 10));
  EXPECT_EQ(cpu::gemm_bf16_scratch_held_bytes(), after);
  const int64_t more = m * k + k * n + 1001;
  cpu::gemm_bf16_reserve(more);
  EXPECT_EQ(cpu::gemm_bf16_scratch_held_bytes(),
            std::max(after, cpu::gemm_bf16_scratch_bytes(more)));
  EXPECT_EQ(cpu::gemm_bf16_scratch_bytes(more) % 4, 0);  // whole floats of a Buffer
}

// A shared operand is converted once for the GEMMs that take it, as A or as B, and the results
// are bitwise those of converting it each time. A GEMM that does not take it (one that writes
// it, too) and a scratch that grows make the next GEMM convert it again; switched off, every
// GEMM converts its own inputs.
TEST(GemmBf16, ASharedOperandIsConvertedOnceWithTheSameResults) {
  const int64_t m = 33, k = 40, n1 = 25, n2 = 31;
  Buffer x = testkit::random_buffer(DType::kF32, {m, k}, 21);
  Buffer w1 = testkit::random_buffer(DType::kF32, {n1, k}, 22);
  Buffer w2 = testkit::random_buffer(DType::kF32, {n2, k}, 23);
  Buffer dy = testkit::random_buffer(DType::kF32, {m, n1}, 24);
  for (Bf16GemmPath path : bf16_paths()) {
    SCOPED_TRACE(cpu::bf16_gemm_path_name(path));
    // y1 = x w1^T, y2 = x w2^T (x as A), dw = dy^T x (x as B), each alone.
    auto run_all = [&](std::vector<Buffer>& out) {
      out.clear();
      out.emplace_back(DType::kF32, Shape{m, n1});
      out.emplace_back(DType::kF32, Shape{m, n2});
      out.push_back(testkit::random_buffer(DType::kF32, {n1, k}, 25));
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w1.view(), 0.0, out[0].view());
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w2.view(), 0.0, out[1].view());
      cpu::gemm_bf16(path, Trans::kYes, Trans::kNo, 1.0, dy.view(), x.view(), 1.0, out[2].view());
    };
    std::vector<Buffer> alone, shared;
    run_all(alone);
    int64_t before = cpu::gemm_bf16_converted_elems();
    {
      const Bf16SharedOperand scope(x.view());
      run_all(shared);
    }
    EXPECT_EQ(cpu::gemm_bf16_converted_elems() - before,
              x.numel() + w1.numel() + w2.numel() + dy.numel());
    for (size_t i = 0; i < alone.size(); ++i)
      EXPECT_EQ(std::memcmp(alone[i].f32(), shared[i].f32(), size_t(alone[i].bytes())), 0) << i;

    // A GEMM without x in between (dy^T dy, dy converted as A and as B): x is converted again
    // after it.
    Buffer other(DType::kF32, {n1, n1});
    before = cpu::gemm_bf16_converted_elems();
    {
      const Bf16SharedOperand scope(x.view());
      Buffer y(DType::kF32, {m, n1});
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w1.view(), 0.0, y.view());
      cpu::gemm_bf16(path, Trans::kYes, Trans::kNo, 1.0, dy.view(), dy.view(), 0.0, other.view());
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w1.view(), 0.0, y.view());
      EXPECT_EQ(std::memcmp(y.f32(), alone[0].f32(), size_t(y.bytes())), 0);
    }
    EXPECT_EQ(cpu::gemm_bf16_converted_elems() - before,
              2 * (x.numel() + w1.numel() + dy.numel()));

    // A GEMM writing into the shared operand: the next one reads the new values.
    {
      Buffer z = testkit::convert(x.view(), DType::kF32);
      Buffer square = testkit::random_buffer(DType::kF32, {k, k}, 26);
      Buffer y(DType::kF32, {m, n1}), want(DType::kF32, {m, n1});
      const Bf16SharedOperand scope(z.view());
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, z.view(), w1.view(), 0.0, y.view());
      // z's first rows become x's first rows times `square`.
      cpu::gemm_bf16(path, Trans::kNo, Trans::kNo, 1.0, x.view().rows(0, 8), square.view(), 0.0,
                     z.view().rows(0, 8));
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, z.view(), w1.view(), 0.0, y.view());
      Buffer z_copy = testkit::convert(z.view(), DType::kF32);
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, z_copy.view(), w1.view(), 0.0,
                     want.view());
      EXPECT_EQ(std::memcmp(y.f32(), want.f32(), size_t(y.bytes())), 0);
    }

    // The scratch replaced while x's copy is held: converted again, the same results.
    {
      const Bf16SharedOperand scope(x.view());
      Buffer y1(DType::kF32, {m, n1}), y2(DType::kF32, {m, n2});
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w1.view(), 0.0, y1.view());
      cpu::gemm_bf16_reserve((cpu::gemm_bf16_scratch_held_bytes() + 4096) / 2);
      before = cpu::gemm_bf16_converted_elems();
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w2.view(), 0.0, y2.view());
      EXPECT_EQ(cpu::gemm_bf16_converted_elems() - before, x.numel() + w2.numel());
      EXPECT_EQ(std::memcmp(y2.f32(), alone[1].f32(), size_t(y2.bytes())), 0);
    }
  }
  // Both paths in one scope: each converts the shared operand in its own form.
  if (bf16_paths().size() == 2) {
    Buffer native(DType::kF32, {m, n1}), rounded(DType::kF32, {m, n1});
    Buffer native_alone(DType::kF32, {m, n1}), rounded_alone(DType::kF32, {m, n1});
    for (Bf16GemmPath path : bf16_paths())
      cpu::gemm_bf16(path, Trans::kNo, Trans::kYes, 1.0, x.view(), w1.view(), 0.0,
                     (path == Bf16GemmPath::kNative ? native_alone : rounded_alone).view());
    {
      const Bf16SharedOperand scope(x.view());
      cpu::gemm_bf16(Bf16GemmPath::kNative, Trans::kNo, Trans::kYes, 1.0, x.view(), w1.view(), 0.0,
                     native.view());
      cpu::gemm_bf16(Bf16GemmPath::kRoundedFp32, Trans::kNo, Trans::kYes, 1.0, x.view(),
                     w1.view(), 0.0, rounded.view());
    }
    EXPECT_EQ(std::memcmp(native.f32(), native_alone.f32(), size_t(native.bytes())), 0);
    EXPECT_EQ(std::memcmp(rounded.f32(), rounded_alone.f32(), size_t(rounded.bytes())), 0);
  }
  // Switched off: each GEMM converts its own inputs.
  Bf16SharedOperand::set_enabled(false);
  const int64_t before = cpu::gemm_bf16_converted_elems();
  {
    const Bf16SharedOperand scope(x.view());
    Buffer y1(DType::kF32, {m, n1}), y2(DType::kF32, {m, n2});
    gemm(Exec::cpu().with_matmul(Precision::kBf16), Trans::kNo, Trans::kYes, 1.0, x.view(),
         w1.view(), 0.0, y1.view());
    gemm(Exec::cpu().with_matmul(Precision::kBf16), Trans::kNo, Trans::kYes, 1.0, x.view(),
         w2.view(), 0.0, y2.view());
  }
  Bf16SharedOperand::set_enabled(true);
  EXPECT_EQ(cpu::gemm_bf16_converted_elems() - before, 2 * x.numel() + w1.numel() + w2.numel());
}

TEST(GemmBf16DeathTest, OneSharedOperandPerThread) {
  Buffer x(DType::kF32, {2, 2}), y(DType::kF32, {2, 2});
  EXPECT_DEATH(
      {
        const Bf16SharedOperand a(x.view());
        const Bf16SharedOperand b(y.view());
      },
      "one scope per thread at a time");
}

}  // namespace
}  // namespace symphony
