#pragma once
// Buffer: owned, 64-byte aligned, zero-initialised storage for one tensor. Move-only.
// Allocation is counted in a MemoryCategory so runs can report their bytes by category.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "tensor/memory_stats.h"
#include "tensor/view.h"

namespace symphony {

class Buffer {
 public:
  Buffer() = default;
  Buffer(DType dtype, Shape shape, MemoryCategory category = MemoryCategory::kOther);
  ~Buffer();
  Buffer(Buffer&& other) noexcept { swap(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    Buffer tmp(std::move(other));
    swap(tmp);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  View view() { return View(data_, dtype_, shape_); }
  ConstView view() const { return ConstView(data_, dtype_, shape_); }
  View view(Shape shape) { return view().reshape(shape); }
  template <typename T>
  T* data() { return view().data<T>(); }
  template <typename T>
  const T* data() const { return view().data<T>(); }
  float* f32() { return data<float>(); }
  const float* f32() const { return data<float>(); }

  bool empty() const { return data_ == nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  int64_t bytes() const { return shape_.bytes(dtype_bytes(dtype_)); }
  void zero() {
    if (data_) std::memset(data_, 0, static_cast<size_t>(bytes()));
  }

 private:
  void swap(Buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(dtype_, other.dtype_);
    std::swap(shape_, other.shape_);
    std::swap(category_, other.category_);
  }

  void* data_ = nullptr;
  DType dtype_ = DType::kF32;
  Shape shape_;
  MemoryCategory category_ = MemoryCategory::kOther;
};

}  // namespace symphony
