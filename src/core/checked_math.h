#pragma once
// Overflow-checked int64 arithmetic for sizes that come from outside (configs, file headers,
// shapes): element counts, byte counts, offsets. Signed overflow is undefined behaviour in C++, so
// every product or sum of such numbers goes through these before it is trusted.
//
//   checked_mul(a, b), checked_add(a, b): the result, or std::nullopt on overflow.
//   CheckedInt: a value that remembers overflow through a whole formula, for size formulas with
//     many terms: (CheckedInt(rows) * d + rows).value() is std::nullopt if any step overflowed.
//     A formula's terms stay readable and the one check sits at the end.

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace symphony {

inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<int64_t> checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The product of `factors` (1 for none), or std::nullopt on overflow.
inline std::optional<int64_t> checked_product(std::initializer_list<int64_t> factors) {
  int64_t r = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(r, f, &r)) return std::nullopt;
  return r;
}

class CheckedInt {
 public:
  constexpr CheckedInt() = default;
  constexpr CheckedInt(int64_t value) : value_(value) {}  // NOLINT: implicit by design

  // The value, or std::nullopt when some operation on the way overflowed.
  std::optional<int64_t> value() const {
    if (overflow_) return std::nullopt;
    return value_;
  }
  bool overflowed() const { return overflow_; }
  // The value, or `fallback` after an overflow.
  int64_t value_or(int64_t fallback) const { return overflow_ ? fallback : value_; }

  friend CheckedInt operator+(CheckedInt a, CheckedInt b) {
    CheckedInt r;
    r.overflow_ = a.overflow_ || b.overflow_ || __builtin_add_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  friend CheckedInt operator-(CheckedInt a, CheckedInt b) {
    CheckedInt r;
    r.overflow_ = a.overflow_ || b.overflow_ || __builtin_sub_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  friend CheckedInt operator*(CheckedInt a, CheckedInt b) {
    CheckedInt r;
    r.overflow_ = a.overflow_ || b.overflow_ || __builtin_mul_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  CheckedInt& operator+=(CheckedInt other) { return *this = *this + other; }
  CheckedInt& operator-=(CheckedInt other) { return *this = *this - other; }
  CheckedInt& operator*=(CheckedInt other) { return *this = *this * other; }

 private:
  int64_t value_ = 0;
  bool overflow_ = false;
};

}  // namespace symphony
