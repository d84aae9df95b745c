#include "data/word_cache.h"

#include <algorithm>
#include <cstring>

namespace symphony {

uint64_t hash_word(std::string_view word) {
  const char* p = word.data();
  size_t n = word.size();
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
  }
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h == 0 ? 1 : h;
}

WordCache::WordCache(size_t max_entries) : max_entries_(max_entries) {
  size_t capacity = 16;
  while (capacity < max_entries * 2) capacity *= 2;
  slots_.resize(capacity);
  mask_ = capacity - 1;
}

bool WordCache::find(std::string_view word, std::vector<int32_t>& out) const {
  const uint64_t h = hash_word(word);
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.hash == 0) return false;
    if (s.hash == h && s.word_bytes == word.size() &&
        std::memcmp(words_.data() + s.word_offset, word.data(), word.size()) == 0) {
      out.insert(out.end(), ids_.begin() + s.ids_offset, ids_.begin() + s.ids_offset + s.num_ids);
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t n) {
  // Offsets are 32-bit: start over well before they could overflow.
  if (used_ >= max_entries_ || words_.size() > (1u << 30) || ids_.size() > (1u << 30)) clear();
  const uint64_t h = hash_word(word);
  uint64_t i = h & mask_;
  while (slots_[i].hash != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{h, static_cast<uint32_t>(words_.size()), static_cast<uint32_t>(ids_.size()),
                   static_cast<uint16_t>(word.size()), static_cast<uint16_t>(n)};
  words_.append(word);
  ids_.insert(ids_.end(), ids, ids + n);
  ++used_;
}

void WordCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  words_.clear();
  ids_.clear();
  used_ = 0;
}

}  // namespace symphony
