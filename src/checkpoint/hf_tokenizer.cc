#include "checkpoint/hf_tokenizer.h"

#include "data/bpe_tokenizer.h"
#include "data/byte_tokenizer.h"

namespace symphony {

Result<BpeModel> bpe_model_for_hf(const Tokenizer& tokenizer) {
  if (const auto* bpe = dynamic_cast<const BpeTokenizer*>(&tokenizer)) return bpe->model();
  if (dynamic_cast<const ByteTokenizer*>(&tokenizer) != nullptr) {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.emplace_back(1, char(b));
    return BpeModel::create(std::move(tokens), {}, {{"<|endoftext|>", ByteTokenizer::kEotToken}});
  }
  return Error::invalid("tokenizer '{}' has no tokenizer.json form", tokenizer.name());
}

bool is_byte_tokenizer_for_hf(const Tokenizer& tokenizer) {
  if (dynamic_cast<const BpeTokenizer*>(&tokenizer) == nullptr) return false;
  Result<BpeModel> bytes = bpe_model_for_hf(ByteTokenizer());
  return bytes.has_value() && tokenizer.fingerprint() == bpe_fingerprint(*bytes);
}

}  // namespace symphony
