// Compiled with -mavx2 -mfma (CMake: *_avx2.cc); called only when the CPU reports AVX2 and FMA.
#include <immintrin.h>

#include <cstdint>

namespace symphony::avx2 {

// 10 independent accumulators hide the FMA latency (4 cycles x 2 ports + margin).
float fma_loop(int64_t iterations) {
  __m256 acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm256_set1_ps(0.001f * float(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 10; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 sum = acc[0];
  for (int i = 1; i < 10; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, sum);
  return out[0] + out[7];
}

}  // namespace symphony::avx2
