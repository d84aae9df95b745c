#pragma once
// The tokenizer interface shared by data preparation, sampling prompts and decoding generations.
// Implementations: ByteTokenizer (data/byte_tokenizer.h) and BpeTokenizer (data/bpe_tokenizer.h).
// load_tokenizer() turns a spec string from a config or the command line into one of them.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony {

// Maps text to token ids and back. encode() never emits eot_token: callers insert it between
// documents. decode() of any id sequence succeeds; ids the tokenizer does not know are skipped.
// Thread-safety: all methods are const and may run concurrently.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(std::span<const int32_t> tokens) const = 0;
  // The embedding rows a model needs; may exceed the number of ids in use (padding).
  virtual int64_t vocab_size() const = 0;
  virtual int32_t eot_token() const = 0;
  // A spec that load_tokenizer() accepts to rebuild this tokenizer, e.g. "bytes"; recorded in
  // dataset manifests.
  virtual std::string name() const = 0;
  // 16 lowercase hex digits identifying the exact mapping (vocabulary, merges, special tokens,
  // pre-tokenisation): two tokenizers with equal fingerprints encode every text identically.
  // Dataset manifests record it so a run can refuse data made with another tokenizer.
  virtual std::string fingerprint() const = 0;
};

// Builds the tokenizer a spec names. Specs:
//   "bytes"                     ByteTokenizer
//   PATH                        a Hugging Face tokenizer.json holding a byte-level BPE
//   DIR                         a directory holding tokenizer.json, or GPT-2's encoder.json and
//                               vocab.bpe
//   ENCODER_JSON,VOCAB_BPE      GPT-2's two files
// The spec is kept as the tokenizer's name(). Failure: a spec that is none of these is
// kInvalidArgument listing the forms; a file that does not load gives its loader's error, which
// names the file (data/tokenizer_json.h).
Result<std::unique_ptr<Tokenizer>> load_tokenizer(std::string_view spec);

}  // namespace symphony
