#pragma once
// Training data with structure to learn, for trainer and checkpoint tests.

#include <cstdint>
#include <filesystem>

namespace symphony::testkit {

// Writes a token file (vocabulary 64, end-of-text 63) of `count` tokens where each token picks its
// successor from 3 candidates determined by the token itself, so the best achievable loss is about
// ln 3 = 1.1 nats while a fresh model starts near ln 64 = 4.2. Fails the current test on error.
void write_markov_tokens(const std::filesystem::path& path, int64_t count, uint64_t seed);

}  // namespace symphony::testkit
