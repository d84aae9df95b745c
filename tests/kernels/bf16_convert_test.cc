#include "kernels/bf16_convert.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace symphony {
namespace {

using cpu::Bf16Isa;

constexpr Bf16Isa kIsas[] = {Bf16Isa::kPortable, Bf16Isa::kAvx2, Bf16Isa::kAvx512Bf16};

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// fp32 patterns whose bf16 rounding is fixed by IEEE 754 round-to-nearest-even, and its result.
struct Edge {
  uint32_t in;
  uint16_t out;
};
constexpr Edge kEdges[] = {
    {0x00000000u, 0x0000},  // +0
    {0x80000000u, 0x8000},  // -0 keeps its sign
    {0x7f800000u, 0x7f80},  // +inf
    {0xff800000u, 0xff80},  // -inf
    {0x7fc00000u, 0x7fc0},  // quiet NaN
    {0x7f800001u, 0x7fc0},  // signalling NaN, payload only in the dropped bits: quieted, not inf
    {0xff812345u, 0xffc1},  // negative NaN: sign and top payload kept, quieted
    {0x7fbfffffu, 0x7fff},  // NaN whose rounding add would carry: no carry
    {0x7f7fffffu, 0x7f80},  // FLT_MAX lies past the largest bf16 + half an ulp: inf
    {0xff7fffffu, 0xff80},  // -FLT_MAX: -inf
    {0x7f7f0000u, 0x7f7f},  // the largest bf16
    {0x7f7f7fffu, 0x7f7f},  // just below the halfway point to inf
    {0x7f7f8000u, 0x7f80},  // halfway, odd last bit: up, to inf
    {0x3f808000u, 0x3f80},  // 1 + 2^-8: halfway, even last bit: down
    {0x3f818000u, 0x3f82},  // halfway, odd last bit: up
    {0x3f808001u, 0x3f81},  // just above halfway: up
    {0xbf818000u, 0xbf82},  // negative halfway rounds on magnitude
    {0x00000001u, 0x0000},  // smallest fp32 subnormal: below half the smallest bf16 subnormal
    {0x00008000u, 0x0000},  // halfway between 0 and the smallest bf16 subnormal: to even 0
    {0x00008001u, 0x0001},  // just above: the smallest bf16 subnormal
    {0x00018000u, 0x0002},  // subnormal tie, odd last bit: up
    {0x00010000u, 0x0001},  // a bf16 subnormal, kept exactly
    {0x80050000u, 0x8005},  // a negative bf16 subnormal, kept exactly
    {0x007fffffu, 0x0080},  // the largest fp32 subnormal rounds up to the smallest normal
    {0x00400000u, 0x0040},  // a subnormal of the top mantissa bit
};

TEST(Bf16Convert, ReferenceRoundsEdgeCasesAsIeee) {
  for (const Edge& e : kEdges) {
    SCOPED_TRACE(fmt::format("in {:#010x}", e.in));
    const float x = from_bits(e.in);
    uint16_t y = 0;
    ref::bf16_from_f32({&x, 1}, {&y, 1});
    EXPECT_EQ(y, e.out) << fmt::format("got {:#06x}, want {:#06x}", y, e.out);
  }
}

// Inputs: the edge cases, then random bit patterns (every class: NaN, inf, subnormal, normal,
// with the frequencies of the bit patterns), then ordinary values near 1.
std::vector<float> test_inputs(int64_t n, uint64_t seed) {
  std::vector<float> x;
  for (int64_t i = 0; i < n; ++i) {
    if (size_t(i) < std::size(kEdges)) {
      x.push_back(from_bits(kEdges[i].in));
    } else if (i % 2 == 0) {
      x.push_back(from_bits(uint32_t(splitmix64(seed ^ splitmix64(uint64_t(i))))));
    } else {
      x.push_back(float(normal_at(seed, uint64_t(i))));
    }
  }
  return x;
}

// Lengths around the 8-, 16- and 32-lane steps, and one over several OpenMP blocks.
constexpr int64_t kLengths[] = {0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 100, 1001, 70001};

TEST(Bf16Convert, EveryIsaMatchesReferenceBitwise) {
  for (Bf16Isa isa : kIsas) {
    if (!cpu::bf16_isa_supported(isa)) {
      fmt::print("{}: not on this CPU, skipped\n", cpu::bf16_isa_name(isa));
      continue;
    }
    for (int64_t n : kLengths) {
      SCOPED_TRACE(fmt::format("isa={} n={}", cpu::bf16_isa_name(isa), n));
      const std::vector<float> x = test_inputs(n, uint64_t(n) * 131 + 7);
      std::vector<uint16_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), 0xdead);
      ref::bf16_from_f32(x, want);
      cpu::bf16_from_f32(isa, x.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(got[size_t(i)], want[size_t(i)])
            << fmt::format("element {}: in {:#010x}", i, std::bit_cast<uint32_t>(x[size_t(i)]));

      std::vector<float> rounded_want(static_cast<size_t>(n)), rounded(static_cast<size_t>(n));
      ref::bf16_round_f32(x, rounded_want);
      cpu::bf16_round_f32(isa, x.data(), n, rounded.data());
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(rounded[size_t(i)]),
                  std::bit_cast<uint32_t>(rounded_want[size_t(i)]))
            << fmt::format("element {}: in {:#010x}", i, std::bit_cast<uint32_t>(x[size_t(i)]));
    }
    // Widening: every bf16 pattern.
    std::vector<uint16_t> all(65536);
    for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
    std::vector<float> want(all.size()), got(all.size());
    ref::f32_from_bf16(all, want);
    cpu::f32_from_bf16(isa, all.data(), int64_t(all.size()) - 3, got.data());  // with a tail
    for (size_t i = 0; i + 3 < all.size(); ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i])) << i;
  }
}

TEST(Bf16Convert, WideningIsExactAndRoundTrips) {
  std::vector<uint16_t> all(65536), back(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  std::vector<float> wide(all.size());
  ref::f32_from_bf16(all, wide);
  for (size_t i = 0; i < all.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(wide[i]), uint32_t(i) << 16) << i;
  // A bf16 value converts back to itself, NaNs quieted.
  ref::bf16_from_f32(wide, back);
  for (size_t i = 0; i < all.size(); ++i) {
    const bool nan = (i & 0x7fffu) > 0x7f80u;
    ASSERT_EQ(back[i], nan ? uint16_t(i | 0x40u) : uint16_t(i)) << i;
  }
}

TEST(Bf16Convert, DispatchMatchesReferenceAndRoundsInPlace) {
  const int64_t n = 70001;
  std::vector<float> x = test_inputs(n, 99);
  std::vector<uint16_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  ref::bf16_from_f32(x, want);
  bf16_from_f32(Exec::cpu(), x, got);
  EXPECT_EQ(got, want);
  std::vector<float> wide_want(static_cast<size_t>(n)), wide(static_cast<size_t>(n));
  ref::f32_from_bf16(want, wide_want);
  f32_from_bf16(Exec::cpu(), got, wide);
  bf16_round_f32(Exec::cpu(), x, x);  // y aliases x
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(wide[size_t(i)]),
              std::bit_cast<uint32_t>(wide_want[size_t(i)]))
        << i;
    ASSERT_EQ(std::bit_cast<uint32_t>(x[size_t(i)]), std::bit_cast<uint32_t>(wide_want[size_t(i)]))
        << i;
  }
}

}  // namespace
}  // namespace symphony
