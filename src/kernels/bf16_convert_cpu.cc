#include <algorithm>

#include "core/check.h"
#include "kernels/bf16_bits.h"
#include "kernels/bf16_convert.h"

namespace symphony::cpu {
namespace {

// Elements per OpenMP work item: large enough that a thread streams a few pages at a time, small
// enough that the weight matrices of a layer split across every thread.
constexpr int64_t kBlock = 16384;

void portable_from_f32(const float* x, int64_t n, uint16_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_bits_from_f32(x[i]);
}
void portable_to_f32(const uint16_t* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_from_bf16_bits(x[i]);
}
void portable_round(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_from_bf16_bits(bf16_bits_from_f32(x[i]));
}

void from_f32_on(Bf16Isa isa, const float* x, int64_t n, uint16_t* y) {
  switch (isa) {
    case Bf16Isa::kAvx512Bf16: return avx512bf16::bf16_from_f32(x, n, y);
    case Bf16Isa::kAvx2: return avx2::bf16_from_f32(x, n, y);
    case Bf16Isa::kPortable: return portable_from_f32(x, n, y);
  }
}
void to_f32_on(Bf16Isa isa, const uint16_t* x, int64_t n, float* y) {
  switch (isa) {
    case Bf16Isa::kAvx512Bf16: return avx512bf16::f32_from_bf16(x, n, y);
    case Bf16Isa::kAvx2: return avx2::f32_from_bf16(x, n, y);
    case Bf16Isa::kPortable: return portable_to_f32(x, n, y);
  }
}
void round_on(Bf16Isa isa, const float* x, int64_t n, float* y) {
  switch (isa) {
    case Bf16Isa::kAvx512Bf16: return avx512bf16::bf16_round_f32(x, n, y);
    case Bf16Isa::kAvx2: return avx2::bf16_round_f32(x, n, y);
    case Bf16Isa::kPortable: return portable_round(x, n, y);
  }
}

// Runs fn(begin, end) over [0, n) in blocks, in parallel when there is more than one block.
template <typename Fn>
void for_blocks(int64_t n, Fn&& fn) {
  if (n <= kBlock) {
    fn(int64_t(0), n);
    return;
  }
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) fn(b * kBlock, std::min(n, (b + 1) * kBlock));
}

}  // namespace

bool bf16_isa_supported(Bf16Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (isa) {
    case Bf16Isa::kPortable: return true;
    case Bf16Isa::kAvx2: return __builtin_cpu_supports("avx2");
    case Bf16Isa::kAvx512Bf16:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
  }
  return false;
#else
  return isa == Bf16Isa::kPortable;
#endif
}

Bf16Isa bf16_best_isa() {
  static const Bf16Isa best = bf16_isa_supported(Bf16Isa::kAvx512Bf16) ? Bf16Isa::kAvx512Bf16
                              : bf16_isa_supported(Bf16Isa::kAvx2)     ? Bf16Isa::kAvx2
                                                                       : Bf16Isa::kPortable;
  return best;
}

const char* bf16_isa_name(Bf16Isa isa) {
  switch (isa) {
    case Bf16Isa::kPortable: return "portable";
    case Bf16Isa::kAvx2: return "avx2";
    case Bf16Isa::kAvx512Bf16: return "avx512_bf16";
  }
  return "?";
}

void bf16_from_f32(Bf16Isa isa, const float* x, int64_t n, uint16_t* y) {
  SYM_CHECK(bf16_isa_supported(isa), "bf16 conversion on {}: this CPU lacks it",
            bf16_isa_name(isa));
  from_f32_on(isa, x, n, y);
}

void f32_from_bf16(Bf16Isa isa, const uint16_t* x, int64_t n, float* y) {
  SYM_CHECK(bf16_isa_supported(isa), "bf16 conversion on {}: this CPU lacks it",
            bf16_isa_name(isa));
  to_f32_on(isa, x, n, y);
}

void bf16_round_f32(Bf16Isa isa, const float* x, int64_t n, float* y) {
  SYM_CHECK(bf16_isa_supported(isa), "bf16 conversion on {}: this CPU lacks it",
            bf16_isa_name(isa));
  round_on(isa, x, n, y);
}

void bf16_from_f32(std::span<const float> x, std::span<uint16_t> y) {
  SYM_CHECK(x.size() == y.size(), "bf16_from_f32: {} inputs, {} outputs", x.size(), y.size());
  const Bf16Isa isa = bf16_best_isa();
  for_blocks(int64_t(x.size()), [&](int64_t begin, int64_t end) {
    from_f32_on(isa, x.data() + begin, end - begin, y.data() + begin);
  });
}

void f32_from_bf16(std::span<const uint16_t> x, std::span<float> y) {
  SYM_CHECK(x.size() == y.size(), "f32_from_bf16: {} inputs, {} outputs", x.size(), y.size());
  const Bf16Isa isa = bf16_best_isa();
  for_blocks(int64_t(x.size()), [&](int64_t begin, int64_t end) {
    to_f32_on(isa, x.data() + begin, end - begin, y.data() + begin);
  });
}

void bf16_round_f32(std::span<const float> x, std::span<float> y) {
  SYM_CHECK(x.size() == y.size(), "bf16_round_f32: {} inputs, {} outputs", x.size(), y.size());
  const Bf16Isa isa = bf16_best_isa();
  for_blocks(int64_t(x.size()), [&](int64_t begin, int64_t end) {
    round_on(isa, x.data() + begin, end - begin, y.data() + begin);
  });
}

}  // namespace symphony::cpu
