#pragma once
// A byte-level BPE vocabulary: what tokenizer.json's "model" and "added_tokens" hold, indexed for
// encoding. Tokens are raw byte strings (the byte-to-unicode mapping of data/byte_level.h is only
// a file-format matter); merges are applied by rank inside each pre-token.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace symphony {

struct SpecialToken {
  std::string content;  // matched literally by encode_with_specials(), e.g. "<|endoftext|>"
  int32_t id = 0;
};

// Scratch space for BpeModel::encode_word(), reused across calls to avoid allocating.
struct BpeWordScratch {
  std::vector<int32_t> ids;
  std::vector<uint32_t> ranks;
  std::vector<int32_t> prev, next;
  std::vector<uint64_t> heap;
};

// Thread-safety: immutable after create(); all methods are const and may run concurrently.
class BpeModel {
 public:
  static constexpr uint32_t kNoRank = 0xffffffffu;

  // tokens[id]: the bytes of token id; an empty string marks an unused id. merges[rank]: the pair
  // of token ids merged at that rank; bytes(left) ++ bytes(right) must be a token. specials: ids
  // may be new or equal to a token with the same bytes.
  // Failure (kCorrupt, with the id, rank or bytes at fault): a byte with no single-byte token, two
  // tokens with the same bytes, a merge naming an unknown id or whose result is not a token, a
  // special token with empty content, a negative id or an id used by a different token.
  static Result<BpeModel> create(std::vector<std::string> tokens,
                                 std::vector<std::pair<int32_t, int32_t>> merges,
                                 std::vector<SpecialToken> specials);

  // Appends the tokens of one pre-token (data/pretokenize.h): starting from single bytes, merges
  // the adjacent pair of lowest rank, all its occurrences left to right, until no pair has a rank
  // (GPT-2's bpe()). Words of more than kLongWordBytes bytes use a heap instead of rescanning, which
  // gives the same result whenever a merge's result only takes part in later merges (checked by
  // create(); otherwise the rescanning loop runs for every length). REQUIRES: !word.empty().
  void encode_word(std::string_view word, BpeWordScratch& scratch,
                   std::vector<int32_t>& out) const;

  // One past the largest id in use (tokens and specials).
  int32_t id_limit() const { return static_cast<int32_t>(tokens_.size()); }
  // The bytes decode() writes for id: the token's bytes, a special's content, "" for unused ids.
  const std::string& token_bytes(int32_t id) const { return tokens_[static_cast<size_t>(id)]; }
  int32_t byte_token(uint8_t b) const { return byte_tokens_[b]; }
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }
  const std::vector<SpecialToken>& specials() const { return specials_; }
  // Rank and result of merging (left, right), or {kNoRank, -1}.
  std::pair<uint32_t, int32_t> find_merge(int32_t left, int32_t right) const;
  // The id of the token with these bytes, or -1 (specials are not searched).
  int32_t find_token(std::string_view bytes) const;
  bool is_special(int32_t id) const;
  // True when each merge's parts are bytes or results of earlier merges (see encode_word()).
  bool merges_ordered() const { return merges_ordered_; }

  static constexpr size_t kLongWordBytes = 64;

 private:
  struct PairSlot {
    uint64_t key = kEmptyKey;
    uint32_t rank = kNoRank;
    int32_t result = -1;
  };
  static constexpr uint64_t kEmptyKey = ~0ull;

  size_t encode_word_rescan(size_t n, BpeWordScratch& s) const;
  void encode_word_heap(size_t n, BpeWordScratch& s) const;

  std::vector<std::string> tokens_;  // [id]; specials hold their content
  std::vector<uint8_t> special_flags_;  // [id]
  int32_t byte_tokens_[256] = {};
  std::vector<std::pair<int32_t, int32_t>> merges_;  // [rank]
  std::vector<SpecialToken> specials_;
  std::vector<PairSlot> pair_table_;  // open addressing, power-of-two size
  uint64_t pair_mask_ = 0;
  std::unordered_map<std::string, int32_t> token_ids_;  // bytes -> id, specials excluded
  bool merges_ordered_ = true;
};

namespace ref {
// GPT-2's bpe() as written: symbols as byte strings, the lowest-ranked adjacent pair merged
// everywhere, repeated. The specification encode_word() is tested against.
std::vector<int32_t> bpe_encode_word(const BpeModel& model, std::string_view word);
}  // namespace ref

}  // namespace symphony
