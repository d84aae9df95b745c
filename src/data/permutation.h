#pragma once
// A keyed pseudo-random permutation of [0, size) evaluated one index at a time in O(1) memory,
// so the data order of a corpus of any size needs no shuffled index array and can be resumed
// from a position alone.

#include <array>
#include <cstdint>

namespace symphony {

// A 4-round balanced Feistel network on the smallest domain [0, 4^h) (h >= 1) that covers
// [0, size), restricted to [0, size) by cycle walking: values that land outside are encrypted
// again until they fall inside, which keeps the map a bijection. The domain is at most 4x size,
// so an evaluation walks fewer than 4 steps on average.
// The same (size, key) always gives the same permutation, on every platform.
// Thread-safety: immutable after construction.
class KeyedPermutation {
 public:
  // REQUIRES: size >= 1.
  KeyedPermutation(int64_t size, uint64_t key);

  // The index at position `position` of the permuted order. REQUIRES: 0 <= position < size().
  int64_t operator()(int64_t position) const;
  int64_t size() const { return size_; }

 private:
  static constexpr int kRounds = 4;
  uint64_t encrypt(uint64_t x) const;  // one pass of the Feistel network over the full domain

  int64_t size_;
  int half_bits_;
  uint64_t half_mask_;
  std::array<uint64_t, kRounds> round_keys_;
};

}  // namespace symphony
