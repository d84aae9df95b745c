#pragma once
// Element types. Precision is chosen at run time: the training path runs in kF32; kF64 runs
// through the reference kernels and exists for gradient checks against finite differences.

#include <cstdint>
#include <string_view>

namespace symphony {

enum class DType : uint8_t { kF32, kF64 };

constexpr int64_t dtype_bytes(DType dtype) { return dtype == DType::kF64 ? 8 : 4; }
constexpr std::string_view dtype_name(DType dtype) { return dtype == DType::kF64 ? "f64" : "f32"; }

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::kF32; }
template <>
constexpr DType dtype_of<double>() { return DType::kF64; }

}  // namespace symphony
