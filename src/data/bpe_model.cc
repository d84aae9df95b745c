#include "data/bpe_model.h"

#include <algorithm>
#include <fmt/format.h>

#include <functional>

#include "data/byte_level.h"

namespace symphony {
namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

uint64_t pair_hash(uint64_t key) {
  key ^= key >> 31;
  key *= 0x9e3779b97f4a7c15ull;
  return key ^ (key >> 29);
}

// A token's bytes as the error messages show them: the byte-level form of tokenizer files.
std::string shown(std::string_view bytes) { return fmt::format("'{}'", bytes_to_byte_level(bytes)); }

}  // namespace

Result<BpeModel> BpeModel::create(std::vector<std::string> tokens,
                                  std::vector<std::pair<int32_t, int32_t>> merges,
                                  std::vector<SpecialToken> specials) {
  BpeModel m;
  m.token_ids_.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (tokens[id].empty()) continue;
    auto [it, inserted] = m.token_ids_.emplace(tokens[id], static_cast<int32_t>(id));
    if (!inserted) {
      return Error::corrupt("tokens {} and {} are the same bytes {}", it->second, id,
                            shown(tokens[id]));
    }
  }
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    auto it = m.token_ids_.find(byte);
    if (it == m.token_ids_.end()) {
      return Error::corrupt("no token for byte 0x{:02x} {}: a byte-level BPE needs all 256", b,
                            shown(byte));
    }
    m.byte_tokens_[b] = it->second;
  }
  m.special_flags_.assign(tokens.size(), 0);
  for (const SpecialToken& special : specials) {
    if (special.content.empty()) return Error::corrupt("special token {} is empty", special.id);
    if (special.id < 0) {
      return Error::corrupt("special token '{}' has negative id {}", special.content, special.id);
    }
    const auto id = static_cast<size_t>(special.id);
    if (id >= tokens.size()) {
      tokens.resize(id + 1);
      m.special_flags_.resize(id + 1, 0);
    }
    if (!tokens[id].empty() && tokens[id] != special.content) {
      return Error::corrupt("special token '{}' has id {}, which is token {}", special.content,
                            special.id, shown(tokens[id]));
    }
    tokens[id] = special.content;
    m.special_flags_[id] = 1;
  }
  m.tokens_ = std::move(tokens);
  m.specials_ = std::move(specials);

  size_t capacity = 16;
  while (capacity < merges.size() * 2) capacity *= 2;
  m.pair_table_.assign(capacity, PairSlot{});
  m.pair_mask_ = capacity - 1;
  const auto num_vocab = static_cast<int32_t>(m.tokens_.size());
  std::vector<int64_t> last_made_at(m.tokens_.size(), -1);  // [id] last rank whose merge makes it
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [left, right] = merges[rank];
    for (int32_t part : {left, right}) {
      if (part < 0 || part >= num_vocab || m.tokens_[size_t(part)].empty() ||
          m.special_flags_[size_t(part)]) {
        return Error::corrupt("merge {} uses id {}, which is not a token", rank, part);
      }
    }
    const std::string merged = m.tokens_[size_t(left)] + m.tokens_[size_t(right)];
    const int32_t result = m.find_token(merged);
    if (result < 0) {
      return Error::corrupt("merge {} ({} {}) makes {}, which is not in the vocabulary", rank,
                            shown(m.tokens_[size_t(left)]), shown(m.tokens_[size_t(right)]),
                            shown(merged));
    }
    last_made_at[size_t(result)] = int64_t(rank);
    const uint64_t key = pair_key(left, right);
    for (uint64_t slot = pair_hash(key) & m.pair_mask_;; slot = (slot + 1) & m.pair_mask_) {
      PairSlot& s = m.pair_table_[slot];
      if (s.key == key) break;  // a repeated merge keeps its first (lowest) rank
      if (s.key == kEmptyKey) {
        s = PairSlot{key, static_cast<uint32_t>(rank), result};
        break;
      }
    }
  }
  // Ordered: every part of a merge is a byte, or made only by earlier merges. Then a merge's
  // result only takes part in later merges, and the heap of encode_word_heap() merges in GPT-2's
  // order. (A token made at two ranks, one of them after a merge using it, breaks this.)
  std::vector<uint8_t> is_byte(m.tokens_.size(), 0);  // [id]
  for (int b = 0; b < 256; ++b) is_byte[size_t(m.byte_tokens_[b])] = 1;
  for (size_t rank = 0; rank < merges.size() && m.merges_ordered_; ++rank) {
    for (int32_t part : {merges[rank].first, merges[rank].second}) {
      const int64_t made = last_made_at[size_t(part)];
      if (!is_byte[size_t(part)] && (made < 0 || made >= int64_t(rank))) m.merges_ordered_ = false;
    }
  }
  m.merges_ = std::move(merges);
  return m;
}

std::pair<uint32_t, int32_t> BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t slot = pair_hash(key) & pair_mask_;; slot = (slot + 1) & pair_mask_) {
    const PairSlot& s = pair_table_[slot];
    if (s.key == key) return {s.rank, s.result};
    if (s.key == kEmptyKey) return {kNoRank, -1};
  }
}

