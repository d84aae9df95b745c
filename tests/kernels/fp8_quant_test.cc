#include "kernels/fp8_quant.h"

#include <fmt/format.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "core/rng.h"
#include "kernels/tile_matmul.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

constexpr Fp8Format kFormats[] = {Fp8Format::kE4M3, Fp8Format::kE5M2};
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

using FakeQuantize =
    std::function<Fp8QuantStats(Fp8Format, Fp8BlockShape, std::span<const float>, ConstView, View)>;
using BlockAmax = std::function<void(Fp8BlockShape, ConstView, std::span<float>)>;

struct Version {
  const char* name;
  FakeQuantize fake_quantize;
  BlockAmax block_amax;
};

// Every fast version this CPU can run, each checked against ref::.
std::vector<Version> fast_versions() {
  std::vector<Version> v = {{"avx2", cpu::fp8_fake_quantize_avx2, cpu::fp8_block_amax_avx2},
                            {"dispatch", cpu::fp8_fake_quantize, cpu::fp8_block_amax}};
  return v;
}

std::vector<uint8_t> encode_ref(Fp8Format format, std::vector<float> x) {
  std::vector<uint8_t> codes(x.size());
  ref::fp8_encode(format, x, codes);
  return codes;
}

std::vector<uint8_t> encode_cpu(Fp8Format format, std::vector<float> x) {
  std::vector<uint8_t> codes(x.size());
  cpu::fp8_encode(format, x, codes);
  return codes;
}

float decode_ref(Fp8Format format, uint8_t code) {
  float x = 0.f;
  ref::fp8_decode(format, {&code, 1}, {&x, 1});
  return x;
}

bool is_nan_code(Fp8Format format, uint8_t code) { return std::isnan(decode_ref(format, code)); }

uint32_t bits(float x) { return std::bit_cast<uint32_t>(x); }

// Test data: magnitudes spread over 2^-40 .. 2^40 with both signs; a cluster near 1; values of
// 5 significant bits in 2^-12 .. 2^12, which are rounding ties of both formats under power-of-
// two scales; zeros of both signs, fp32 subnormals, infinities and NaN.
Buffer many_magnitudes(int64_t rows, int64_t cols, uint64_t seed) {
  Buffer b(DType::kF32, {rows, cols});
  float* x = b.f32();
  for (int64_t i = 0; i < rows * cols; ++i) {
    const double u = uniform_at(seed, uint64_t(i));
    const double kind = uniform_at(seed + 1, uint64_t(i));
    const double sign = uniform_at(seed + 2, uint64_t(i)) < 0.5 ? -1.0 : 1.0;
    double v = sign * std::exp2(-40.0 + 80.0 * u);
    if (kind < 0.01) {
      v = sign * 0.0;
    } else if (kind < 0.015) {
      v = sign * double(kInf);
    } else if (kind < 0.02) {
      v = double(kNan);
    } else if (kind < 0.025) {
      v = sign * double(FLT_TRUE_MIN) * double(1 + i % 1000);
    } else if (kind < 0.3) {
      v = sign * (0.5 + u);
    } else if (kind < 0.5) {
      v = sign * double(16 + i % 16) / 16.0 * std::exp2(double(i % 25 - 12));
    }
    x[i] = float(v);
  }
  return b;
}

::testing::AssertionResult bitwise_equal(ConstView got, ConstView want) {
  for (int64_t i = 0; i < got.numel(); ++i)
    if (bits(got.f32()[i]) != bits(want.f32()[i]))
      return ::testing::AssertionFailure() << "element " << i << ": got " << got.f32()[i] << " (0x"
                                           << std::hex << bits(got.f32()[i]) << "), want "
                                           << want.f32()[i] << " (0x" << bits(want.f32()[i]) << ")";
  return ::testing::AssertionSuccess();
}

void expect_same_stats(const Fp8QuantStats& got, const Fp8QuantStats& want) {
  EXPECT_EQ(bits(got.amax), bits(want.amax));
  EXPECT_EQ(got.nonzero, want.nonzero);
  EXPECT_EQ(got.underflow, want.underflow);
  EXPECT_EQ(got.saturated, want.saturated);
  EXPECT_EQ(got.nan, want.nan);
}

