#pragma once
// Byte-level BPE with GPT-2's pre-tokenisation: the tokenizer of GPT-2 and of models trained with
// `symphony tokenizer train`. Files: data/tokenizer_json.h; training: data/bpe_trainer.h.

#include <memory>
#include <string>

#include "data/bpe_model.h"
#include "data/tokenizer.h"

namespace symphony {

class WordCache;

// How encode() treats the text of a special token such as "<|endoftext|>".
enum class SpecialTokenMode {
  kAsText,  // plain text like any other (documents cannot forge a document boundary)
  kMatch,   // each occurrence becomes the special token's id (Hugging Face's behaviour)
};

// encode(): pre-tokenise (data/pretokenize.h), then BPE inside each pre-token, with a WordCache
// per thread for repeated words. Inputs of kParallelMinBytes or more are cut at safe boundaries
// (is_safe_split) and encoded by OpenMP threads; the result is identical to one thread's.
// decode(): the concatenated bytes of the tokens (a special token's content), so
// decode(encode(x)) == x for every byte string x, invalid UTF-8 included; unknown ids are skipped.
// vocab_size(): one past the largest id, rounded up to a multiple of 64 so vocabulary-sized GEMMs
// tile evenly; the padding ids are never produced.
// Thread-safety: immutable; all methods may run concurrently.
class BpeTokenizer final : public Tokenizer {
 public:
  static constexpr size_t kParallelMinBytes = size_t{1} << 20;
  static constexpr int64_t kVocabMultiple = 64;

  // `name` is the load_tokenizer() spec this tokenizer comes from ("" for one not saved yet).
  // The end-of-text token is the special token "<|endoftext|>", else the first special token.
  // Failure: kCorrupt when the model has no special token.
  static Result<std::unique_ptr<BpeTokenizer>> create(BpeModel model, std::string name);

  std::vector<int32_t> encode(std::string_view text) const override;
  // threads: 0 for OpenMP's default, 1 for none.
  std::vector<int32_t> encode(std::string_view text, SpecialTokenMode mode, int threads) const;
  std::string decode(std::span<const int32_t> tokens) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  int32_t eot_token() const override { return eot_token_; }
  std::string name() const override { return name_; }
  std::string fingerprint() const override { return fingerprint_; }

  const BpeModel& model() const { return model_; }

 private:
  BpeTokenizer(BpeModel model, std::string name);
  void encode_segment(std::string_view text, SpecialTokenMode mode, WordCache& cache,
                      BpeWordScratch& scratch, std::vector<int32_t>& out) const;
  void encode_plain(std::string_view text, WordCache& cache, BpeWordScratch& scratch,
                    std::vector<int32_t>& out) const;

  BpeModel model_;
  std::string name_;
  std::string fingerprint_;
  int64_t vocab_size_ = 0;
  int32_t eot_token_ = -1;
  bool specials_contain_newline_ = false;
};

// The fingerprint of a BPE model (Tokenizer::fingerprint()): FNV-1a 64 over the pre-tokenizer's
// name, every token's bytes by id, the merges by rank and the special tokens.
std::string bpe_fingerprint(const BpeModel& model);

}  // namespace symphony
