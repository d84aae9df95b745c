#include "data/word_cache.h"

#include <algorithm>
#include <cstring>

namespace symphony {

namespace {

// Byte comparison without a library call: cached words are short.
bool same_bytes(const char* a, const char* b, size_t n) {
  for (; n >= 8; a += 8, b += 8, n -= 8) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
  }
  for (; n > 0; ++a, ++b, --n) {
    if (*a != *b) return false;
  }
  return true;
}

// The table starts small, so that encoding a short text does not pay for a large one.
constexpr size_t kInitialSlots = 1024;

}  // namespace

WordCache::WordCache(size_t max_entries) : max_entries_(max_entries) {
  slots_.resize(kInitialSlots);
  mask_ = kInitialSlots - 1;
}

bool WordCache::find(std::string_view word, std::vector<int32_t>& out) const {
  const uint64_t h = hash_word(word);
  const uint64_t head = word_head(word);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.hash == 0) return false;
    if (s.hash != h || s.word_bytes != word.size() || s.head != head) continue;
    if (word.size() > 8 &&
        !same_bytes(words_.data() + s.word_offset, word.data() + 8, word.size() - 8)) {
      continue;
    }
    const int32_t* ids = s.num_ids <= 4 ? s.ids : ids_.data() + s.ids[0];
    for (uint32_t k = 0; k < s.num_ids; ++k) out.push_back(ids[k]);
    return true;
  }
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t n) {
  // Offsets are 32-bit: start over well before they could overflow.
  if (used_ >= max_entries_ || words_.size() > (1u << 30) || ids_.size() > (1u << 30)) clear();
  if (2 * (used_ + 1) > slots_.size()) grow();
  const uint64_t h = hash_word(word);
  uint64_t i = h & mask_;
  while (slots_[i].hash != 0) i = (i + 1) & mask_;
  Slot& s = slots_[i];
  s = Slot{};
  s.hash = h;
  s.head = word_head(word);
  s.word_bytes = static_cast<uint16_t>(word.size());
  s.num_ids = static_cast<uint16_t>(n);
  if (word.size() > 8) {
    s.word_offset = static_cast<uint32_t>(words_.size());
    words_.append(word.substr(8));
  }
  if (n <= 4) {
    std::copy(ids, ids + n, s.ids);
  } else {
    s.ids[0] = static_cast<int32_t>(ids_.size());
    ids_.insert(ids_.end(), ids, ids + n);
  }
  ++used_;
}

void WordCache::grow() { grow_word_table(slots_, mask_); }

void WordCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  words_.clear();
  ids_.clear();
  used_ = 0;
}

}  // namespace symphony
