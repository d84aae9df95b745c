#pragma once
// FP8 rounding on fp32 bit patterns, for the vectorised kernels (the portable/AVX2 loop uses
// fp8_round_scaled below; the AVX-512 kernel is the same sequence in intrinsics). It produces the
// fp32 value of the FP8 number a scaled input rounds to, never the code, so fake quantization
// needs no decode. ref:: computes the same results from codes with frexp/ldexp: the two
// formulations are tested bit for bit against each other (tests/kernels/fp8_quant_test.cc).
//
// For a = |v| as fp32 bits, with M mantissa bits and shift = 23 - M:
//   normal range (a >= bits of 2^emin): add half an FP8 ulp minus one, plus the lowest kept bit
//     (ties to even), then clear the dropped bits. A carry out of the mantissa increments the
//     exponent, which is the correct rounding.
//   subnormal range: (|v| + magic) - magic in fp32, magic = 2^(emin + 23 - M), whose fp32 ulp is
//     the FP8 subnormal step 2^(emin - M); the fp32 addition rounds to nearest even.
//   then a result above the largest finite bits saturates, inf inputs follow the format, NaN
//   becomes the quiet fp32 NaN; the sign bit is put back last.

#include <bit>
#include <cstdint>

#include "kernels/fp8_format.h"

namespace symphony {

struct Fp8RoundingConstants {
  uint32_t shift;            // 23 - mantissa bits
  uint32_t half_minus_one;   // (1 << (shift - 1)) - 1
  uint32_t keep_mask;        // clears the dropped fp32 mantissa bits
  uint32_t min_normal_bits;  // fp32 bits of the smallest normal FP8 magnitude
  float subnormal_magic;     // 2^(emin + 23 - M)
  uint32_t max_bits;         // fp32 bits of the largest finite FP8 magnitude
  uint32_t inf_result_bits;  // what |v| = inf becomes: max (E4M3) or inf (E5M2)
};

inline constexpr uint32_t kFp32AbsMask = 0x7fffffffu;
inline constexpr uint32_t kFp32SignMask = 0x80000000u;
inline constexpr uint32_t kFp32InfBits = 0x7f800000u;
inline constexpr uint32_t kFp32QuietNanBits = 0x7fc00000u;

constexpr Fp8RoundingConstants fp8_rounding_constants(Fp8Format format) {
  const Fp8FormatInfo info = fp8_info(format);
  const uint32_t shift = 23u - static_cast<uint32_t>(info.mantissa_bits);
  const int emin = 1 - info.bias;
  return {shift,
          (1u << (shift - 1)) - 1u,
          ~((1u << shift) - 1u),
          std::bit_cast<uint32_t>(info.min_normal),
          std::bit_cast<float>(static_cast<uint32_t>(127 + emin + 23 - info.mantissa_bits) << 23),
          std::bit_cast<uint32_t>(info.max),
          info.has_inf ? kFp32InfBits : std::bit_cast<uint32_t>(info.max)};
}

// All ones where `condition`, else zero: selects below are bitwise, because GCC turns
// conditionals into branches it then cannot vectorise (it may not speculate the fp32 addition of
// the subnormal path under -ftrapping-math).
inline uint32_t fp8_lane_mask(bool condition) { return 0u - static_cast<uint32_t>(condition); }
inline uint32_t fp8_select(uint32_t mask, uint32_t if_set, uint32_t if_clear) {
  return (if_set & mask) | (if_clear & ~mask);
}

// The fp32 value of v rounded to FP8 (rules in kernels/fp8_quant.h). `input_is_inf` says whether
// the unscaled input was ±inf: a finite input whose scaled value overflowed fp32 saturates to
// ±max even in E5M2. *saturated is set to 1 where the value was clamped (infinities kept by E5M2
// are not clamps), else 0. Branch-free, so loops over it vectorise.
inline float fp8_round_scaled(const Fp8RoundingConstants& k, float v, bool input_is_inf,
                              int32_t* saturated) {
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const uint32_t sign = bits & kFp32SignMask;
  const uint32_t a = bits & kFp32AbsMask;
  const uint32_t normal = (a + k.half_minus_one + ((a >> k.shift) & 1u)) & k.keep_mask;
  const float fa = std::bit_cast<float>(a);
  const uint32_t subnormal = std::bit_cast<uint32_t>((fa + k.subnormal_magic) - k.subnormal_magic);
  uint32_t r = fp8_select(fp8_lane_mask(a < k.min_normal_bits), subnormal, normal);
  const uint32_t nan = fp8_lane_mask(a > kFp32InfBits);
  const uint32_t over = ~nan & fp8_lane_mask(r > k.max_bits);
  const uint32_t inf_in = fp8_lane_mask(input_is_inf);
  const uint32_t keep_inf = over & inf_in & fp8_lane_mask(k.inf_result_bits == kFp32InfBits);
  r = fp8_select(over, fp8_select(inf_in, k.inf_result_bits, k.max_bits), r);
  r = fp8_select(nan, kFp32QuietNanBits, r);
  *saturated = static_cast<int32_t>(over & ~keep_inf & 1u);
  return std::bit_cast<float>(r | sign);
}

}  // namespace symphony
