#pragma once
// Pieces shared by the open-addressing tables keyed by words (WordCache, the trainer's counts):
// the word hash, the inline first 8 bytes of a word, and doubling a table.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace symphony {

// A 64-bit hash of a short string, never 0 (tables use 0 for an empty slot).
uint64_t hash_word(std::string_view word);

// The first 8 bytes of `word`, zero-padded, as one integer for a quick comparison.
inline uint64_t word_head(std::string_view word) {
  uint64_t head = 0;
  std::memcpy(&head, word.data(), std::min<size_t>(word.size(), 8));
  return head;
}

// Doubles a linear-probing table of slots whose `hash` member is 0 when empty, and updates the
// mask (size - 1). REQUIRES: slots.size() is a power of two.
template <typename Slot>
void grow_word_table(std::vector<Slot>& slots, uint64_t& mask) {
  std::vector<Slot> old(slots.size() * 2);
  old.swap(slots);
  mask = slots.size() - 1;
  for (const Slot& s : old) {
    if (s.hash == 0) continue;
    uint64_t i = s.hash & mask;
    while (slots[i].hash != 0) i = (i + 1) & mask;
    slots[i] = s;
  }
}

}  // namespace symphony
