#pragma once
// Trains a byte-level BPE (GPT-2 pre-tokenisation) from text files, in two phases:
//  1. Counting: files are read in blocks cut at safe split points (data/pretokenize.h); OpenMP
//     threads pre-tokenise the blocks of a batch and count pre-tokens in their own hash maps, which
//     are then merged shard by shard into one table. Memory is bounded by max_words: when the
//     table holds more distinct words, the rarest are dropped until at most max_words / 2 remain
//     (ties at the cut-off count are dropped together), and counting goes on. Words that are
//     frequent anywhere in the corpus keep exact or nearly exact counts; words dropped while rare
//     lose the occurrences counted so far (lossy counting). Special tokens are cut out of the text
//     and never counted; pre-tokens longer than max_word_bytes are skipped.
//  2. Merging: every word starts as its bytes (token id = byte value). Pair counts (weighted by
//     word counts) and, per pair, the words holding it are built once; a max-heap of (count, pair)
//     with lazy deletion picks the most frequent pair, ties going to the smaller (left id, right
//     id). Merging it rewrites only the words that hold it and updates the counts of the pairs
//     around each occurrence, so each merge costs the occurrences it touches, not a recount.
// The result: ids 0..255 are the bytes, 256.. the merges in order, then the special tokens.
// docs/tokenizer.md describes the algorithm and the memory bound.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "data/bpe_model.h"

namespace symphony {

struct BpeTrainOptions {
  int64_t vocab_size = 8192;  // ids in the result, special tokens included; >= 256 + specials
  std::vector<std::string> special_tokens = {"<|endoftext|>"};  // ids after the merges
  int64_t min_pair_count = 2;  // merging stops when the most frequent pair is rarer than this
  int64_t max_words = 4'000'000;  // distinct pre-tokens kept while counting (memory bound)
  size_t max_word_bytes = 256;    // longer pre-tokens are not counted
  int threads = 0;                // 0: OpenMP's default
  size_t block_bytes = size_t{4} << 20;  // bytes read per block; each thread counts whole blocks
};

struct BpeTrainStats {
  int64_t files = 0;
  int64_t input_bytes = 0;
  int64_t words = 0;           // pre-tokens counted
  int64_t long_words = 0;      // pre-tokens skipped for being longer than max_word_bytes
  int64_t distinct_words = 0;  // in the final table
  int64_t prunings = 0;        // times the table was cut back to max_words / 2
  int64_t pruned_words = 0;    // distinct words dropped by those cuts
  int64_t merges = 0;
  double count_s = 0;
  double merge_s = 0;
};

// Word -> count, in no particular order.
using WordCounts = std::vector<std::pair<std::string, int64_t>>;

// Phase 1 over files and directories (read recursively, files in name order).
// Failure: a missing or unreadable input, naming the path.
Result<WordCounts> count_bpe_words(std::span<const std::filesystem::path> inputs,
                                   const BpeTrainOptions& options, BpeTrainStats& stats);

// Phase 1 on text in memory, single-threaded; for tests and small inputs.
WordCounts count_bpe_words(std::string_view text, const BpeTrainOptions& options);

// Phase 2. Failure: kInvalidArgument when vocab_size < 256 + special tokens, or a special token is
// empty or repeated.
Result<BpeModel> train_bpe_from_counts(const WordCounts& counts, const BpeTrainOptions& options,
                                       BpeTrainStats& stats);

// Both phases.
Result<BpeModel> train_bpe(std::span<const std::filesystem::path> inputs,
                           const BpeTrainOptions& options, BpeTrainStats& stats);

}  // namespace symphony