TEST(Fp8Quant, FormatConstantsMatchTheCodes) {
  for (Fp8Format format : kFormats) {
    SCOPED_TRACE(fp8_name(format));
    const Fp8FormatInfo info = fp8_info(format);
    EXPECT_EQ(decode_ref(format, info.max_code), info.max);
    EXPECT_EQ(decode_ref(format, 0x01), info.min_subnormal);
    EXPECT_EQ(decode_ref(format, uint8_t(1 << info.mantissa_bits)), info.min_normal);
    EXPECT_TRUE(is_nan_code(format, info.nan_code));
    int nan_codes = 0, inf_codes = 0;
    for (int c = 0; c < 256; ++c) {
      nan_codes += is_nan_code(format, uint8_t(c));
      inf_codes += std::isinf(decode_ref(format, uint8_t(c)));
    }
    EXPECT_EQ(nan_codes, format == Fp8Format::kE4M3 ? 2 : 6);
    EXPECT_EQ(inf_codes, format == Fp8Format::kE4M3 ? 0 : 2);
    // Positive codes up to max_code decode to strictly increasing values.
    for (int c = 1; c <= info.max_code; ++c)
      EXPECT_LT(decode_ref(format, uint8_t(c - 1)), decode_ref(format, uint8_t(c))) << c;
  }
  EXPECT_EQ(fp8_info(Fp8Format::kE4M3).max, 448.f);
  EXPECT_EQ(fp8_info(Fp8Format::kE5M2).max, 57344.f);
  EXPECT_EQ(decode_ref(Fp8Format::kE4M3, 0x38), 1.f);
  EXPECT_EQ(decode_ref(Fp8Format::kE5M2, 0x3C), 1.f);
  EXPECT_EQ(decode_ref(Fp8Format::kE4M3, 0xB9), -1.125f);
  EXPECT_EQ(decode_ref(Fp8Format::kE5M2, 0xBD), -1.25f);
  EXPECT_EQ(decode_ref(Fp8Format::kE5M2, 0x7C), kInf);
  EXPECT_EQ(decode_ref(Fp8Format::kE5M2, 0xFC), -kInf);
}

TEST(Fp8Quant, EveryCodeDecodesAndReencodesToItself) {
  for (Fp8Format format : kFormats) {
    SCOPED_TRACE(fp8_name(format));
    std::vector<uint8_t> codes(256);
    for (int c = 0; c < 256; ++c) codes[size_t(c)] = uint8_t(c);
    std::vector<float> ref_values(256), cpu_values(256);
    ref::fp8_decode(format, codes, ref_values);
    cpu::fp8_decode(format, codes, cpu_values);
    for (int c = 0; c < 256; ++c)
      EXPECT_EQ(bits(cpu_values[size_t(c)]), bits(ref_values[size_t(c)])) << "code " << c;
    const std::vector<uint8_t> ref_codes = encode_ref(format, ref_values);
    const std::vector<uint8_t> cpu_codes = encode_cpu(format, ref_values);
    for (int c = 0; c < 256; ++c) {
      SCOPED_TRACE(fmt::format("code 0x{:02X} value {}", c, ref_values[size_t(c)]));
      // NaN codes alias: every NaN encodes to the one NaN code of its sign.
      const uint8_t want = is_nan_code(format, uint8_t(c))
                               ? uint8_t((c & 0x80) | fp8_info(format).nan_code)
                               : uint8_t(c);
      EXPECT_EQ(ref_codes[size_t(c)], want);
      EXPECT_EQ(cpu_codes[size_t(c)], want);
    }
  }
}

// The nearest FP8 value by search over the whole code table, ties to the even code: a
// reference that shares nothing with ref::'s arithmetic.
uint8_t nearest_code(Fp8Format format, float v) {
  const Fp8FormatInfo info = fp8_info(format);
  const uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  const double a = std::fabs(double(v));
  if (a > double(info.max)) return uint8_t(sign | info.max_code);
  uint8_t best = 0;
  for (int c = 1; c <= info.max_code; ++c) {
    const double d_c = std::fabs(double(decode_ref(format, uint8_t(c))) - a);
    const double d_best = std::fabs(double(decode_ref(format, best)) - a);
    if (d_c < d_best || (d_c == d_best && (c & 1) == 0)) best = uint8_t(c);
  }
  return uint8_t(sign | best);
}

