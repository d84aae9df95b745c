#pragma once
// Non-owning views of dense row-major tensors (up to 4 dims) with a run-time dtype.
// View grants write access, ConstView read access; a View converts to a ConstView.
// Buffer (tensor/buffer.h) owns memory; a View never does.

#include <array>
#include <cstdint>
#include <initializer_list>

#include "core/check.h"
#include "core/dtype.h"

namespace symphony {

struct Shape {
  std::array<int64_t, 4> dims{1, 1, 1, 1};
  int ndim = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> list) {
    SYM_CHECK(list.size() <= 4, "at most 4 dims, got {}", list.size());
    for (int64_t d : list) dims[ndim++] = d;
  }
  // The element count. A shape whose count overflows int64 is a bug (sizes from outside are
  // validated before shapes are made of them) and stops the process with the shape named.
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i)
      if (__builtin_mul_overflow(n, dims[i], &n)) [[unlikely]]
        fatal_overflow();
    return n;
  }
  // numel() * element_bytes, checked the same way.
  int64_t bytes(int64_t element_bytes) const {
    int64_t b;
    if (__builtin_mul_overflow(numel(), element_bytes, &b)) [[unlikely]]
      fatal_overflow();
    return b;
  }
  int64_t operator[](int i) const { return dims[i]; }
  bool operator==(const Shape& other) const {
    if (ndim != other.ndim) return false;
    for (int i = 0; i < ndim; ++i)
      if (dims[i] != other.dims[i]) return false;
    return true;
  }

 private:
  [[noreturn]] void fatal_overflow() const {
    fatal(fmt::format("the element count of shape [{}, {}, {}, {}] ({} dims) overflows int64",
                      dims[0], dims[1], dims[2], dims[3], ndim));
  }
};

template <bool kMutable>
class BasicView {
 public:
  using Ptr = std::conditional_t<kMutable, void*, const void*>;
  template <typename T>
  using ElemPtr = std::conditional_t<kMutable, T*, const T*>;

  BasicView() = default;
  BasicView(Ptr data, DType dtype, Shape shape) : data_(data), dtype_(dtype), shape_(shape) {}
  template <bool kOther, typename = std::enable_if_t<!kMutable && kOther>>
  BasicView(const BasicView<kOther>& other)  // NOLINT: View -> ConstView is implicit
      : data_(other.raw()), dtype_(other.dtype()), shape_(other.shape()) {}

  Ptr raw() const { return data_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim; }
  int64_t dim(int i) const { return shape_.dims[i < 0 ? shape_.ndim + i : i]; }
  int64_t numel() const { return shape_.numel(); }
  int64_t bytes() const { return shape_.bytes(dtype_bytes(dtype_)); }
  bool empty() const { return data_ == nullptr; }

  template <typename T>
  ElemPtr<T> data() const {
    SYM_DCHECK(dtype_ == dtype_of<T>(), "view holds {}, accessed as {}", dtype_name(dtype_),
               dtype_name(dtype_of<T>()));
    return static_cast<ElemPtr<T>>(data_);
  }
  ElemPtr<float> f32() const { return data<float>(); }

  // Rows [begin, end) of the leading dim: contiguous, so still a dense view.
  BasicView rows(int64_t begin, int64_t end) const {
    SYM_CHECK(0 <= begin && begin <= end && end <= dim(0), "rows [{}, {}) of {}", begin, end,
              dim(0));
    Shape s = shape_;
    s.dims[0] = end - begin;
    int64_t stride = shape_.numel() / (shape_.dims[0] == 0 ? 1 : shape_.dims[0]);
    return BasicView(offset_ptr(begin * stride), dtype_, s);
  }
  // The same memory under another shape with the same element count.
  BasicView reshape(Shape s) const {
    SYM_CHECK(s.numel() == numel(), "reshape {} elements into {}", numel(), s.numel());
    return BasicView(data_, dtype_, s);
  }
  // Flattens all leading dims: (a, b, c) -> (a*b, c).
  BasicView flat2d() const {
    int64_t cols = dim(-1);
    return reshape({numel() / (cols == 0 ? 1 : cols), cols});
  }

 private:
  Ptr offset_ptr(int64_t elems) const {
    using Byte = std::conditional_t<kMutable, char, const char>;
    return static_cast<Byte*>(data_) + elems * dtype_bytes(dtype_);
  }

  Ptr data_ = nullptr;
  DType dtype_ = DType::kF32;
  Shape shape_;
};

using View = BasicView<true>;
using ConstView = BasicView<false>;

inline bool same_shape(ConstView a, ConstView b) { return a.shape() == b.shape(); }

}  // namespace symphony
