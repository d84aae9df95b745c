#include <bit>
#include <cmath>

#include "core/check.h"
#include "kernels/bf16_convert.h"

namespace symphony::ref {
namespace {

// The value of a bf16 pattern whose exponent is not all ones, in double. The pattern just above
// the largest finite bf16 (exponent all ones, mantissa 0) is taken as 2^128, the value an
// unbounded exponent would give it, so that rounding sends what lies past the halfway point to it
// (inf) and what lies below to the largest finite bf16.
double bf16_value(uint32_t bits16) {
  if ((bits16 & 0x7fffu) == 0x7f80u) return (bits16 & 0x8000u ? -1.0 : 1.0) * std::ldexp(1.0, 128);
  return double(std::bit_cast<float>(bits16 << 16));
}

// Chooses between the two bf16 neighbours of x (the truncated pattern and the next one away from
// zero) by their distance to x, exactly in double; a tie goes to the even pattern.
uint16_t round_to_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return uint16_t((u >> 16) | 0x0040u);
  const uint32_t low = u >> 16;
  if (std::isinf(x) || (u & 0xffffu) == 0) return uint16_t(low);
  const uint32_t high = low + 1;  // one ulp further from zero, in the same sign
  const double below = std::fabs(double(x) - bf16_value(low));
  const double above = std::fabs(bf16_value(high) - double(x));
  if (below < above) return uint16_t(low);
  if (above < below) return uint16_t(high);
  return uint16_t(low % 2 == 0 ? low : high);
}

}  // namespace

void bf16_from_f32(std::span<const float> x, std::span<uint16_t> y) {
  SYM_CHECK(x.size() == y.size(), "bf16_from_f32: {} inputs, {} outputs", x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = round_to_bf16(x[i]);
}

void f32_from_bf16(std::span<const uint16_t> x, std::span<float> y) {
  SYM_CHECK(x.size() == y.size(), "f32_from_bf16: {} inputs, {} outputs", x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = std::bit_cast<float>(uint32_t(x[i]) << 16);
}

void bf16_round_f32(std::span<const float> x, std::span<float> y) {
  SYM_CHECK(x.size() == y.size(), "bf16_round_f32: {} inputs, {} outputs", x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = std::bit_cast<float>(uint32_t(round_to_bf16(x[i])) << 16);
}

}  // namespace symphony::ref
