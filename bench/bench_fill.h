#pragma once
// Deterministic benchmark inputs without a test RNG: xorshift values in [-scale, scale).

#include <cstdint>

#include "tensor/buffer.h"

namespace symphony::bench {

inline Buffer filled(Shape shape, uint32_t salt, float scale = 1.f) {
  Buffer b(DType::kF32, shape);
  uint32_t x = 2463534242u * salt;
  for (int64_t i = 0; i < b.numel(); ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b.f32()[i] = scale * (float(x) * (2.f / 4294967296.f) - 1.f);
  }
  return b;
}

}  // namespace symphony::bench
