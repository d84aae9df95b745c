#pragma once
// FP8 quantization (formats in kernels/fp8_format.h; recipes and limits in docs/fp8.md).
//
// Rounding, for every function here: a value v is rounded to the nearest value of the format,
// ties to the even code (IEEE round-to-nearest-even, exponent range unbounded), then
//   |result| > max (finite overflow)  -> ±max, counted as saturated;
//   v = ±inf                          -> E4M3: ±max (no infinities; counted as saturated),
//                                        E5M2: ±inf;
//   NaN                               -> NaN (code nan_code with v's sign bit), counted as NaN;
//   ±0 and values that round to zero  -> ±0, keeping v's sign.
// Decoding is exact (every FP8 value is an fp32 value); NaN codes decode to the quiet fp32 NaN
// with the code's sign.
//
// Scaled ("fake") quantization of a 2-d f32 view x (rows, cols), row-major:
//   y = decode(encode(x * s)) * (1 / s)       (products and the reciprocal in fp32)
// with one scale s per block of a grid of (block.rows x block.cols) blocks (edge blocks may be
// partial); scales are stored row-major over the grid, (ceil(rows / block.rows),
// ceil(cols / block.cols)). y holds exactly what an FP8 GEMM consumes, times its dequantization
// scale. y may alias x.
//
// Scale from amax (largest finite |x| of a block or tensor): s = max / amax in fp32, so amax maps
// to the format's largest value; amax = 0 (an all-zero or all-NaN/inf block) gives s = 1, a
// quotient that overflows fp32 gives s = FLT_MAX. Fp8ScaleRounding::kPowerOfTwo then rounds s
// down to a power of two (MXFP8 / DeepSeek-V3.1 UE8M0 scales), which makes 1/s exact.
//
// Scalings (the three fp8_quantize_* functions):
//   current  per-tensor scale from this tensor's amax (two passes: amax, then quantize);
//   delayed  per-tensor scale from the largest amax in a caller's Fp8AmaxHistory (one pass; the
//            tensor's own amax is recorded into the history afterwards; a history holding no
//            non-zero amax falls back to current scaling for that call);
//   blocks   one scale per block from the block's own amax (DeepSeek-V3: 1 x 128 tiles along
//            the reduction dim for activations and gradients, 128 x 128 blocks for weights).
// An empty view gives scale 1 and zero statistics, and records nothing in a history.
//
// Thread-safety: the functions are reentrant; the dispatching and cpu:: versions use OpenMP.

#include <cstdint>
#include <span>

#include "kernels/fp8_amax_history.h"
#include "kernels/fp8_format.h"
#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

enum class Fp8ScaleRounding : uint8_t {
  kExact,       // s = max / amax
  kPowerOfTwo,  // s rounded down to a power of two
};

// Block shape of a scale grid. A per-tensor scale is one block covering the whole view.
struct Fp8BlockShape {
  int64_t rows = 1;
  int64_t cols = 128;
};

// Scales in the grid of `block` over a (rows, cols) view.
int64_t fp8_block_count(int64_t rows, int64_t cols, Fp8BlockShape block);

// What one quantization did to its input. Counts are over elements of x.
struct Fp8QuantStats {
  float amax = 0.f;       // largest finite |x| (before scaling)
  int64_t nonzero = 0;    // finite, non-zero inputs
  int64_t underflow = 0;  // finite, non-zero inputs whose FP8 value is ±0
  int64_t saturated = 0;  // inputs clamped to ±max (see the rounding rules above)
  int64_t nan = 0;        // NaN inputs
  void merge(const Fp8QuantStats& other);
};

struct Fp8TensorQuant {
  Fp8QuantStats stats;
  float scale = 1.f;  // the per-tensor s used
};

// The scale that maps `amax` to the format's largest value (rules above).
float fp8_scale_from_amax(Fp8Format format, Fp8ScaleRounding rounding, float amax);

