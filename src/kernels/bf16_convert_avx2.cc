// Compiled with -mavx2 (CMake: *_avx2.cc); called only when the CPU reports AVX2. The rounding is
// bf16_bits.h's integer add, eight lanes at a time; tails run the scalar version.
#include <immintrin.h>

#include "kernels/bf16_bits.h"
#include "kernels/bf16_convert.h"

namespace symphony::avx2 {
namespace {

// Eight fp32 patterns rounded to bf16, as 32-bit lanes whose top half holds the bf16 pattern
// (the low half is garbage the callers shift or mask away).
inline __m256i round_lanes(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
  // NaN: |u| above inf's pattern (as signed ints: |u| is below 2^31). It becomes quiet.
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  const __m256i quiet = _mm256_or_si256(u, _mm256_set1_epi32(0x00400000));
  return _mm256_blendv_epi8(rounded, quiet, nan);
}

}  // namespace

void bf16_from_f32(const float* x, int64_t n, uint16_t* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i lo =
        _mm256_srli_epi32(round_lanes(_mm256_castps_si256(_mm256_loadu_ps(x + i))), 16);
    const __m256i hi =
        _mm256_srli_epi32(round_lanes(_mm256_castps_si256(_mm256_loadu_ps(x + i + 8))), 16);
    // packus works within 128-bit halves: lo0..3 hi0..3 lo4..7 hi4..7; the permute restores order.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), packed);
  }
  for (; i < n; ++i) y[i] = bf16_bits_from_f32(x[i]);
}

void f32_from_bf16(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
  }
  for (; i < n; ++i) y[i] = f32_from_bf16_bits(x[i]);
}

void bf16_round_f32(const float* x, int64_t n, float* y) {
  const __m256i top = _mm256_set1_epi32(int32_t(0xffff0000u));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i r = round_lanes(_mm256_castps_si256(_mm256_loadu_ps(x + i)));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_and_si256(r, top)));
  }
  for (; i < n; ++i) y[i] = f32_from_bf16_bits(bf16_bits_from_f32(x[i]));
}

}  // namespace symphony::avx2
