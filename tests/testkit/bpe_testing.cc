#include "testkit/bpe_testing.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/rng.h"
#include "data/bpe_trainer.h"

namespace symphony::testkit {

std::string sample_text() {
  return "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
         "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it "
         "was the season of Light, it was the season of Darkness, it was the spring of hope, it "
         "was the winter of despair, we had everything before us, we had nothing before us.\n\n"
         "There were a king with a large jaw and a queen with a plain face, on the throne of "
         "England; there were a king with a large jaw and a queen with a fair face, on the throne "
         "of France. In both countries it was clearer than crystal to the lords of the State "
         "preserves of loaves and fishes, that things in general were settled for ever.\n\n"
         "It was the year of Our Lord one thousand seven hundred and seventy-five (1775). "
         "They'd said it's 3.14159 -- or 42%?! -- and we'll see, won't we? I'm sure you've "
         "heard: \"Don't!\"\n"
         "    Indented   text\twith\ttabs  and   runs of    spaces.   \n"
         "Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
         "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x98\x80 "
         "\xd9\xa3\xd9\xa4 x\xc2\xb2\r\n\r\n";
}

BpeModel train_sample_bpe(int64_t vocab_size) {
  BpeTrainOptions options;
  options.vocab_size = vocab_size;
  options.min_pair_count = 1;
  BpeTrainStats stats;
  Result<BpeModel> model =
      train_bpe_from_counts(count_bpe_words(sample_text(), options), options, stats);
  EXPECT_TRUE(model.has_value()) << model.error().message();
  return std::move(model).value();
}

std::string random_bytes(size_t bytes, uint64_t seed) {
  Rng rng(seed);
  std::string text(bytes, '\0');
  for (char& c : text) c = static_cast<char>(rng.next_u64() & 0xff);
  return text;
}

std::filesystem::path make_temp_dir(std::string_view prefix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "_XXXXXX")).string();
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

}  // namespace symphony::testkit
