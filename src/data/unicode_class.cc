#include "data/unicode_class.h"

#include <unicode/uchar.h>

#include <array>
#include <memory>

namespace symphony {
namespace {

CharClass icu_char_class(UChar32 c) {
  const uint32_t mask = U_GET_GC_MASK(c);
  if (mask & U_GC_L_MASK) return CharClass::kLetter;
  if (mask & U_GC_N_MASK) return CharClass::kNumber;
  if (u_isUWhiteSpace(c)) return CharClass::kSpace;
  return CharClass::kOther;
}

}  // namespace

namespace detail {

const CharClass* bmp_class_table() {
  // Built on first use (thread-safe static initialisation) and immutable afterwards.
  static const std::unique_ptr<CharClass[]> table = [] {
    auto t = std::make_unique<CharClass[]>(0x10000);
    for (UChar32 c = 0; c < 0x10000; ++c) t[c] = icu_char_class(c);
    return t;
  }();
  return table.get();
}

Utf8Char utf8_multibyte_char_at(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t left = text.size() - pos;
  const unsigned char c = s[0];
  auto cont = [&](size_t i) { return i < left && (s[i] & 0xc0) == 0x80; };
  constexpr Utf8Char kInvalid{CharClass::kOther, 1};
  if (c >= 0xc2 && c <= 0xdf) {
    if (!cont(1)) return kInvalid;
    const char32_t cp = (char32_t(c & 0x1f) << 6) | (s[1] & 0x3f);
    return {bmp_class_table()[cp], 2};
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return kInvalid;
    const char32_t cp = (char32_t(c & 0x0f) << 12) | (char32_t(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return kInvalid;  // overlong, surrogate
    return {bmp_class_table()[cp], 3};
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return kInvalid;
    const char32_t cp = (char32_t(c & 0x07) << 18) | (char32_t(s[1] & 0x3f) << 12) |
                        (char32_t(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    if (cp < 0x10000 || cp > 0x10ffff) return kInvalid;
    return {icu_char_class(static_cast<UChar32>(cp)), 4};
  }
  return kInvalid;  // a continuation byte, 0xc0, 0xc1 or 0xf5..0xff
}

}  // namespace detail

CharClass char_class(char32_t code_point) {
  if (code_point < 0x10000) return detail::bmp_class_table()[code_point];
  return icu_char_class(static_cast<UChar32>(code_point));
}

}  // namespace symphony
