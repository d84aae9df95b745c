#include "data/byte_level.h"

#include <array>

namespace symphony {
namespace {

struct ByteLevelTables {
  std::array<char32_t, 256> to_unicode{};
  std::array<int16_t, 324> to_byte{};  // [code point], -1 where no byte maps; all are < 324
};

ByteLevelTables make_tables() {
  ByteLevelTables t;
  t.to_byte.fill(-1);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
    t.to_unicode[b] = printable ? char32_t(b) : next++;
    t.to_byte[t.to_unicode[b]] = static_cast<int16_t>(b);
  }
  return t;
}

const ByteLevelTables& tables() {
  static const ByteLevelTables t = make_tables();
  return t;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {  // every mapped code point is below U+0800
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

char32_t byte_to_unicode(uint8_t b) { return tables().to_unicode[b]; }

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, tables().to_unicode[static_cast<uint8_t>(c)]);
  return out;
}

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto& to_byte = tables().to_byte;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    char32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xe0) == 0xc0 && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xc0) == 0x80) {
      cp = (char32_t(c & 0x1f) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3f);
      if (cp < 0x80) return std::nullopt;  // overlong
      i += 2;
    } else {
      return std::nullopt;  // longer sequences encode code points above U+07FF: never mapped
    }
    if (cp >= to_byte.size() || to_byte[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(to_byte[cp]));
  }
  return out;
}

}  // namespace symphony
