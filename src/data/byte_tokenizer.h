#pragma once
// The tokenizer used until BPE lands: one token per byte.

#include "data/tokenizer.h"

namespace symphony {

// Token b (0..255) is the byte b; 256 is <|endoftext|>. vocab_size() is 320, padded to a multiple
// of 64 so vocabulary-sized GEMMs tile evenly; ids 257..319 are never produced.
// encode/decode round-trip any byte string, invalid UTF-8 included. decode() writes "\n\n" for
// <|endoftext|> and skips ids outside 0..256.
class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr const char* kName = "bytes";
  static constexpr int32_t kEotToken = 256;
  static constexpr int64_t kVocabSize = 320;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> tokens) const override;
  int64_t vocab_size() const override { return kVocabSize; }
  int32_t eot_token() const override { return kEotToken; }
  std::string name() const override { return kName; }
  std::string fingerprint() const override;
};

}  // namespace symphony
