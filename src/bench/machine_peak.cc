#include "bench/machine_peak.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/timer.h"
#include "kernels/bf16_convert.h"
#include "kernels/gemm.h"
#include "tensor/buffer.h"

namespace symphony {
namespace avx2 {
float fma_loop(int64_t iterations);
}
namespace avx512 {
float fma_loop(int64_t iterations);
}

namespace {
// Portable fallback: 8-wide scalar accumulators the compiler can keep in registers.
float fma_loop_portable(int64_t iterations) {
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int64_t it = 0; it < iterations; ++it)
    for (float& a : acc) a = a * 0.999999f + 1e-7f;
  return acc[0] + acc[7];
}
}  // namespace

double measure_fma_peak_gflops(double seconds) {
  // The widest FMA the CPU has: AVX-512 (16 lanes), AVX2 (8), or the portable loop.
  const bool has_avx512 = __builtin_cpu_supports("avx512f");
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const double flops_per_iteration = has_avx512 ? 12 * 16 * 2 : has_avx2 ? 10 * 8 * 2 : 8 * 2;
  int64_t iterations = 1 << 20;
  double best = 0;
  float sink = 0;
  Timer total;
  while (total.elapsed_s() < seconds) {
    Timer t;
    int threads = 1;
#pragma omp parallel
    {
#pragma omp single
      threads = omp_get_num_threads();
      float r = has_avx512 ? avx512::fma_loop(iterations)
                : has_avx2   ? avx2::fma_loop(iterations)
                             : fma_loop_portable(iterations);
#pragma omp atomic
      sink += r;
    }
    double s = t.elapsed_s();
    best = std::max(best, flops_per_iteration * double(iterations) * threads / s * 1e-9);
    if (s < 0.05) iterations *= 2;
  }
  // Keeps the loops' results observable so they are not optimised away.
  if (sink == 12345.f) std::fputs("", stderr);
  return best;
}

namespace {

// A, B and C of `s`, filled with small values.
struct GemmOperands {
  Buffer a, b, c;
  Trans ta = Trans::kNo, tb = Trans::kNo;
  explicit GemmOperands(const GemmShape& s)
      : a(DType::kF32, s.trans_a ? Shape{s.k, s.m} : Shape{s.m, s.k}),
        b(DType::kF32, s.trans_b ? Shape{s.n, s.k} : Shape{s.k, s.n}),
        c(DType::kF32, {s.m, s.n}),
        ta(s.trans_a ? Trans::kYes : Trans::kNo),
        tb(s.trans_b ? Trans::kYes : Trans::kNo) {
    for (int64_t i = 0; i < a.numel(); ++i) a.f32()[i] = float(i % 7) * 0.01f;
    for (int64_t i = 0; i < b.numel(); ++i) b.f32()[i] = float(i % 5) * 0.01f;
  }
};

// The best time of fn() over about `seconds` (at least one run after a warm-up run).
template <typename Fn>
double best_time_s(double seconds, Fn&& fn) {
  fn();
  double best = 1e30;
  Timer total;
  do {
    Timer t;
    fn();
    best = std::min(best, t.elapsed_s());
  } while (total.elapsed_s() < seconds);
  return best;
}

}  // namespace

std::vector<GemmRate> measure_gemm(const std::vector<GemmShape>& shapes, Precision precision,
                                   double seconds) {
  std::vector<GemmRate> rates;
  const Exec ex = Exec::cpu().with_matmul(precision);
  for (const GemmShape& s : shapes) {
    GemmOperands g(s);
    const double t = best_time_s(seconds, [&] {
      gemm(ex, g.ta, g.tb, 1.0, g.a.view(), g.b.view(), 0.0, g.c.view());
    });
    rates.push_back({s, 2.0 * double(s.m * s.n * s.k) / t * 1e-9});
  }
  return rates;
}

std::vector<GemmRate> measure_sgemm(const std::vector<GemmShape>& shapes, double seconds) {
  return measure_gemm(shapes, Precision::kFp32, seconds);
}

double measure_bf16_conversion_share(const GemmShape& shape, double seconds) {
  GemmOperands g(shape);
  const Exec bf16 = Exec::cpu().with_matmul(Precision::kBf16);
  std::vector<uint16_t> a16(size_t(g.a.numel())), b16(size_t(g.b.numel()));
  const double convert = best_time_s(seconds, [&] {
    bf16_from_f32(bf16, {g.a.f32(), a16.size()}, a16);
    bf16_from_f32(bf16, {g.b.f32(), b16.size()}, b16);
  });
  const double whole = best_time_s(seconds, [&] {
    gemm(bf16, g.ta, g.tb, 1.0, g.a.view(), g.b.view(), 0.0, g.c.view());
  });
  return convert / whole;
}

}  // namespace symphony
