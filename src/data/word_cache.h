#pragma once
// A bounded cache of pre-token -> token ids, so that words repeated in a text are merged once.
// Open addressing over flat arrays; when it holds max_entries words it is emptied and refills,
// which keeps memory bounded (at most 160 bytes of table per entry, plus the bytes of words longer
// than 8 and the ids of words of more than 4 tokens) without eviction bookkeeping. The table
// starts at 1024 slots and doubles as it fills. Thread-safety: none; use one per thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/word_table.h"

namespace symphony {

class WordCache {
 public:
  explicit WordCache(size_t max_entries = size_t{1} << 16);

  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool find(std::string_view word, std::vector<int32_t>& out) const;
  // Remembers ids[0..n) for `word`. REQUIRES: word is not cached; word.size() <= 65535.
  void insert(std::string_view word, const int32_t* ids, size_t n);
  size_t size() const { return used_; }

 private:
  // 40 bytes: words of up to 8 bytes and up to 4 ids are compared and copied from the slot
  // alone, without touching words_ or ids_ (one cache miss per lookup instead of three).
  struct Slot {
    uint64_t hash = 0;  // 0: empty
    uint64_t head = 0;  // the word's first 8 bytes, zero-padded
    uint32_t word_offset = 0;  // the bytes after the first 8, in words_
    uint16_t word_bytes = 0;
    uint16_t num_ids = 0;
    int32_t ids[4] = {};  // the ids when num_ids <= 4, else ids[0] is their offset in ids_
  };
  void grow();
  void clear();

  size_t max_entries_;
  std::vector<Slot> slots_;
  uint64_t mask_;
  std::string words_;
  std::vector<int32_t> ids_;
  size_t used_ = 0;
};

}  // namespace symphony
