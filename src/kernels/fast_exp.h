#pragma once
// A float exp that GCC vectorises, for the softmax loops of the CPU kernels. libm's expf has no
// vector variant unless -ffast-math is on, so an `omp simd` loop that calls std::exp stays
// scalar; this one is plain arithmetic and bit casts, which the vectoriser turns into SIMD code.

#include <bit>
#include <cstdint>

namespace symphony::cpu {

// e^x for x <= 0, relative error below 1e-7 on [-87, 0]. Positive x up to 88 are as accurate,
// so rounding that leaves a softmax argument slightly above 0 is harmless. Inputs below
// -87.33654, -inf included, are clamped there and give ~1.2e-38 (the smallest normal float),
// never 0 or NaN; NaN propagates.
// Method (Cephes expf): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two constants, the first
// short enough that n times it is exact), a degree-6 polynomial for e^r, and 2^n built in the
// exponent bits.
inline float exp_nonpositive(float x) {
  // The clamp is a bitwise select: written as std::max or a conditional, GCC turns it into a
  // branch that the AVX2 clones of the attention loops do not vectorise through.
  constexpr float kLowest = -87.33654f;  // e^kLowest is the smallest normal float
  const int32_t below = -static_cast<int32_t>(x < kLowest);  // all ones where x < kLowest
  x = std::bit_cast<float>((std::bit_cast<int32_t>(x) & ~below) |
                           (std::bit_cast<int32_t>(kLowest) & below));
  constexpr float kRound = 12582912.f;  // 1.5 * 2^23: adding and subtracting rounds to integer
  const float rounded = x * 1.44269504088896341f + kRound;
  const float n = rounded - kRound;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  // n as an integer is in the low mantissa bits of `rounded`; static_cast<int32_t>(n) would be
  // undefined behaviour for NaN.
  const int32_t n_int = std::bit_cast<int32_t>(rounded) - std::bit_cast<int32_t>(kRound);
  const float two_n = std::bit_cast<float>((n_int + 127) << 23);
  return p * two_n;
}

}  // namespace symphony::cpu
