#include "testkit/markov_tokens.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/rng.h"
#include "data/token_file.h"

namespace symphony::testkit {

void write_markov_tokens(const std::filesystem::path& path, int64_t count, uint64_t seed) {
  auto writer = TokenFileWriter::create(path, TokenFileMeta{64, 63, 0});
  ASSERT_TRUE(writer.has_value()) << writer.error().message();
  Rng rng(seed);
  std::vector<int32_t> tokens;
  int32_t t = 0;
  for (int64_t i = 0; i < count; ++i) {
    tokens.push_back(t);
    int32_t choice = int32_t(rng.next_u64() % 3);
    t = int32_t((t * 7 + 1 + choice * 13) % 63);
  }
  ASSERT_TRUE(writer->append(tokens).is_ok());
  ASSERT_TRUE(writer->close().is_ok());
}

}  // namespace symphony::testkit
