#include <algorithm>
#include <bit>
#include <cmath>

#include "core/simd.h"
#include "kernels/fp8_quant.h"
#include "kernels/fp8_quant_math.h"
#include "kernels/tile_matmul.h"

namespace symphony::cpu {
namespace {

// Per-tensor amax splits the flat tensor into chunks of this many elements, one task each.
constexpr int64_t kAmaxChunk = int64_t(1) << 16;

inline float finite_abs(float x) {
  const float a = std::fabs(x);
  return a < HUGE_VALF ? a : 0.f;  // NaN compares false
}

SYM_VECTORIZED float amax_row(const float* x, int64_t n) {
  float m = 0.f;
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = std::max(m, finite_abs(x[i]));
  return m;
}

SYM_VECTORIZED void amax_columns(const float* x, int64_t n, float* amax) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) amax[i] = std::max(amax[i], finite_abs(x[i]));
}

// Counters of one row or row segment (int32: a row has fewer than 2^31 elements), added to the
// caller's totals once per call.
inline void add_row_counts(float amax, int32_t nonzero, int32_t underflow, int32_t saturated,
                           int32_t nan, Fp8QuantStats* stats) {
  stats->amax = std::max(stats->amax, amax);
  stats->nonzero += nonzero;
  stats->underflow += underflow;
  stats->saturated += saturated;
  stats->nan += nan;
}

template <Fp8Format kFormat>
[[gnu::always_inline]] inline void quantize_row_body(const float* x, int64_t n, float scale,
                                                     float* y, Fp8QuantStats* stats) {
  constexpr Fp8RoundingConstants k = fp8_rounding_constants(kFormat);
  const float inv = 1.f / scale;
  float amax = 0.f;
  int32_t nonzero = 0, underflow = 0, saturated = 0, nan = 0;
#pragma omp simd reduction(max : amax) reduction(+ : nonzero, underflow, saturated, nan)
  for (int64_t i = 0; i < n; ++i) {
    const float xi = x[i];
    const uint32_t xa = std::bit_cast<uint32_t>(xi) & kFp32AbsMask;
    int32_t sat;
    const float q = fp8_round_scaled(k, xi * scale, xa == kFp32InfBits, &sat);
    y[i] = q * inv;
    const bool finite_nonzero = xa < kFp32InfBits && xa != 0;
    amax = std::max(amax, finite_abs(xi));
    nonzero += finite_nonzero;
    underflow += finite_nonzero && (std::bit_cast<uint32_t>(q) & kFp32AbsMask) == 0;
    saturated += sat;
    nan += xa > kFp32InfBits;
  }
  add_row_counts(amax, nonzero, underflow, saturated, nan, stats);
}

template <Fp8Format kFormat>
[[gnu::always_inline]] inline void quantize_row_scales_body(const float* x, int64_t n,
                                                            const float* scales, float* y,
                                                            Fp8QuantStats* stats) {
  constexpr Fp8RoundingConstants k = fp8_rounding_constants(kFormat);
  float amax = 0.f;
  int32_t nonzero = 0, underflow = 0, saturated = 0, nan = 0;
#pragma omp simd reduction(max : amax) reduction(+ : nonzero, underflow, saturated, nan)
  for (int64_t i = 0; i < n; ++i) {
    const float xi = x[i];
    const uint32_t xa = std::bit_cast<uint32_t>(xi) & kFp32AbsMask;
    int32_t sat;
    const float q = fp8_round_scaled(k, xi * scales[i], xa == kFp32InfBits, &sat);
    y[i] = q * (1.f / scales[i]);
    const bool finite_nonzero = xa < kFp32InfBits && xa != 0;
    amax = std::max(amax, finite_abs(xi));
    nonzero += finite_nonzero;
    underflow += finite_nonzero && (std::bit_cast<uint32_t>(q) & kFp32AbsMask) == 0;
    saturated += sat;
    nan += xa > kFp32InfBits;
  }
  add_row_counts(amax, nonzero, underflow, saturated, nan, stats);
}

