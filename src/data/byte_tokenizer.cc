#include "data/byte_tokenizer.h"

#include <fmt/format.h>

#include <string>

#include "data/token_file.h"

namespace symphony {

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i) tokens[i] = static_cast<unsigned char>(text[i]);
  return tokens;
}

std::string ByteTokenizer::decode(std::span<const int32_t> tokens) const {
  std::string text;
  text.reserve(tokens.size());
  for (int32_t token : tokens) {
    if (token >= 0 && token < 256) {
      text.push_back(static_cast<char>(static_cast<unsigned char>(token)));
    } else if (token == kEotToken) {
      text.append("\n\n");
    }
  }
  return text;
}

std::string ByteTokenizer::fingerprint() const {
  // Everything that defines the mapping, hashed the same way as token file payloads.
  const std::string definition = fmt::format("bytes:v1:vocab={}:eot={}", kVocabSize, kEotToken);
  return fmt::format("{:016x}", fnv1a64(std::as_bytes(std::span(definition))));
}

}  // namespace symphony
