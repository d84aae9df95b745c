#pragma once
// The character classes of the GPT-2 pre-tokenisation regex over UTF-8 bytes: \p{L} (general
// category L*), \p{N} (N*), \s (Unicode White_Space) and everything else. Classes come from ICU's
// character database (libicu); the Basic Multilingual Plane is looked up in a 64 KiB table built
// once, other planes ask ICU.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace symphony {

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

// One code point, or one byte of invalid UTF-8, read at a position of a byte string.
struct Utf8Char {
  CharClass cls;
  uint8_t bytes;  // 1..4: the length of the sequence; 1 for an invalid byte
};

// The class of a code point. Thread-safety: safe to call concurrently.
CharClass char_class(char32_t code_point);

// Decodes the character at text[pos] and classifies it. A byte that does not begin a well-formed
// UTF-8 sequence (a stray continuation byte, a truncated, overlong or surrogate sequence, a code
// point above U+10FFFF) is a character of one byte of class kOther, so every byte string splits
// into characters and nothing is lost. REQUIRES: pos < text.size().
inline Utf8Char utf8_char_at(std::string_view text, size_t pos);

namespace detail {
// The BMP table: class of each code point U+0000..U+FFFF.
const CharClass* bmp_class_table();
Utf8Char utf8_multibyte_char_at(std::string_view text, size_t pos);

// ASCII, inline for the hot loop; a test checks it against ICU.
constexpr CharClass ascii_class(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::kLetter;
  if (c >= '0' && c <= '9') return CharClass::kNumber;
  if (c == ' ' || (c >= '\t' && c <= '\r')) return CharClass::kSpace;
  return CharClass::kOther;
}
}  // namespace detail

inline Utf8Char utf8_char_at(std::string_view text, size_t pos) {
  const auto c = static_cast<unsigned char>(text[pos]);
  if (c < 0x80) return {detail::ascii_class(c), 1};
  return detail::utf8_multibyte_char_at(text, pos);
}

}  // namespace symphony
