#pragma once
// The scalar bf16 rounding of the fast conversion paths (bf16_convert.h states the contract):
// an integer add of just under half a bf16 ulp, plus one when the kept last bit is odd, rounds
// the 16 dropped bits to nearest with ties to even; the carry runs into the exponent where the
// mantissa overflows, up to inf. NaN is tested first: the add could carry a NaN into inf.

#include <bit>
#include <cstdint>

namespace symphony {

inline uint16_t bf16_bits_from_f32(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline float f32_from_bf16_bits(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

}  // namespace symphony
