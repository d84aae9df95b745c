#include "kernels/bf16_convert.h"

#include "core/check.h"

namespace symphony {

void bf16_from_f32(const Exec& ex, std::span<const float> x, std::span<uint16_t> y) {
  SYM_CHECK(x.size() == y.size(), "bf16_from_f32: {} inputs, {} outputs", x.size(), y.size());
  if (ex.impl == KernelImpl::kRef) return ref::bf16_from_f32(x, y);
  cpu::bf16_from_f32(x, y);
}

void f32_from_bf16(const Exec& ex, std::span<const uint16_t> x, std::span<float> y) {
  SYM_CHECK(x.size() == y.size(), "f32_from_bf16: {} inputs, {} outputs", x.size(), y.size());
  if (ex.impl == KernelImpl::kRef) return ref::f32_from_bf16(x, y);
  cpu::f32_from_bf16(x, y);
}

void bf16_round_f32(const Exec& ex, std::span<const float> x, std::span<float> y) {
  SYM_CHECK(x.size() == y.size(), "bf16_round_f32: {} inputs, {} outputs", x.size(), y.size());
  if (ex.impl == KernelImpl::kRef) return ref::bf16_round_f32(x, y);
  cpu::bf16_round_f32(x, y);
}

}  // namespace symphony