TEST(Fp8Quant, EncodeMatchesNearestValueSearch) {
  for (Fp8Format format : kFormats) {
    SCOPED_TRACE(fp8_name(format));
    const Fp8FormatInfo info = fp8_info(format);
    std::vector<float> x;
    for (int i = 0; i < 4000; ++i) {
      const double u = uniform_at(7, uint64_t(i));
      const double sign = uniform_at(8, uint64_t(i)) < 0.5 ? -1.0 : 1.0;
      // 2^-20 .. 2^20 around the format's range, denser than the codes.
      x.push_back(float(sign * double(info.max) * std::exp2(-20.0 - 20.0 * u + 2.0)));
    }
    // Every midpoint between neighbouring codes, and its two fp32 neighbours.
    for (int c = 0; c < info.max_code; ++c) {
      const float mid = float(0.5 * (double(decode_ref(format, uint8_t(c))) +
                                     double(decode_ref(format, uint8_t(c + 1)))));
      for (float m : {mid, std::nextafter(mid, 0.f), std::nextafter(mid, kInf)}) {
        x.push_back(m);
        x.push_back(-m);
      }
    }
    const std::vector<uint8_t> got_ref = encode_ref(format, x);
    const std::vector<uint8_t> got_cpu = encode_cpu(format, x);
    for (size_t i = 0; i < x.size(); ++i) {
      const uint8_t want = nearest_code(format, x[i]);
      ASSERT_EQ(got_ref[i], want) << x[i];
      ASSERT_EQ(got_cpu[i], want) << x[i];
    }
  }
}

struct Edge {
  float x;
  uint8_t code;
  bool saturated;
  bool underflow;
};

void check_edges(Fp8Format format, const std::vector<Edge>& edges) {
  for (const Edge& e : edges) {
    SCOPED_TRACE(fmt::format("{} x={} (0x{:08X})", fp8_name(format), e.x, bits(e.x)));
    EXPECT_EQ(encode_ref(format, {e.x})[0], e.code);
    EXPECT_EQ(encode_cpu(format, {e.x})[0], e.code);
    float x = e.x;
    const float want = decode_ref(format, e.code);
    const float scale = 1.f;
    std::vector<Version> versions = fast_versions();
    versions.push_back({"ref", ref::fp8_fake_quantize, ref::fp8_block_amax});
    for (const Version& v : versions) {
      SCOPED_TRACE(v.name);
      float y = 0.f;
      const Fp8QuantStats s =
          v.fake_quantize(format, {1, 1}, {&scale, 1}, ConstView(&x, DType::kF32, {1, 1}),
                          View(&y, DType::kF32, {1, 1}));
      EXPECT_EQ(bits(y), bits(want));
      EXPECT_EQ(s.saturated, e.saturated ? 1 : 0);
      EXPECT_EQ(s.underflow, e.underflow ? 1 : 0);
      EXPECT_EQ(s.nan, std::isnan(e.x) ? 1 : 0);
      EXPECT_EQ(s.nonzero, std::isfinite(e.x) && e.x != 0.f ? 1 : 0);
    }
  }
}

TEST(Fp8Quant, E4M3EdgeCases) {
  const float sub = 0x1p-9f;  // smallest subnormal
  check_edges(Fp8Format::kE4M3,
              {
                  {0.f, 0x00, false, false},
                  {-0.f, 0x80, false, false},
                  {sub, 0x01, false, false},
                  {-sub, 0x81, false, false},
                  {0.5f * sub, 0x00, false, true},  // tie between 0 and 1 step: even is 0
                  {-0.5f * sub, 0x80, false, true},
                  {std::nextafter(0.5f * sub, 1.f), 0x01, false, false},
                  {std::nextafter(0.5f * sub, 0.f), 0x00, false, true},
                  {FLT_TRUE_MIN, 0x00, false, true},
                  {1.5f * sub, 0x02, false, false},  // tie 1|2 -> 2
                  {2.5f * sub, 0x02, false, false},  // tie 2|3 -> 2
                  {7.f * sub, 0x07, false, false},   // largest subnormal
                  {7.5f * sub, 0x08, false, false},  // tie 7|8 -> smallest normal
                  {0x1p-6f, 0x08, false, false},
                  {1.f, 0x38, false, false},
                  {1.0625f, 0x38, false, false},  // tie 1|1.125 -> 1
                  {1.1875f, 0x3A, false, false},  // tie 1.125|1.25 -> 1.25
                  {-1.1875f, 0xBA, false, false},
                  {448.f, 0x7E, false, false},
                  {std::nextafter(448.f, kInf), 0x7E, false, false},
                  {464.f, 0x7E, false, false},  // tie 448|(480): 448 is even
                  {std::nextafter(464.f, kInf), 0x7E, true, false},
                  {-1e6f, 0xFE, true, false},
                  {FLT_MAX, 0x7E, true, false},
                  {kInf, 0x7E, true, false},
                  {-kInf, 0xFE, true, false},
                  {kNan, 0x7F, false, false},
                  {-kNan, 0xFF, false, false},
              });
}

