// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (CMake: *_avx512bf16.cc); called
// only when the CPU reports all four.
// vcvtne2ps2bf16 rounds to nearest even and quiets NaNs as bf16_convert.h asks, but treats fp32
// subnormal inputs as zero. Those lanes (exponent 0, mantissa not 0) are found by mask and,
// where a block has any, redone with the integer rounding of kernels/bf16_bits.h, which keeps them.
#include <immintrin.h>

#include "kernels/bf16_convert.h"

// GCC 12's AVX-512 intrinsics (shifts, conversions, inserts) pass _mm512_undefined_epi32() as
// their unused merge source, which -Wmaybe-uninitialized reports once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace symphony::avx512bf16 {
namespace {

// Lanes of u holding an fp32 subnormal.
inline __mmask16 subnormal_lanes(__m512i u) {
  return _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7f800000)) &
         _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x007fffff));
}

// bf16_bits.h's rounding of sixteen non-NaN lanes, narrowed to 16 bits.
inline __m256i integer_round(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i sum = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(sum, 16));
}

// 32 values (lo: elements 0..15, hi: 16..31) as bf16 patterns.
inline __m512i convert32(__m512 lo, __m512 hi) {
  __m512i out = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
  const __m512i ulo = _mm512_castps_si512(lo), uhi = _mm512_castps_si512(hi);
  const __mmask32 sub = __mmask32(subnormal_lanes(ulo)) | (__mmask32(subnormal_lanes(uhi)) << 16);
  if (sub != 0) [[unlikely]] {
    const __m512i fixed =
        _mm512_inserti64x4(_mm512_castsi256_si512(integer_round(ulo)), integer_round(uhi), 1);
    out = _mm512_mask_mov_epi16(out, sub, fixed);
  }
  return out;
}

// 16 values as bf16 patterns.
inline __m256i convert16(__m512 x) {
  __m256i out = (__m256i)_mm512_cvtneps_pbh(x);
  const __m512i u = _mm512_castps_si512(x);
  const __mmask16 sub = subnormal_lanes(u);
  if (sub != 0) [[unlikely]]
    out = _mm256_mask_mov_epi16(out, sub, integer_round(u));
  return out;
}

inline __m512 widen16(__m256i bits) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

}  // namespace

void bf16_from_f32(const float* x, int64_t n, uint16_t* y) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm512_storeu_si512(y + i, convert32(_mm512_loadu_ps(x + i), _mm512_loadu_ps(x + i + 16)));
  if (i < n) {
    // Masked loads fill the missing lanes with zeros; the masked store writes only the real ones.
    const int64_t rest = n - i;
    const __mmask32 keep = rest >= 32 ? ~__mmask32(0) : (__mmask32(1) << rest) - 1;
    const __m512 lo = _mm512_maskz_loadu_ps(__mmask16(keep), x + i);
    const __m512 hi = _mm512_maskz_loadu_ps(__mmask16(keep >> 16), x + i + 16);
    _mm512_mask_storeu_epi16(y + i, keep, convert32(lo, hi));
  }
}

void f32_from_bf16(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, widen16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  if (i < n) {
    const __mmask16 keep = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, keep, widen16(_mm256_maskz_loadu_epi16(keep, x + i)));
  }
}

void bf16_round_f32(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, widen16(convert16(_mm512_loadu_ps(x + i))));
  if (i < n) {
    const __mmask16 keep = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, keep, widen16(convert16(_mm512_maskz_loadu_ps(keep, x + i))));
  }
}

}  // namespace symphony::avx512bf16