SYM_VECTORIZED void quantize_row_e4m3(const float* x, int64_t n, float scale, float* y,
                                      Fp8QuantStats* stats) {
  quantize_row_body<Fp8Format::kE4M3>(x, n, scale, y, stats);
}
SYM_VECTORIZED void quantize_row_e5m2(const float* x, int64_t n, float scale, float* y,
                                      Fp8QuantStats* stats) {
  quantize_row_body<Fp8Format::kE5M2>(x, n, scale, y, stats);
}
SYM_VECTORIZED void quantize_row_scales_e4m3(const float* x, int64_t n, const float* scales,
                                             float* y, Fp8QuantStats* stats) {
  quantize_row_scales_body<Fp8Format::kE4M3>(x, n, scales, y, stats);
}
SYM_VECTORIZED void quantize_row_scales_e5m2(const float* x, int64_t n, const float* scales,
                                             float* y, Fp8QuantStats* stats) {
  quantize_row_scales_body<Fp8Format::kE5M2>(x, n, scales, y, stats);
}

void quantize_row_avx2(Fp8Format format, const float* x, int64_t n, float scale, float* y,
                       Fp8QuantStats* stats) {
  if (format == Fp8Format::kE4M3) return quantize_row_e4m3(x, n, scale, y, stats);
  quantize_row_e5m2(x, n, scale, y, stats);
}

void quantize_row_scales_avx2(Fp8Format format, const float* x, int64_t n, const float* scales,
                              float* y, Fp8QuantStats* stats) {
  if (format == Fp8Format::kE4M3) return quantize_row_scales_e4m3(x, n, scales, y, stats);
  quantize_row_scales_e5m2(x, n, scales, y, stats);
}

// The row pieces of one instruction set; the loops over rows and blocks below are shared.
struct RowKernels {
  float (*amax_row)(const float*, int64_t);
  void (*amax_columns)(const float*, int64_t, float*);
  void (*quantize_row)(Fp8Format, const float*, int64_t, float, float*, Fp8QuantStats*);
  void (*quantize_row_scales)(Fp8Format, const float*, int64_t, const float*, float*,
                              Fp8QuantStats*);
};

constexpr RowKernels kAvx2Kernels{amax_row, amax_columns, quantize_row_avx2,
                                  quantize_row_scales_avx2};

RowKernels fastest_kernels() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_avx512())
    return {avx512::fp8_amax_row, avx512::fp8_amax_columns, avx512::fp8_fake_quantize_row,
            avx512::fp8_fake_quantize_row_scales};
#endif
  return kAvx2Kernels;
}

void block_amax(const RowKernels& kernels, Fp8BlockShape block, ConstView x_v,
                std::span<float> amax) {
  const int64_t rows = x_v.dim(0), cols = x_v.dim(1);
  const int64_t grid_rows = (rows + block.rows - 1) / block.rows;
  const int64_t grid_cols = (cols + block.cols - 1) / block.cols;
  const float* x = x_v.f32();
  if (grid_rows * grid_cols == 0) return;
  if (grid_rows == 1 && grid_cols == 1) {
    // One block (a per-tensor scale): the view is contiguous, so split it flat.
    const int64_t numel = rows * cols;
    const int64_t chunks = (numel + kAmaxChunk - 1) / kAmaxChunk;
    float m = 0.f;
#pragma omp parallel for schedule(static) reduction(max : m)
    for (int64_t i = 0; i < chunks; ++i) {
      const int64_t begin = i * kAmaxChunk;
      m = std::max(m, kernels.amax_row(x + begin, std::min(kAmaxChunk, numel - begin)));
    }
    amax[0] = m;
    return;
  }
  std::fill(amax.begin(), amax.end(), 0.f);
#pragma omp parallel for schedule(static)
  for (int64_t br = 0; br < grid_rows; ++br) {
    float* grid_row = amax.data() + br * grid_cols;
    for (int64_t r = br * block.rows; r < std::min(rows, (br + 1) * block.rows); ++r) {
      const float* xr = x + r * cols;
      if (block.cols == 1) {
        kernels.amax_columns(xr, cols, grid_row);
        continue;
      }
      for (int64_t bc = 0; bc < grid_cols; ++bc) {
        const int64_t c0 = bc * block.cols;
        grid_row[bc] =
            std::max(grid_row[bc], kernels.amax_row(xr + c0, std::min(block.cols, cols - c0)));
      }
    }
  }
}