TEST(Fp8Quant, E5M2EdgeCases) {
  const float sub = 0x1p-16f;
  check_edges(Fp8Format::kE5M2,
              {
                  {0.f, 0x00, false, false},
                  {-0.f, 0x80, false, false},
                  {sub, 0x01, false, false},
                  {0.5f * sub, 0x00, false, true},
                  {std::nextafter(0.5f * sub, 1.f), 0x01, false, false},
                  {std::nextafter(0.5f * sub, 0.f), 0x00, false, true},
                  {1.5f * sub, 0x02, false, false},
                  {3.f * sub, 0x03, false, false},   // largest subnormal
                  {3.5f * sub, 0x04, false, false},  // tie 3|4 -> smallest normal
                  {0x1p-14f, 0x04, false, false},
                  {1.f, 0x3C, false, false},
                  {1.125f, 0x3C, false, false},  // tie 1|1.25 -> 1
                  {1.375f, 0x3E, false, false},  // tie 1.25|1.5 -> 1.5
                  {57344.f, 0x7B, false, false},
                  {60000.f, 0x7B, false, false},
                  {61440.f, 0x7B, true, false},  // tie 57344|65536: 65536 is even, overflows
                  {std::nextafter(61440.f, 0.f), 0x7B, false, false},
                  {-1e9f, 0xFB, true, false},
                  {kInf, 0x7C, false, false},
                  {-kInf, 0xFC, false, false},
                  {kNan, 0x7E, false, false},
                  {-kNan, 0xFE, false, false},
              });
}

// A finite input whose scaled value overflows fp32 saturates even in E5M2, which has infinities.
TEST(Fp8Quant, ScaledOverflowOfAFiniteInputSaturates) {
  for (Fp8Format format : kFormats) {
    float x[2] = {3e38f, -kInf};
    const float scale = 1e10f;
    std::vector<Version> versions = fast_versions();
    versions.push_back({"ref", ref::fp8_fake_quantize, ref::fp8_block_amax});
    for (const Version& v : versions) {
      SCOPED_TRACE(fmt::format("{} {}", fp8_name(format), v.name));
      float y[2];
      const Fp8QuantStats s =
          v.fake_quantize(format, {1, 2}, {&scale, 1}, ConstView(x, DType::kF32, {1, 2}),
                          View(y, DType::kF32, {1, 2}));
      EXPECT_EQ(y[0], fp8_info(format).max / scale);
      EXPECT_EQ(y[1], format == Fp8Format::kE5M2 ? -kInf : -fp8_info(format).max / scale);
      EXPECT_EQ(s.saturated, format == Fp8Format::kE5M2 ? 1 : 2);
      EXPECT_EQ(s.amax, 3e38f);
    }
  }
}

struct QuantCase {
  int64_t rows, cols;
  Fp8BlockShape block;
};