// Element-wise codec without scaling. REQUIRES: equal sizes.
void fp8_encode(const Exec& ex, Fp8Format format, std::span<const float> x,
                std::span<uint8_t> codes);
void fp8_decode(const Exec& ex, Fp8Format format, std::span<const uint8_t> codes,
                std::span<float> x);

// amax of each block of x. amax: fp8_block_count(...) values, row-major over the grid.
// REQUIRES: x 2-d f32; block.rows, block.cols >= 1.
void fp8_block_amax(const Exec& ex, Fp8BlockShape block, ConstView x, std::span<float> amax);

// y = fake-quantized x with the given per-block scales (each finite and > 0). Returns the stats.
// REQUIRES: x, y 2-d f32 of one shape; scales.size() == fp8_block_count(...).
Fp8QuantStats fp8_fake_quantize(const Exec& ex, Fp8Format format, Fp8BlockShape block,
                                std::span<const float> scales, ConstView x, View y);

// The three scalings. fp8_quantize_blocks writes the per-block scales it used to `scales`.
Fp8TensorQuant fp8_quantize_current(const Exec& ex, Fp8Format format, Fp8ScaleRounding rounding,
                                    ConstView x, View y);
Fp8TensorQuant fp8_quantize_delayed(const Exec& ex, Fp8Format format, Fp8ScaleRounding rounding,
                                    Fp8AmaxHistory& history, ConstView x, View y);
Fp8QuantStats fp8_quantize_blocks(const Exec& ex, Fp8Format format, Fp8ScaleRounding rounding,
                                  Fp8BlockShape block, ConstView x, View y,
                                  std::span<float> scales);

namespace ref {
void fp8_encode(Fp8Format format, std::span<const float> x, std::span<uint8_t> codes);
void fp8_decode(Fp8Format format, std::span<const uint8_t> codes, std::span<float> x);
void fp8_block_amax(Fp8BlockShape block, ConstView x, std::span<float> amax);
Fp8QuantStats fp8_fake_quantize(Fp8Format format, Fp8BlockShape block,
                                std::span<const float> scales, ConstView x, View y);
}  // namespace ref

namespace cpu {
void fp8_encode(Fp8Format format, std::span<const float> x, std::span<uint8_t> codes);
void fp8_decode(Fp8Format format, std::span<const uint8_t> codes, std::span<float> x);
// The fastest version this CPU runs: AVX-512 where present, else the AVX2/portable one.
void fp8_block_amax(Fp8BlockShape block, ConstView x, std::span<float> amax);
Fp8QuantStats fp8_fake_quantize(Fp8Format format, Fp8BlockShape block,
                                std::span<const float> scales, ConstView x, View y);
// The AVX2 (x86-64-v3) or portable version, whichever the CPU runs.
void fp8_block_amax_avx2(Fp8BlockShape block, ConstView x, std::span<float> amax);
Fp8QuantStats fp8_fake_quantize_avx2(Fp8Format format, Fp8BlockShape block,
                                     std::span<const float> scales, ConstView x, View y);
}  // namespace cpu

namespace avx512 {
// Row pieces of the cpu:: versions. REQUIRES: cpu::has_avx512().
// amax of x[0, n) over finite values.
float fp8_amax_row(const float* x, int64_t n);
// amax[i] = max(amax[i], |x[i]|) over finite x[i].
void fp8_amax_columns(const float* x, int64_t n, float* amax);
// Fake-quantizes x[0, n) into y with one scale; adds to the counts of *stats (amax included).
void fp8_fake_quantize_row(Fp8Format format, const float* x, int64_t n, float scale, float* y,
                           Fp8QuantStats* stats);
// The same with a scale per element.
void fp8_fake_quantize_row_scales(Fp8Format format, const float* x, int64_t n, const float* scales,
                                  float* y, Fp8QuantStats* stats);
}  // namespace avx512

}  // namespace symphony
