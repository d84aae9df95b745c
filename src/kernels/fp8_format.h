#pragma once
// The two 8-bit floating-point formats of the OCP 8-bit Floating Point Specification (OFP8 1.0):
//   E4M3 (the "FN" variant, PyTorch float8_e4m3fn): sign, 4 exponent bits (bias 7), 3 mantissa
//     bits. No infinities: S.1111.111 is NaN, so the largest finite magnitude is 1.75 * 2^8 = 448.
//     Normal numbers from 2^-6; subnormals m * 2^-9, m = 1..7.
//   E5M2 (float8_e5m2): sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like: S.11111.00 is
//     infinity, S.11111.{01,10,11} NaN; largest finite 1.75 * 2^15 = 57344. Normal numbers from
//     2^-14; subnormals m * 2^-16, m = 1..3.
// A code is a uint8_t: bit 7 the sign, then the exponent field, then the mantissa field.
// docs/fp8.md describes how the engine uses them.

#include <cstdint>
#include <string_view>

namespace symphony {

enum class Fp8Format : uint8_t { kE4M3, kE5M2 };

struct Fp8FormatInfo {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  float max;            // largest finite magnitude
  float min_normal;     // 2^(1 - bias)
  float min_subnormal;  // 2^(1 - bias - mantissa_bits)
  uint8_t max_code;     // code of +max
  uint8_t nan_code;     // code of the NaN produced for a NaN input (sign bit added)
  bool has_inf;         // E5M2 only: 0x7C / 0xFC
};

constexpr Fp8FormatInfo fp8_info(Fp8Format format) {
  if (format == Fp8Format::kE4M3) return {4, 3, 7, 448.f, 0x1p-6f, 0x1p-9f, 0x7E, 0x7F, false};
  return {5, 2, 15, 57344.f, 0x1p-14f, 0x1p-16f, 0x7B, 0x7E, true};
}

constexpr std::string_view fp8_name(Fp8Format format) {
  return format == Fp8Format::kE4M3 ? "e4m3" : "e5m2";
}

}  // namespace symphony
