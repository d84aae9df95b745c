#include "data/word_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/rng.h"

namespace symphony {
namespace {

// Words of 1..40 bytes with 1..9 ids: both sides of the 8-byte inline head and the 4 inline ids.
TEST(WordCache, FindsWhatWasInsertedAcrossGrowthAndClearing) {
  Rng rng(17);
  WordCache cache(/*max_entries=*/3000);
  std::map<std::string, std::vector<int32_t>> truth;
  for (int i = 0; i < 20000; ++i) {
    std::string word(1 + rng.next_u64() % 40, 'a');
    for (char& c : word) c = static_cast<char>('a' + rng.next_u64() % 4);
    std::vector<int32_t> out;
    if (cache.find(word, out)) {
      ASSERT_EQ(out, truth.at(word)) << word;
      continue;
    }
    auto [it, is_new] = truth.try_emplace(word);
    if (is_new) {
      for (size_t k = 1 + rng.next_u64() % 9; k > 0; --k)
        it->second.push_back(int32_t(rng.next_u64() % 100000));
    }
    cache.insert(word, it->second.data(), it->second.size());
    ASSERT_LE(cache.size(), 3000u);
  }
  std::vector<int32_t> out = {7};
  EXPECT_FALSE(cache.find("zzzz", out));
  EXPECT_EQ(out, std::vector<int32_t>{7});  // a miss appends nothing
  EXPECT_NE(hash_word(""), 0u);
  EXPECT_NE(hash_word("abcdefgh"), hash_word("abcdefgi"));
}

}  // namespace
}  // namespace symphony
