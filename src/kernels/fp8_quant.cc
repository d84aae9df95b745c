#include "kernels/fp8_quant.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>

namespace symphony {
namespace {

bool use_ref(const Exec& ex) { return ex.impl == KernelImpl::kRef; }

void check_view(ConstView x, const char* what) {
  SYM_CHECK(x.ndim() == 2 && x.dtype() == DType::kF32, "fp8: {} must be a 2-d f32 view", what);
}

void check_block(Fp8BlockShape block) {
  SYM_CHECK(block.rows >= 1 && block.cols >= 1, "fp8: block shape ({}, {}) must be positive",
            block.rows, block.cols);
}

// The block of a per-tensor scale. REQUIRES: x not empty.
Fp8BlockShape whole(ConstView x) { return {x.dim(0), x.dim(1)}; }

}  // namespace

int64_t fp8_block_count(int64_t rows, int64_t cols, Fp8BlockShape block) {
  check_block(block);
  return ((rows + block.rows - 1) / block.rows) * ((cols + block.cols - 1) / block.cols);
}

void Fp8QuantStats::merge(const Fp8QuantStats& other) {
  amax = std::max(amax, other.amax);
  nonzero += other.nonzero;
  underflow += other.underflow;
  saturated += other.saturated;
  nan += other.nan;
}

float fp8_scale_from_amax(Fp8Format format, Fp8ScaleRounding rounding, float amax) {
  if (!(amax > 0.f) || !std::isfinite(amax)) return 1.f;
  float s = fp8_info(format).max / amax;
  if (!std::isfinite(s)) s = FLT_MAX;
  // s >= max / FLT_MAX is a normal number: clearing its mantissa rounds it down to 2^floor(log2 s).
  if (rounding == Fp8ScaleRounding::kPowerOfTwo)
    s = std::bit_cast<float>(std::bit_cast<uint32_t>(s) & 0xff800000u);
  return s;
}

void fp8_encode(const Exec& ex, Fp8Format format, std::span<const float> x,
                std::span<uint8_t> codes) {
  SYM_CHECK(x.size() == codes.size(), "fp8_encode: {} values, {} codes", x.size(), codes.size());
  if (use_ref(ex)) return ref::fp8_encode(format, x, codes);
  cpu::fp8_encode(format, x, codes);
}

void fp8_decode(const Exec& ex, Fp8Format format, std::span<const uint8_t> codes,
                std::span<float> x) {
  SYM_CHECK(x.size() == codes.size(), "fp8_decode: {} codes, {} values", codes.size(), x.size());
  if (use_ref(ex)) return ref::fp8_decode(format, codes, x);
  cpu::fp8_decode(format, codes, x);
}

void fp8_block_amax(const Exec& ex, Fp8BlockShape block, ConstView x, std::span<float> amax) {
  check_view(x, "x");
  const int64_t count = fp8_block_count(x.dim(0), x.dim(1), block);
  SYM_CHECK(int64_t(amax.size()) == count, "fp8_block_amax: {} outputs for {} blocks", amax.size(),
            count);
  if (use_ref(ex)) return ref::fp8_block_amax(block, x, amax);
  cpu::fp8_block_amax(block, x, amax);
}

Fp8QuantStats fp8_fake_quantize(const Exec& ex, Fp8Format format, Fp8BlockShape block,
                                std::span<const float> scales, ConstView x, View y) {
  check_view(x, "x");
  check_view(y, "y");
  SYM_CHECK(same_shape(x, y), "fp8_fake_quantize: x and y shapes differ");
  const int64_t count = fp8_block_count(x.dim(0), x.dim(1), block);
  SYM_CHECK(int64_t(scales.size()) == count, "fp8_fake_quantize: {} scales for {} blocks",
            scales.size(), count);
  for (float s : scales)
    SYM_CHECK(s > 0.f && std::isfinite(s), "fp8_fake_quantize: scale {} is not finite and > 0", s);
  if (use_ref(ex)) return ref::fp8_fake_quantize(format, block, scales, x, y);
  return cpu::fp8_fake_quantize(format, block, scales, x, y);
}

Fp8TensorQuant fp8_quantize_current(const Exec& ex, Fp8Format format, Fp8ScaleRounding rounding,
                                    ConstView x, View y) {
  check_view(x, "x");
  if (x.numel() == 0) return {};
  float amax = 0.f;
  fp8_block_amax(ex, whole(x), x, {&amax, 1});
  const float scale = fp8_scale_from_amax(format, rounding, amax);
  return {fp8_fake_quantize(ex, format, whole(x), {&scale, 1}, x, y), scale};
}

Fp8TensorQuant fp8_quantize_delayed(const Exec& ex, Fp8Format format, Fp8ScaleRounding rounding,
                                    Fp8AmaxHistory& history, ConstView x, View y) {
  check_view(x, "x");
  if (x.numel() == 0) return {};  // nothing measured, nothing recorded
  float amax = history.max();
  // Without a non-zero amax on record there is nothing to delay: measure this tensor.
  if (amax == 0.f) fp8_block_amax(ex, whole(x), x, {&amax, 1});
  const float scale = fp8_scale_from_amax(format, rounding, amax);
  const Fp8QuantStats stats = fp8_fake_quantize(ex, format, whole(x), {&scale, 1}, x, y);
  history.record(stats.amax);
  return {stats, scale};
}

Fp8QuantStats fp8_quantize_blocks(const Exec& ex, Fp8Format format, Fp8ScaleRounding rounding,
                                  Fp8BlockShape block, ConstView x, View y,
                                  std::span<float> scales) {
  fp8_block_amax(ex, block, x, scales);
  for (float& s : scales) s = fp8_scale_from_amax(format, rounding, s);
  return fp8_fake_quantize(ex, format, block, scales, x, y);
}

}  // namespace symphony
