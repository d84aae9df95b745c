#pragma once
// Conversions between fp32 and bf16. A bf16 value is held as its bit pattern (uint16_t), which is
// the top half of the fp32 pattern of the same value.
//   bf16_from_f32:  y[i] = x[i] rounded to bf16, to nearest with ties to even. NaN stays NaN and
//                   becomes quiet (mantissa msb set; sign and top payload bits kept); +-inf and -0
//                   stay; fp32 subnormals become bf16 subnormals (no flush to zero); finite values
//                   at or beyond the largest bf16 plus half an ulp become +-inf.
//   f32_from_bf16:  y[i] = x[i], exactly.
//   bf16_round_f32: y[i] = f32_from_bf16(bf16_from_f32(x[i])): bf16 values held in fp32. y may
//                   alias x.
// x and y: equal lengths. Every implementation gives the same bits as ref::.
// The fast versions run AVX-512 BF16 (vcvtne2ps2bf16) where the CPU has it, else AVX2 integer
// rounding, else portable code; the choice is made once, at run time.

#include <cstdint>
#include <span>

#include "tensor/exec.h"

namespace symphony {

void bf16_from_f32(const Exec& ex, std::span<const float> x, std::span<uint16_t> y);
void f32_from_bf16(const Exec& ex, std::span<const uint16_t> x, std::span<float> y);
void bf16_round_f32(const Exec& ex, std::span<const float> x, std::span<float> y);

namespace ref {
void bf16_from_f32(std::span<const float> x, std::span<uint16_t> y);
void f32_from_bf16(std::span<const uint16_t> x, std::span<float> y);
void bf16_round_f32(std::span<const float> x, std::span<float> y);
}  // namespace ref

namespace cpu {
// The instruction sets a conversion can run on, slowest first.
enum class Bf16Isa : uint8_t { kPortable, kAvx2, kAvx512Bf16 };
// The best one this CPU runs: AVX-512 BF16 needs avx512f, avx512bw, avx512vl and avx512bf16.
Bf16Isa bf16_best_isa();
bool bf16_isa_supported(Bf16Isa isa);
const char* bf16_isa_name(Bf16Isa isa);

// Multithreaded (OpenMP) above a few thousand elements; on bf16_best_isa().
void bf16_from_f32(std::span<const float> x, std::span<uint16_t> y);
void f32_from_bf16(std::span<const uint16_t> x, std::span<float> y);
void bf16_round_f32(std::span<const float> x, std::span<float> y);

// One thread, on `isa` (tests run each). REQUIRES: bf16_isa_supported(isa).
void bf16_from_f32(Bf16Isa isa, const float* x, int64_t n, uint16_t* y);
void f32_from_bf16(Bf16Isa isa, const uint16_t* x, int64_t n, float* y);
void bf16_round_f32(Bf16Isa isa, const float* x, int64_t n, float* y);
}  // namespace cpu

// The instruction-set versions behind cpu::, one thread each.
namespace avx2 {
// REQUIRES: the CPU has AVX2.
void bf16_from_f32(const float* x, int64_t n, uint16_t* y);
void f32_from_bf16(const uint16_t* x, int64_t n, float* y);
void bf16_round_f32(const float* x, int64_t n, float* y);
}  // namespace avx2
namespace avx512bf16 {
// REQUIRES: cpu::bf16_isa_supported(cpu::Bf16Isa::kAvx512Bf16).
void bf16_from_f32(const float* x, int64_t n, uint16_t* y);
void f32_from_bf16(const uint16_t* x, int64_t n, float* y);
void bf16_round_f32(const float* x, int64_t n, float* y);
}  // namespace avx512bf16

}  // namespace symphony
