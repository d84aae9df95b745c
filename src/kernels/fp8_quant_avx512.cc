// Compiled with -mavx512f (CMake: *_avx512.cc); called only when the CPU reports AVX-512F.
// The rounding is kernels/fp8_quant_math.h's fp8_round_scaled, lane by lane, with masks for the
// tails: results are bitwise those of the portable loop and of ref::.
#include <immintrin.h>

#include <algorithm>

#include "kernels/fp8_quant.h"
#include "kernels/fp8_quant_math.h"

namespace symphony::avx512 {
namespace {

// GCC 12 reports the _mm512_undefined_* placeholder inside several intrinsics as uninitialized
// (GCC bug 105593). The masked forms with an explicit source, and a store plus a scalar loop in
// place of _mm512_reduce_max_ps, compute the same without it.
inline __m512 max_ps(__m512 a, __m512 b) { return _mm512_mask_max_ps(a, 0xFFFF, a, b); }
inline __m512i srlv_epi32(__m512i a, __m512i count) {
  return _mm512_mask_srlv_epi32(a, 0xFFFF, a, count);
}
inline float horizontal_max(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  return *std::max_element(lanes, lanes + 16);
}

struct Constants {
  __m512i abs_mask, sign_mask, inf_bits, quiet_nan, one, shift, half_minus_one, keep_mask,
      min_normal, max_bits, zero;
  __m512 magic;
  bool has_inf;

  explicit Constants(Fp8Format format) {
    const Fp8RoundingConstants k = fp8_rounding_constants(format);
    abs_mask = _mm512_set1_epi32(int(kFp32AbsMask));
    sign_mask = _mm512_set1_epi32(int(kFp32SignMask));
    inf_bits = _mm512_set1_epi32(int(kFp32InfBits));
    quiet_nan = _mm512_set1_epi32(int(kFp32QuietNanBits));
    one = _mm512_set1_epi32(1);
    shift = _mm512_set1_epi32(int(k.shift));
    half_minus_one = _mm512_set1_epi32(int(k.half_minus_one));
    keep_mask = _mm512_set1_epi32(int(k.keep_mask));
    min_normal = _mm512_set1_epi32(int(k.min_normal_bits));
    max_bits = _mm512_set1_epi32(int(k.max_bits));
    zero = _mm512_setzero_si512();
    magic = _mm512_set1_ps(k.subnormal_magic);
    has_inf = fp8_info(format).has_inf;
  }
};

struct Counts {
  __m512 amax = _mm512_setzero_ps();
  int64_t nonzero = 0, underflow = 0, saturated = 0, nan = 0;

  void add_to(Fp8QuantStats* stats) const {
    stats->amax = std::max(stats->amax, horizontal_max(amax));
    stats->nonzero += nonzero;
    stats->underflow += underflow;
    stats->saturated += saturated;
    stats->nan += nan;
  }
};

inline int64_t popcount(__mmask16 m) { return __builtin_popcount(unsigned(m)); }

// Lanes outside `lanes` are neither loaded nor stored nor counted.
inline void quantize16(const Constants& k, __mmask16 lanes, const float* x, __m512 scale,
                       __m512 inv, float* y, Counts& counts) {
  const __m512 xv = _mm512_maskz_loadu_ps(lanes, x);
  const __m512i xa = _mm512_and_si512(_mm512_castps_si512(xv), k.abs_mask);
  const __mmask16 x_finite = _mm512_mask_cmplt_epu32_mask(lanes, xa, k.inf_bits);
  const __mmask16 x_inf = _mm512_mask_cmpeq_epi32_mask(lanes, xa, k.inf_bits);
  const __mmask16 x_nan = _mm512_mask_cmpgt_epu32_mask(lanes, xa, k.inf_bits);

  const __m512i bits = _mm512_castps_si512(_mm512_mul_ps(xv, scale));
  const __m512i sign = _mm512_and_si512(bits, k.sign_mask);
  const __m512i a = _mm512_and_si512(bits, k.abs_mask);
  const __m512i lsb = _mm512_and_si512(srlv_epi32(a, k.shift), k.one);
  const __m512i normal =
      _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(a, k.half_minus_one), lsb), k.keep_mask);
  const __m512 fa = _mm512_castsi512_ps(a);
  const __m512i subnormal = _mm512_castps_si512(_mm512_sub_ps(_mm512_add_ps(fa, k.magic), k.magic));
  __m512i r = _mm512_mask_blend_epi32(_mm512_cmplt_epu32_mask(a, k.min_normal), normal, subnormal);
  const __mmask16 over = _mm512_mask_cmpgt_epu32_mask(__mmask16(~x_nan), r, k.max_bits);
  const __mmask16 keep_inf = k.has_inf ? __mmask16(over & x_inf) : __mmask16(0);
  r = _mm512_mask_mov_epi32(r, over, k.max_bits);
  r = _mm512_mask_mov_epi32(r, keep_inf, k.inf_bits);
  r = _mm512_mask_mov_epi32(r, x_nan, k.quiet_nan);
  const __m512 q = _mm512_castsi512_ps(_mm512_or_si512(r, sign));
  _mm512_mask_storeu_ps(y, lanes, _mm512_mul_ps(q, inv));

