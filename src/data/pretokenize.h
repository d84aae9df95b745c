#pragma once
// GPT-2's pre-tokenisation: the text is cut into pieces ("pre-tokens") by the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// matched repeatedly from the start, and BPE then runs inside each piece. Implemented by hand over
// UTF-8 (classes in data/unicode_class.h); bytes of invalid UTF-8 are characters of class "other",
// so they join punctuation runs and every byte lands in exactly one piece.

#include <cstddef>
#include <string_view>

namespace symphony {

// The end (exclusive) of the pre-token that starts at text[pos]. REQUIRES: pos < text.size().
// Calling it from 0, then from each returned end, cuts `text` exactly as the regex does.
size_t pretoken_end(std::string_view text, size_t pos);

// True when a pre-token always starts at text[pos], whatever comes before or after: text[pos] is
// '\n' and text[pos - 1] an ASCII character that is not white space. No pre-token holds white
// space after a non-space character, so the one holding text[pos - 1] ends there, and matching
// restarts at pos exactly as at the start of a text. Text cut at such positions pre-tokenises
// piecewise exactly as it does whole, so threads can take the pieces.
// REQUIRES: 0 < pos < text.size().
inline bool is_safe_split(std::string_view text, size_t pos) {
  const auto c = static_cast<unsigned char>(text[pos - 1]);
  return text[pos] == '\n' && c < 0x80 && c != ' ' && (c < '\t' || c > '\r');
}

// The first safe split position at or after `from`, or text.size() when there is none.
size_t next_safe_split(std::string_view text, size_t from);

}  // namespace symphony