TEST(Fp8Quant, FastVersionsMatchReferenceBitwise) {
  const std::vector<QuantCase> cases = {
      {1, 1, {1, 1}},      {3, 17, {1, 128}},      {5, 33, {1, 16}},
      {64, 300, {1, 128}}, {130, 257, {128, 128}}, {257, 70, {128, 1}},
      {9, 50, {3, 5}},     {40, 37, {40, 37}},     {7, 1000, {7, 1000}},
  };
  for (Fp8Format format : kFormats) {
    Fp8QuantStats all;  // over the cases: the data reach every rounding outcome
    for (const QuantCase& c : cases) {
      const uint64_t seed = uint64_t(c.rows * 1000 + c.cols);
      Buffer x = many_magnitudes(c.rows, c.cols, seed);
      const int64_t count = fp8_block_count(c.rows, c.cols, c.block);
      std::vector<float> amax_ref(static_cast<size_t>(count)), scales(amax_ref.size());
      ref::fp8_block_amax(c.block, x.view(), amax_ref);
      // Scales from the blocks' amax, powers of two, and arbitrary ones in 2^-20 .. 2^20.
      for (int64_t i = 0; i < count; ++i) {
        const double u = uniform_at(seed, uint64_t(i));
        if (i % 3 == 0)
          scales[size_t(i)] =
              fp8_scale_from_amax(format, Fp8ScaleRounding::kExact, amax_ref[size_t(i)]);
        else if (i % 3 == 1)
          scales[size_t(i)] = float(std::exp2(std::floor(-8.0 + 16.0 * u)));
        else
          scales[size_t(i)] = float(std::exp2(-20.0 + 40.0 * u));
      }
      Buffer y_ref(DType::kF32, {c.rows, c.cols});
      const Fp8QuantStats want =
          ref::fp8_fake_quantize(format, c.block, scales, x.view(), y_ref.view());
      for (const Version& v : fast_versions()) {
        SCOPED_TRACE(fmt::format("{} {} rows={} cols={} block={}x{}", fp8_name(format), v.name,
                                 c.rows, c.cols, c.block.rows, c.block.cols));
        std::vector<float> amax(amax_ref.size(), -1.f);
        v.block_amax(c.block, x.view(), amax);
        for (int64_t i = 0; i < count; ++i)
          ASSERT_EQ(bits(amax[size_t(i)]), bits(amax_ref[size_t(i)])) << "block " << i;
        Buffer y(DType::kF32, {c.rows, c.cols});
        const Fp8QuantStats got = v.fake_quantize(format, c.block, scales, x.view(), y.view());
        EXPECT_TRUE(bitwise_equal(y.view(), y_ref.view()));
        expect_same_stats(got, want);
        // y may alias x.
        Buffer xy = testkit::convert(x.view(), DType::kF32);
        v.fake_quantize(format, c.block, scales, xy.view(), xy.view());
        EXPECT_TRUE(bitwise_equal(xy.view(), y_ref.view()));
      }
      all.merge(want);
    }
    EXPECT_GT(all.underflow, 0);
    EXPECT_GT(all.saturated, 0);
    EXPECT_GT(all.nan, 0);
  }
}

TEST(Fp8Quant, DispatchRunsTheChosenImplementation) {
  Buffer x = many_magnitudes(33, 129, 5);
  Buffer y_fast(DType::kF32, {33, 129}), y_ref(DType::kF32, {33, 129});
  std::vector<float> s_fast(size_t(fp8_block_count(33, 129, {1, 128})));
  std::vector<float> s_ref(s_fast.size());
  const Fp8QuantStats fast =
      fp8_quantize_blocks(Exec::cpu(), Fp8Format::kE4M3, Fp8ScaleRounding::kExact, {1, 128},
                          x.view(), y_fast.view(), s_fast);
  const Fp8QuantStats reference =
      fp8_quantize_blocks(Exec::reference(), Fp8Format::kE4M3, Fp8ScaleRounding::kExact, {1, 128},
                          x.view(), y_ref.view(), s_ref);
  EXPECT_TRUE(bitwise_equal(y_fast.view(), y_ref.view()));
  expect_same_stats(fast, reference);
  EXPECT_EQ(s_fast, s_ref);
}

// amax scaled to max: the largest element survives exactly (up to the fp32 rounding of s and
// 1/s); nothing saturates; the smallest elements keep a relative error of the format's.
TEST(Fp8Quant, CurrentScalingMapsAmaxToTheLargestValue) {
  for (Fp8Format format : kFormats)
    for (Exec ex : {Exec::cpu(), Exec::reference()}) {
      SCOPED_TRACE(fmt::format("{} {}", fp8_name(format), ex.impl == KernelImpl::kRef));
      Buffer x = testkit::random_buffer(DType::kF32, {16, 40}, 3, -3.0, 3.0);
      x.f32()[77] = -5.5f;
      Buffer y(DType::kF32, {16, 40});
      const Fp8TensorQuant q =
          fp8_quantize_current(ex, format, Fp8ScaleRounding::kExact, x.view(), y.view());
      EXPECT_EQ(q.stats.amax, 5.5f);
      EXPECT_EQ(q.scale, fp8_info(format).max / 5.5f);
      EXPECT_EQ(q.stats.saturated, 0);
      EXPECT_EQ(q.stats.nonzero, 16 * 40);
      EXPECT_NEAR(y.f32()[77], -5.5f, 1e-5);
      const double step = format == Fp8Format::kE4M3 ? 0x1p-4 : 0x1p-3;  // half an ulp, relative
      for (int64_t i = 0; i < x.numel(); ++i) {
        if (std::fabs(x.f32()[i]) <= 0.1f) continue;
        EXPECT_LE(std::fabs(y.f32()[i] - x.f32()[i]), step * std::fabs(x.f32()[i]) * 1.0001);
      }
    }
}

