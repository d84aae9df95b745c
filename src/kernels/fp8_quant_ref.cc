#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "kernels/fp8_quant.h"

namespace symphony::ref {
namespace {

struct Encoded {
  uint8_t code;
  bool saturated;
};

// Rounds at the exponent of |v| (clamped to the smallest normal exponent, which gives the
// subnormals their fixed step): |v| / 2^(e - M) is below 2^(M + 1), and rounding it to an
// integer with nearbyint (ties to even in the default rounding mode) is the FP8 rounding; the
// integer's parity is the code's. All arithmetic is exact in double.
Encoded encode(Fp8Format format, float v) {
  const Fp8FormatInfo info = fp8_info(format);
  const int m_bits = info.mantissa_bits;
  const uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  if (std::isnan(v)) return {uint8_t(sign | info.nan_code), false};
  if (std::isinf(v)) {
    if (info.has_inf) return {uint8_t(sign | 0x7C), false};
    return {uint8_t(sign | info.max_code), true};
  }
  const double a = std::fabs(double(v));
  if (a == 0.0) return {sign, false};
  int frexp_exponent = 0;
  std::frexp(a, &frexp_exponent);  // a = f * 2^frexp_exponent, f in [0.5, 1)
  int e = std::max(frexp_exponent - 1, 1 - info.bias);
  int64_t q = int64_t(std::nearbyint(std::ldexp(a, m_bits - e)));
  if (q == (int64_t(2) << m_bits)) {  // rounded up into the next binade
    q = int64_t(1) << m_bits;
    ++e;
  }
  if (std::ldexp(double(q), e - m_bits) > double(info.max)) {
    return {uint8_t(sign | info.max_code), true};
  }
  if (q < (int64_t(1) << m_bits)) return {uint8_t(sign | q), false};  // subnormal or zero
  const int64_t exponent_field = e + info.bias;
  const int64_t mantissa_field = q - (int64_t(1) << m_bits);
  return {uint8_t(sign | (exponent_field << m_bits) | mantissa_field), false};
}

float decode(Fp8Format format, uint8_t code) {
  const Fp8FormatInfo info = fp8_info(format);
  const int m_bits = info.mantissa_bits;
  const int max_exponent_field = (1 << info.exponent_bits) - 1;
  const int mantissa_mask = (1 << m_bits) - 1;
  const bool negative = (code & 0x80) != 0;
  const int exponent_field = (code >> m_bits) & max_exponent_field;
  const int mantissa_field = code & mantissa_mask;
  const float nan = std::copysign(std::numeric_limits<float>::quiet_NaN(), negative ? -1.f : 1.f);
  if (exponent_field == max_exponent_field) {
    if (!info.has_inf && mantissa_field == mantissa_mask) return nan;
    if (info.has_inf) {
      if (mantissa_field != 0) return nan;
      return negative ? -std::numeric_limits<float>::infinity()
                      : std::numeric_limits<float>::infinity();
    }
  }
  const double magnitude =
      exponent_field == 0
          ? std::ldexp(double(mantissa_field), 1 - info.bias - m_bits)
          : std::ldexp(double((1 << m_bits) + mantissa_field), exponent_field - info.bias - m_bits);
  return float(negative ? -magnitude : magnitude);
}

}  // namespace

void fp8_encode(Fp8Format format, std::span<const float> x, std::span<uint8_t> codes) {
  for (size_t i = 0; i < x.size(); ++i) codes[i] = encode(format, x[i]).code;
}

void fp8_decode(Fp8Format format, std::span<const uint8_t> codes, std::span<float> x) {
  for (size_t i = 0; i < codes.size(); ++i) x[i] = decode(format, codes[i]);
}

void fp8_block_amax(Fp8BlockShape block, ConstView x_v, std::span<float> amax) {
  const int64_t rows = x_v.dim(0), cols = x_v.dim(1);
  const int64_t grid_cols = (cols + block.cols - 1) / block.cols;
  const float* x = x_v.f32();
  std::fill(amax.begin(), amax.end(), 0.f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float a = std::fabs(x[r * cols + c]);
      float& m = amax[size_t((r / block.rows) * grid_cols + c / block.cols)];
      if (std::isfinite(a)) m = std::max(m, a);
    }
}

Fp8QuantStats fp8_fake_quantize(Fp8Format format, Fp8BlockShape block,
                                std::span<const float> scales, ConstView x_v, View y_v) {
  const int64_t rows = x_v.dim(0), cols = x_v.dim(1);
  const int64_t grid_cols = (cols + block.cols - 1) / block.cols;
  const float* x = x_v.f32();
  float* y = y_v.f32();
  Fp8QuantStats stats;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[size_t((r / block.rows) * grid_cols + c / block.cols)];
      const float xv = x[r * cols + c];
      float v = xv * s;
      // A finite input whose scaled value overflows fp32 is a finite overflow: it saturates in
      // both formats, as the largest fp32 value would.
      if (std::isinf(v) && std::isfinite(xv)) v = std::copysign(FLT_MAX, v);
      const Encoded e = encode(format, v);
      y[r * cols + c] = decode(format, e.code) * (1.f / s);
      if (std::isfinite(xv)) {
        stats.amax = std::max(stats.amax, std::fabs(xv));
        if (xv != 0.f) {
          ++stats.nonzero;
          if ((e.code & 0x7F) == 0) ++stats.underflow;
        }
      }
      stats.saturated += e.saturated;
      stats.nan += std::isnan(xv);
    }
  return stats;
}

}  // namespace symphony::ref