Fp8QuantStats fake_quantize(const RowKernels& kernels, Fp8Format format, Fp8BlockShape block,
                            std::span<const float> scales, ConstView x_v, View y_v) {
  const int64_t rows = x_v.dim(0), cols = x_v.dim(1);
  const int64_t grid_cols = (cols + block.cols - 1) / block.cols;
  const float* x = x_v.f32();
  float* y = y_v.f32();
  Fp8QuantStats total;
#pragma omp parallel
  {
    Fp8QuantStats local;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* grid_row = scales.data() + (r / block.rows) * grid_cols;
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      if (block.cols == 1) {
        kernels.quantize_row_scales(format, xr, cols, grid_row, yr, &local);
        continue;
      }
      for (int64_t bc = 0; bc < grid_cols; ++bc) {
        const int64_t c0 = bc * block.cols;
        kernels.quantize_row(format, xr + c0, std::min(block.cols, cols - c0), grid_row[bc],
                             yr + c0, &local);
      }
    }
    // Counts add and amax is a maximum: the result does not depend on the merge order.
#pragma omp critical
    total.merge(local);
  }
  return total;
}

}  // namespace

void fp8_encode(Fp8Format format, std::span<const float> x, std::span<uint8_t> codes) {
  // The code is read off the rounded fp32 value: its exponent and top mantissa bits, rebiased.
  // Subnormal FP8 values are multiples of the smallest one, and their code is that multiple.
  const Fp8FormatInfo info = fp8_info(format);
  const Fp8RoundingConstants k = fp8_rounding_constants(format);
  const int64_t n = int64_t(x.size());
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t xa = std::bit_cast<uint32_t>(x[i]) & kFp32AbsMask;
    int32_t sat;
    const float q = fp8_round_scaled(k, x[i], xa == kFp32InfBits, &sat);
    const uint32_t bits = std::bit_cast<uint32_t>(q);
    const uint32_t a = bits & kFp32AbsMask;
    const uint32_t sign = (bits >> 24) & 0x80u;
    const uint32_t normal = (((a >> 23) - uint32_t(127 - info.bias)) << info.mantissa_bits) |
                            ((a >> k.shift) & ((1u << info.mantissa_bits) - 1u));
    // Selected before the conversion: an infinite or NaN quotient must never reach it.
    const float subnormal_q = a < k.min_normal_bits ? std::fabs(q) : 0.f;
    const uint32_t subnormal = uint32_t(subnormal_q / info.min_subnormal);
    uint32_t code = a < k.min_normal_bits ? subnormal : normal;
    code = a == kFp32InfBits ? 0x7Cu : code;
    code = a > kFp32InfBits ? info.nan_code : code;
    codes[size_t(i)] = uint8_t(sign | code);
  }
}

void fp8_decode(Fp8Format format, std::span<const uint8_t> codes, std::span<float> x) {
  // Normal codes become fp32 bit patterns directly; subnormals are a multiple of the smallest.
  const Fp8FormatInfo info = fp8_info(format);
  const uint32_t m_bits = uint32_t(info.mantissa_bits);
  const uint32_t max_exponent = (1u << info.exponent_bits) - 1u;
  const uint32_t mantissa_mask = (1u << m_bits) - 1u;
  const int64_t n = int64_t(codes.size());
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t c = codes[size_t(i)];
    const uint32_t e = (c >> m_bits) & max_exponent;
    const uint32_t m = c & mantissa_mask;
    const uint32_t normal = ((e + uint32_t(127 - info.bias)) << 23) | (m << (23 - m_bits));
    const uint32_t subnormal = std::bit_cast<uint32_t>(float(m) * info.min_subnormal);
    uint32_t a = e == 0 ? subnormal : normal;
    const bool special = e == max_exponent && (info.has_inf || m == mantissa_mask);
    a = special ? (info.has_inf && m == 0 ? kFp32InfBits : kFp32QuietNanBits) : a;
    x[size_t(i)] = std::bit_cast<float>(a | ((c & 0x80u) << 24));
  }
}

void fp8_block_amax(Fp8BlockShape block, ConstView x, std::span<float> amax) {
  block_amax(fastest_kernels(), block, x, amax);
}

Fp8QuantStats fp8_fake_quantize(Fp8Format format, Fp8BlockShape block,
                                std::span<const float> scales, ConstView x, View y) {
  return fake_quantize(fastest_kernels(), format, block, scales, x, y);
}

void fp8_block_amax_avx2(Fp8BlockShape block, ConstView x, std::span<float> amax) {
  block_amax(kAvx2Kernels, block, x, amax);
}

Fp8QuantStats fp8_fake_quantize_avx2(Fp8Format format, Fp8BlockShape block,
                                     std::span<const float> scales, ConstView x, View y) {
  return fake_quantize(kAvx2Kernels, format, block, scales, x, y);
}

}  // namespace symphony::cpu