TEST(Fp8Quant, PowerOfTwoScalesMakeDequantizationExact) {
  Buffer x = testkit::random_buffer(DType::kF32, {8, 64}, 11, -3.0, 3.0);
  Buffer y(DType::kF32, {8, 64});
  const Fp8TensorQuant q = fp8_quantize_current(Exec::cpu(), Fp8Format::kE4M3,
                                                Fp8ScaleRounding::kPowerOfTwo, x.view(), y.view());
  const float exact = 448.f / q.stats.amax;
  EXPECT_EQ(q.scale, std::exp2(std::floor(std::log2(exact))));
  EXPECT_LE(q.scale, exact);
  EXPECT_GT(2.f * q.scale, exact);
  // y * scale is an FP8 value: it re-encodes and decodes to itself.
  std::vector<float> scaled(size_t(x.numel())), back(scaled.size());
  for (size_t i = 0; i < scaled.size(); ++i) scaled[i] = y.f32()[i] * q.scale;
  std::vector<uint8_t> codes(scaled.size());
  ref::fp8_encode(Fp8Format::kE4M3, scaled, codes);
  ref::fp8_decode(Fp8Format::kE4M3, codes, back);
  EXPECT_EQ(scaled, back);
}

TEST(Fp8Quant, ScaleFromAmaxHandlesZeroAndTinyAmax) {
  for (Fp8Format format : kFormats) {
    EXPECT_EQ(fp8_scale_from_amax(format, Fp8ScaleRounding::kExact, 0.f), 1.f);
    EXPECT_EQ(fp8_scale_from_amax(format, Fp8ScaleRounding::kExact, kInf), 1.f);
    EXPECT_EQ(fp8_scale_from_amax(format, Fp8ScaleRounding::kExact, kNan), 1.f);
    EXPECT_EQ(fp8_scale_from_amax(format, Fp8ScaleRounding::kExact, FLT_TRUE_MIN), FLT_MAX);
    EXPECT_EQ(fp8_scale_from_amax(format, Fp8ScaleRounding::kPowerOfTwo, FLT_TRUE_MIN), 0x1p127f);
    EXPECT_EQ(fp8_scale_from_amax(format, Fp8ScaleRounding::kExact, 2.f), fp8_info(format).max / 2);
  }
}

TEST(Fp8Quant, AllZeroTensorsAndBlocksGetScaleOne) {
  for (Exec ex : {Exec::cpu(), Exec::reference()}) {
    Buffer x(DType::kF32, {4, 300});  // zero-initialised
    Buffer y = testkit::random_buffer(DType::kF32, {4, 300}, 1);
    const Fp8TensorQuant q =
        fp8_quantize_current(ex, Fp8Format::kE4M3, Fp8ScaleRounding::kExact, x.view(), y.view());
    EXPECT_EQ(q.scale, 1.f);
    EXPECT_EQ(q.stats.amax, 0.f);
    EXPECT_EQ(q.stats.nonzero, 0);
    for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(bits(y.f32()[i]), 0u);

    // Blocks: only block (1, 2) (the partial one of row 1) is non-zero.
    x.f32()[300 + 290] = 3.f;
    std::vector<float> scales(size_t(fp8_block_count(4, 300, {1, 128})));
    ASSERT_EQ(scales.size(), 12u);
    const Fp8QuantStats s = fp8_quantize_blocks(ex, Fp8Format::kE4M3, Fp8ScaleRounding::kExact,
                                                {1, 128}, x.view(), y.view(), scales);
    for (size_t i = 0; i < scales.size(); ++i)
      EXPECT_EQ(scales[i], i == 5 ? 448.f / 3.f : 1.f) << i;
    EXPECT_FLOAT_EQ(y.f32()[300 + 290], 3.f);
    EXPECT_EQ(s.amax, 3.f);
    EXPECT_EQ(s.nonzero, 1);

    // An empty view.
    Buffer empty(DType::kF32, {0, 5});
    const Fp8TensorQuant e = fp8_quantize_current(ex, Fp8Format::kE5M2, Fp8ScaleRounding::kExact,
                                                  empty.view(), empty.view());
    EXPECT_EQ(e.scale, 1.f);
    EXPECT_EQ(e.stats.nonzero, 0);
  }
}