int32_t BpeModel::find_token(std::string_view bytes) const {
  auto it = token_ids_.find(std::string(bytes));
  return it == token_ids_.end() ? -1 : it->second;
}

bool BpeModel::is_special(int32_t id) const {
  return id >= 0 && size_t(id) < special_flags_.size() && special_flags_[size_t(id)] != 0;
}

void BpeModel::encode_word(std::string_view word, BpeWordScratch& scratch,
                           std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n == 1) {
    out.push_back(byte_tokens_[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (scratch.ids.size() < n) {
    scratch.ids.resize(n);
    scratch.ranks.resize(n);
  }
  for (size_t i = 0; i < n; ++i) scratch.ids[i] = byte_tokens_[static_cast<uint8_t>(word[i])];
  if (n > kLongWordBytes && merges_ordered_) {
    encode_word_heap(n, scratch);
    for (int32_t i = 0; i >= 0; i = scratch.next[size_t(i)]) out.push_back(scratch.ids[size_t(i)]);
    return;
  }
  const size_t len = encode_word_rescan(n, scratch);
  out.insert(out.end(), scratch.ids.begin(), scratch.ids.begin() + std::ptrdiff_t(len));
}

// GPT-2's loop on arrays: ranks[i] caches the rank of (ids[i], ids[i + 1]) and only the pairs
// next to a merge are looked up again. Returns the number of tokens left in s.ids.
size_t BpeModel::encode_word_rescan(size_t n, BpeWordScratch& s) const {
  int32_t* ids = s.ids.data();
  uint32_t* ranks = s.ranks.data();
  std::vector<int32_t>& merged_at = s.next;
  size_t len = n;
  for (size_t i = 0; i + 1 < len; ++i) ranks[i] = find_merge(ids[i], ids[i + 1]).first;
  while (len > 1) {
    uint32_t best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < len; ++i) {
      if (ranks[i] < best) best = ranks[i], at = i;
    }
    if (best == kNoRank) break;
    const int32_t a = ids[at], b = ids[at + 1];
    const int32_t c = find_merge(a, b).second;
    merged_at.clear();
    size_t j = at;
    for (size_t i = at; i < len;) {
      if (i + 1 < len && ids[i] == a && ids[i + 1] == b) {
        ids[j] = c;
        merged_at.push_back(static_cast<int32_t>(j));
        i += 2;
      } else {
        ids[j] = ids[i];
        ranks[j] = ranks[i];
        i += 1;
      }
      ++j;
    }
    len = j;
    for (int32_t p32 : merged_at) {
      const auto p = static_cast<size_t>(p32);
      if (p > 0) ranks[p - 1] = find_merge(ids[p - 1], ids[p]).first;
      if (p + 1 < len) ranks[p] = find_merge(ids[p], ids[p + 1]).first;
    }
  }
  return len;
}

// A min-heap of (rank, position) over a linked list of symbols: O(n log n) for long words. An
// entry is stale when its left symbol was absorbed or its pair changed; the rank, unique per
// pair, identifies the pair.
void BpeModel::encode_word_heap(size_t n, BpeWordScratch& s) const {
  s.prev.resize(n);
  s.next.resize(n);
  int32_t* ids = s.ids.data();
  int32_t* prev = s.prev.data();
  int32_t* next = s.next.data();
  std::vector<uint64_t>& heap = s.heap;
  heap.clear();
  const auto push = [&](int32_t pos, uint32_t rank) {
    if (rank == kNoRank) return;
    heap.push_back((uint64_t(rank) << 32) | uint32_t(pos));
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  for (size_t i = 0; i + 1 < n; ++i) push(int32_t(i), find_merge(ids[i], ids[i + 1]).first);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const uint64_t entry = heap.back();
    heap.pop_back();
    const auto rank = static_cast<uint32_t>(entry >> 32);
    const auto i = static_cast<int32_t>(entry & 0xffffffffu);
    if (ids[i] < 0 || next[i] < 0) continue;
    const int32_t j = next[i];
    const auto [current_rank, merged] = find_merge(ids[i], ids[j]);
    if (current_rank != rank) continue;
    ids[i] = merged;
    ids[j] = -1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) push(prev[i], find_merge(ids[prev[i]], merged).first);
    if (next[i] >= 0) push(i, find_merge(merged, ids[next[i]]).first);
  }
}

namespace ref {

std::vector<int32_t> bpe_encode_word(const BpeModel& model, std::string_view word) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  const auto rank_of = [&](const std::string& a, const std::string& b) {
    return model.find_merge(model.find_token(a), model.find_token(b)).first;
  };
  while (symbols.size() > 1) {
    uint32_t best = BpeModel::kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const uint32_t r = rank_of(symbols[i], symbols[i + 1]);
      if (r < best) best = r, at = i;
    }
    if (best == BpeModel::kNoRank) break;
    const std::string a = symbols[at], b = symbols[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == a && symbols[i + 1] == b) {
        merged.push_back(a + b);
        i += 2;
      } else {
        merged.push_back(symbols[i]);
        i += 1;
      }
    }
    symbols = std::move(merged);
  }
  std::vector<int32_t> ids;
  for (const std::string& s : symbols) ids.push_back(model.find_token(s));
  return ids;
}

}  // namespace ref

}  // namespace symphony
