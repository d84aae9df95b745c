#pragma once
// GPT-2's byte-to-unicode mapping: each byte becomes one printable code point, so that a token's
// bytes can be written as a JSON string (vocab.json, merges, tokenizer.json). Printable bytes
// '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF map to themselves; the other 68 bytes, in increasing
// order, map to U+0100, U+0101, … (the space 0x20 becomes 'Ġ' U+0120, '\n' becomes 'Ċ' U+010A).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace symphony {

// The code point that stands for byte b.
char32_t byte_to_unicode(uint8_t b);

// Raw bytes -> their mapped code points, UTF-8 encoded.
std::string bytes_to_byte_level(std::string_view bytes);

// The inverse: a UTF-8 string of mapped code points -> the raw bytes. std::nullopt when the text
// is not valid UTF-8 or holds a code point that no byte maps to.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace symphony