// Each block's scale comes from its own amax, partial edge blocks included.
TEST(Fp8Quant, BlockScalesComeFromEachBlocksAmax) {
  for (Fp8BlockShape block : {Fp8BlockShape{1, 128}, Fp8BlockShape{128, 128}, Fp8BlockShape{128, 1},
                              Fp8BlockShape{3, 7}}) {
    SCOPED_TRACE(fmt::format("block {}x{}", block.rows, block.cols));
    const int64_t rows = 131, cols = 150;
    Buffer x(DType::kF32, {rows, cols});
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)  // magnitudes that differ from block to block
        x.f32()[r * cols + c] =
            float((1 + (r * 7 + c * 13) % 97) * std::exp2(double(r % 5 - c % 3)));
    const int64_t grid_rows = (rows + block.rows - 1) / block.rows;
    const int64_t grid_cols = (cols + block.cols - 1) / block.cols;
    std::vector<float> want(size_t(grid_rows * grid_cols), 0.f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float& m = want[size_t((r / block.rows) * grid_cols + c / block.cols)];
        m = std::max(m, x.f32()[r * cols + c]);
      }
    for (float& m : want) m = 448.f / m;
    for (Exec ex : {Exec::cpu(), Exec::reference()}) {
      Buffer y(DType::kF32, {rows, cols});
      std::vector<float> scales(want.size());
      const Fp8QuantStats s = fp8_quantize_blocks(ex, Fp8Format::kE4M3, Fp8ScaleRounding::kExact,
                                                  block, x.view(), y.view(), scales);
      EXPECT_EQ(scales, want);
      EXPECT_EQ(s.saturated, 0);
      EXPECT_EQ(s.nonzero, rows * cols);
    }
  }
}

TEST(Fp8Quant, DelayedScalingUsesTheHistory) {
  for (Exec ex : {Exec::cpu(), Exec::reference()}) {
    Fp8AmaxHistory history(3);
    Buffer x(DType::kF32, {2, 8});
    Buffer y(DType::kF32, {2, 8});
    auto fill = [&](float amax) {  // values amax * k / 16, k = 1..16
      for (int64_t i = 0; i < 16; ++i) x.f32()[i] = amax * float(i + 1) / 16.f;
    };
    auto quantize = [&] {
      return fp8_quantize_delayed(ex, Fp8Format::kE4M3, Fp8ScaleRounding::kExact, history, x.view(),
                                  y.view());
    };
    // Empty history: this tensor's own amax.
    fill(2.f);
    Fp8TensorQuant q = quantize();
    EXPECT_EQ(q.scale, 224.f);
    EXPECT_EQ(q.stats.saturated, 0);
    EXPECT_EQ(history.max(), 2.f);
    // The amax doubles: the scale still comes from the history, and the upper half (k = 9..16:
    // 504 and more once scaled, which round past 448) saturates to 2.
    fill(4.f);
    q = quantize();
    EXPECT_EQ(q.scale, 224.f);
    EXPECT_EQ(q.stats.saturated, 8);
    EXPECT_FLOAT_EQ(y.f32()[7], 2.f);
    EXPECT_FLOAT_EQ(y.f32()[15], 2.f);
    EXPECT_EQ(q.stats.amax, 4.f);
    EXPECT_EQ(history.max(), 4.f);
    // Smaller tensors: the scale follows the window's largest value, 4, for three calls.
    fill(1.f);
    EXPECT_EQ(quantize().scale, 112.f);
    EXPECT_EQ(quantize().scale, 112.f);
    EXPECT_EQ(quantize().scale, 112.f);
    // Three records of 1 later, 4 has left the window.
    EXPECT_EQ(quantize().scale, 448.f);
    EXPECT_EQ(history.size(), 3);
  }
}

}  // namespace
}  // namespace symphony
