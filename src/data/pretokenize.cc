#include "data/pretokenize.h"

#include <cstring>

#include "data/unicode_class.h"

namespace symphony {
namespace {

// The end of the run of characters of class `cls` that starts at `pos`.
size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    const Utf8Char c = utf8_char_at(text, pos);
    if (c.cls != cls) break;
    pos += c.bytes;
  }
  return pos;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at text[pos] == '\'', or 0.
size_t contraction_bytes(std::string_view text, size_t pos) {
  const size_t left = text.size() - pos;
  if (left < 2) return 0;
  const char a = text[pos + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (left < 3) return 0;
  const char b = text[pos + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

size_t pretoken_end(std::string_view text, size_t pos) {
  const char first = text[pos];
  if (first == '\'') {
    if (size_t n = contraction_bytes(text, pos)) return pos + n;
  }
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional U+0020, then a run of one class.
  size_t start = pos;
  if (first == ' ' && pos + 1 < text.size()) start = pos + 1;
  const Utf8Char c = utf8_char_at(text, start);
  if (c.cls != CharClass::kSpace) return run_end(text, start + c.bytes, c.cls);
  // White space. "\s+(?!\S)": the run, less its last character when a non-space follows it;
  // "\s+": a single white-space character followed by a non-space.
  size_t last = pos;  // start of the last white-space character seen
  size_t end = pos;
  while (end < text.size()) {
    const Utf8Char w = utf8_char_at(text, end);
    if (w.cls != CharClass::kSpace) break;
    last = end;
    end += w.bytes;
  }
  if (end == text.size() || last == pos) return end;
  return last;
}

size_t next_safe_split(std::string_view text, size_t from) {
  if (from == 0) from = 1;
  while (from < text.size()) {
    const void* nl = std::memchr(text.data() + from, '\n', text.size() - from);
    if (nl == nullptr) return text.size();
    const auto pos = static_cast<size_t>(static_cast<const char*>(nl) - text.data());
    if (is_safe_split(text, pos)) return pos;
    from = pos + 1;
  }
  return text.size();
}

}  // namespace symphony
