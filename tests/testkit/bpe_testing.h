#pragma once
// Helpers for the tokenizer tests: sample text, a small trained BPE and scratch directories.

#include <filesystem>
#include <string>
#include <string_view>

#include "data/bpe_model.h"

namespace symphony::testkit {

// A few paragraphs of English prose (public domain), with numbers, contractions, punctuation,
// blank lines, runs of spaces and some non-ASCII text (accents, CJK, Cyrillic, emoji).
std::string sample_text();

// A BPE of `vocab_size` ids trained on sample_text(), with the special token <|endoftext|>.
// Pairs seen once are merged too, so every vocab_size up to 500 is reached.
BpeModel train_sample_bpe(int64_t vocab_size);

// `bytes` random bytes (invalid UTF-8 included) drawn from a seed.
std::string random_bytes(size_t bytes, uint64_t seed);

// A new empty directory under the system's temporary directory.
std::filesystem::path make_temp_dir(std::string_view prefix);

}  // namespace symphony::testkit
