#include "data/pretokenize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/rng.h"
#include "data/unicode_class.h"
#include "testkit/bpe_testing.h"

namespace symphony {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = pretoken_end(text, pos);
    EXPECT_GT(end, pos);
    out.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

TEST(Pretokenize, WordsTakeTheirLeadingSpace) {
  EXPECT_THAT(pieces("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(pieces("123abc 42 x"), ElementsAre("123", "abc", " 42", " x"));
  EXPECT_THAT(pieces("end."), ElementsAre("end", "."));
}

TEST(Pretokenize, Contractions) {
  EXPECT_THAT(pieces("don't they'll we've I'm"),
              ElementsAre("don", "'t", " they", "'ll", " we", "'ve", " I", "'m"));
  // Case-sensitive; taken even before more letters, but only where a match starts.
  EXPECT_THAT(pieces("'S 'sam 'sam"), ElementsAre("'", "S", " '", "sam", " '", "sam"));
  EXPECT_THAT(pieces("x'sam"), ElementsAre("x", "'s", "am"));
  EXPECT_THAT(pieces("?!'s"), ElementsAre("?!'", "s"));
}

TEST(Pretokenize, WhiteSpaceRuns) {
  // A run followed by a word leaves its last space to the word.
  EXPECT_THAT(pieces("a  b"), ElementsAre("a", " ", " b"));
  EXPECT_THAT(pieces("a   b"), ElementsAre("a", "  ", " b"));
  // A newline cannot join a word: "\s+(?!\S)" then "\s+".
  EXPECT_THAT(pieces("x\n\ny"), ElementsAre("x", "\n", "\n", "y"));
  EXPECT_THAT(pieces("x \ny"), ElementsAre("x", " ", "\n", "y"));
  // At the end of the text the whole run is one piece.
  EXPECT_THAT(pieces("end   "), ElementsAre("end", "   "));
  EXPECT_THAT(pieces(" "), ElementsAre(" "));
  EXPECT_THAT(pieces("\t\tx"), ElementsAre("\t", "\t", "x"));
}

TEST(Pretokenize, UnicodeClasses) {
  EXPECT_THAT(pieces("h\xc3\xa9llo w\xc3\xb6rld"), ElementsAre("h\xc3\xa9llo", " w\xc3\xb6rld"));
  // CJK letters, Arabic-Indic digits (\p{N}), superscript two (No), an emoji (So).
  EXPECT_THAT(pieces("\xe6\x97\xa5\xe6\x9c\xac \xd9\xa3\xd9\xa4 x\xc2\xb2 \xf0\x9f\x98\x80!"),
              ElementsAre("\xe6\x97\xa5\xe6\x9c\xac", " \xd9\xa3\xd9\xa4", " x", "\xc2\xb2",
                          " \xf0\x9f\x98\x80!"));
  // U+3000 IDEOGRAPHIC SPACE is white space, U+00A0 too.
  EXPECT_THAT(pieces("a\xe3\x80\x80\xc2\xa0" "b"), ElementsAre("a", "\xe3\x80\x80", "\xc2\xa0", "b"));
}

TEST(UnicodeClass, AsciiFastPathAgreesWithIcu) {
  for (int c = 0; c < 128; ++c) {
    EXPECT_EQ(utf8_char_at(std::string(1, char(c)), 0).cls, char_class(char32_t(c))) << c;
  }
  EXPECT_EQ(char_class(U'\u00e9'), CharClass::kLetter);
  EXPECT_EQ(char_class(U'\u0663'), CharClass::kNumber);   // ARABIC-INDIC DIGIT THREE
  EXPECT_EQ(char_class(U'\u2167'), CharClass::kNumber);   // ROMAN NUMERAL EIGHT (Nl)
  EXPECT_EQ(char_class(U'\u0085'), CharClass::kSpace);    // NEXT LINE: Unicode White_Space
  EXPECT_EQ(char_class(U'\u200b'), CharClass::kOther);    // ZERO WIDTH SPACE is not
  EXPECT_EQ(char_class(U'\U0001d400'), CharClass::kLetter);  // MATHEMATICAL BOLD CAPITAL A
  EXPECT_EQ(char_class(U'\U0001f600'), CharClass::kOther);   // an emoji (So)
}

TEST(Pretokenize, InvalidUtf8BytesArePunctuation) {
  EXPECT_THAT(pieces("\xff\xfe abc"), ElementsAre("\xff\xfe", " abc"));
  EXPECT_THAT(pieces("ab\xc3(x"), ElementsAre("ab", "\xc3(", "x"));
  // Overlong "/" (C0 AF), a surrogate (ED A0 80), a truncated sequence at the end.
  EXPECT_THAT(pieces("a\xc0\xaf" "b\xed\xa0\x80 \xe2\x82"),
              ElementsAre("a", "\xc0\xaf", "b", "\xed\xa0\x80", " \xe2\x82"));
}

TEST(Pretokenize, PiecesCoverRandomBytes) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    const std::string text = testkit::random_bytes(5000, seed);
    std::string joined;
    for (const std::string& p : pieces(text)) joined += p;
    EXPECT_EQ(joined, text);
  }
}

TEST(Pretokenize, SafeSplitsDoNotChangeThePieces) {
  Rng rng(7);
  const char* alphabet[] = {"a", "b", " ", "\n", "\n\n", "'s", ".", "1", "\t", "\xc3\xa9", "  "};
  std::string text;
  for (int i = 0; i < 20000; ++i) text += alphabet[rng.next_u64() % std::size(alphabet)];
  const std::vector<std::string> whole = pieces(text);
  std::vector<std::string> split;
  size_t begin = 0, cuts = 0;
  while (begin < text.size()) {
    const size_t end = next_safe_split(text, begin + 50);
    for (std::string& p : pieces(std::string_view(text).substr(begin, end - begin)))
      split.push_back(std::move(p));
    begin = end;
    ++cuts;
  }
  EXPECT_GT(cuts, 100u);
  EXPECT_EQ(split, whole);
}

}  // namespace
}  // namespace symphony
