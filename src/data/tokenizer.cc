#include "data/tokenizer.h"

#include <memory>

#include "data/byte_tokenizer.h"

namespace symphony {

Result<std::unique_ptr<Tokenizer>> load_tokenizer(std::string_view spec) {
  if (spec == ByteTokenizer::kName) {
    return std::unique_ptr<Tokenizer>(std::make_unique<ByteTokenizer>());
  }
  return Error::invalid("unknown tokenizer '{}'; available: {}", spec, ByteTokenizer::kName);
}

}  // namespace symphony
