#include "data/permutation.h"

#include "core/check.h"
#include "core/rng.h"

namespace symphony {

KeyedPermutation::KeyedPermutation(int64_t size, uint64_t key) : size_(size) {
  SYM_CHECK(size >= 1, "permutation of {} elements", size);
  half_bits_ = 1;
  while (half_bits_ < 31 && (int64_t{1} << (2 * half_bits_)) < size) ++half_bits_;
  half_mask_ = (uint64_t{1} << half_bits_) - 1;
  for (int r = 0; r < kRounds; ++r) round_keys_[r] = splitmix64(key + static_cast<uint64_t>(r));
}

uint64_t KeyedPermutation::encrypt(uint64_t x) const {
  uint64_t left = x >> half_bits_;
  uint64_t right = x & half_mask_;
  for (uint64_t round_key : round_keys_) {
    uint64_t mixed = left ^ (splitmix64(right ^ round_key) & half_mask_);
    left = right;
    right = mixed;
  }
  return (left << half_bits_) | right;
}

int64_t KeyedPermutation::operator()(int64_t position) const {
  SYM_DCHECK(position >= 0 && position < size_, "position {} outside [0, {})", position, size_);
  // Cycle walking: the orbit of an in-range value under encrypt() returns to it, so it meets an
  // in-range value after finitely many steps, and distinct starts meet distinct values.
  uint64_t x = static_cast<uint64_t>(position);
  do {
    x = encrypt(x);
  } while (x >= static_cast<uint64_t>(size_));
  return static_cast<int64_t>(x);
}

}  // namespace symphony