  const __mmask16 nonzero = _mm512_mask_cmpneq_epi32_mask(x_finite, xa, k.zero);
  const __mmask16 underflow = _mm512_mask_cmpeq_epi32_mask(nonzero, r, k.zero);
  counts.amax = max_ps(counts.amax, _mm512_maskz_mov_ps(x_finite, _mm512_castsi512_ps(xa)));
  counts.nonzero += popcount(nonzero);
  counts.underflow += popcount(underflow);
  counts.saturated += popcount(__mmask16(over & lanes & ~keep_inf));
  counts.nan += popcount(x_nan);
}

inline __mmask16 tail_mask(int64_t remaining) {
  return remaining >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << remaining) - 1u);
}

inline __m512 finite_abs16(__mmask16 lanes, const float* x) {
  const __m512i abs_mask = _mm512_set1_epi32(int(kFp32AbsMask));
  const __m512i inf_bits = _mm512_set1_epi32(int(kFp32InfBits));
  const __m512i xa =
      _mm512_and_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(lanes, x)), abs_mask);
  return _mm512_maskz_mov_ps(_mm512_cmplt_epu32_mask(xa, inf_bits), _mm512_castsi512_ps(xa));
}

}  // namespace

float fp8_amax_row(const float* x, int64_t n) {
  __m512 m = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) m = max_ps(m, finite_abs16(tail_mask(n - i), x + i));
  return horizontal_max(m);
}

void fp8_amax_columns(const float* x, int64_t n, float* amax) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = tail_mask(n - i);
    const __m512 m = max_ps(_mm512_maskz_loadu_ps(lanes, amax + i), finite_abs16(lanes, x + i));
    _mm512_mask_storeu_ps(amax + i, lanes, m);
  }
}

void fp8_fake_quantize_row(Fp8Format format, const float* x, int64_t n, float scale, float* y,
                           Fp8QuantStats* stats) {
  const Constants k(format);
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 inv = _mm512_set1_ps(1.f / scale);
  Counts counts;
  for (int64_t i = 0; i < n; i += 16) quantize16(k, tail_mask(n - i), x + i, s, inv, y + i, counts);
  counts.add_to(stats);
}

void fp8_fake_quantize_row_scales(Fp8Format format, const float* x, int64_t n, const float* scales,
                                  float* y, Fp8QuantStats* stats) {
  const Constants k(format);
  const __m512 one = _mm512_set1_ps(1.f);
  Counts counts;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = tail_mask(n - i);
    // Masked-off lanes load scale 1, so their reciprocal is finite.
    const __m512 s = _mm512_mask_loadu_ps(one, lanes, scales + i);
    quantize16(k, lanes, x + i, s, _mm512_div_ps(one, s), y + i, counts);
  }
  counts.add_to(stats);
}

}  // namespace symphony::avx512
