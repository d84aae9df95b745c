#include "data/bpe_trainer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "core/file_io.h"
#include "core/timer.h"
#include "data/pretokenize.h"
#include "data/word_table.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

// Word -> count, open addressing over flat arrays; one hash per word, computed by the caller.
// A slot holds the word's first 8 bytes, so most English words are compared without touching
// the arena of longer words' tails.
class CountTable {
 public:
  CountTable() { reset(256); }

  void add(std::string_view word, uint64_t hash, int64_t count) {
    if (2 * (used_ + 1) > slots_.size()) grow();
    const uint64_t head = word_head(word);
    for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.hash == 0) {
        s = Slot{hash, head, count, static_cast<uint32_t>(tails_.size()),
                 static_cast<uint32_t>(word.size())};
        if (word.size() > 8) tails_.append(word.substr(8));
        ++used_;
        return;
      }
      if (s.hash == hash && s.bytes == word.size() && s.head == head &&
          (word.size() <= 8 || tails_.compare(s.tail_offset, word.size() - 8, word.substr(8)) == 0)) {
        s.count += count;
        return;
      }
    }
  }

  size_t size() const { return used_; }

  // Calls f(word, hash, count) for every entry.
  template <typename F>
  void for_each(F&& f) const {
    std::string word;
    for (const Slot& s : slots_) {
      if (s.hash == 0) continue;
      word.assign(reinterpret_cast<const char*>(&s.head), std::min<size_t>(s.bytes, 8));
      if (s.bytes > 8) word.append(tails_, s.tail_offset, s.bytes - 8);
      f(std::string_view(word), s.hash, s.count);
    }
  }

  void clear() { reset(256); }

  // Keeps the entries whose count is above `threshold`; returns how many were dropped.
  size_t drop_at_most(int64_t threshold) {
    CountTable kept;
    for_each([&](std::string_view w, uint64_t h, int64_t c) {
      if (c > threshold) kept.add(w, h, c);
    });
    const size_t dropped = used_ - kept.used_;
    *this = std::move(kept);
    return dropped;
  }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty (hash_word never returns 0)
    uint64_t head = 0;  // the first 8 bytes, zero-padded
    int64_t count = 0;
    uint32_t tail_offset = 0;  // bytes after the first 8, in tails_
    uint32_t bytes = 0;
  };

  void reset(size_t capacity) {
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    tails_.clear();
    used_ = 0;
  }

  void grow() { grow_word_table(slots_, mask_); }

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::string tails_;
  size_t used_ = 0;
};

// The count table is split by the top bits of the word hash, so that merging per-thread tables
// into it runs in parallel, one shard per task.
constexpr int kShardBits = 6;
constexpr size_t kShards = size_t{1} << kShardBits;
size_t shard_of(uint64_t hash) { return size_t(hash >> (64 - kShardBits)); }

struct ShardedCounts {
  std::vector<CountTable> shards = std::vector<CountTable>(kShards);
  size_t size() const {
    size_t n = 0;
    for (const CountTable& m : shards) n += m.size();
    return n;
  }
};

struct BlockCounts {
  int64_t words = 0;
  int64_t long_words = 0;
};

// Counts the pre-tokens of `text`, skipping the special tokens' text.
void count_text(std::string_view text, const BpeTrainOptions& options, ShardedCounts& counts,
                BlockCounts& block) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t stop = text.size(), skip = 0;
    for (const std::string& special : options.special_tokens) {
      const size_t at = text.find(special, pos);
      if (at < stop || (at == stop && special.size() > skip)) stop = at, skip = special.size();
    }
    while (pos < stop) {
      const size_t end = pretoken_end(text.substr(0, stop), pos);
      const std::string_view word = text.substr(pos, end - pos);
      pos = end;
      ++block.words;
      if (word.size() > options.max_word_bytes) {
        ++block.long_words;
        continue;
      }
      const uint64_t hash = hash_word(word);
      counts.shards[shard_of(hash)].add(word, hash, 1);
    }
    pos = stop + skip;
  }
}

// Drops the rarest words until at most max_words / 2 remain.
void prune(ShardedCounts& table, const BpeTrainOptions& options, BpeTrainStats& stats) {
  std::vector<int64_t> counts;
  counts.reserve(table.size());
  for (const CountTable& m : table.shards)
    m.for_each([&](std::string_view, uint64_t, int64_t count) { counts.push_back(count); });
  const size_t keep = size_t(options.max_words / 2);
  // Every word with a count <= the threshold goes: the keep-th largest count's value.
  std::nth_element(counts.begin(), counts.begin() + std::ptrdiff_t(keep), counts.end(),
                   std::greater<>());
  const int64_t threshold = counts[keep];
  int64_t dropped = 0;
  for (CountTable& m : table.shards) dropped += int64_t(m.drop_at_most(threshold));
  stats.prunings += 1;
  stats.pruned_words += dropped;
}

// Reads a file in pieces of at most max_bytes that end at a safe split point or at the end of
// the file.
class PieceReader {
 public:
  explicit PieceReader(fs::path path) : path_(std::move(path)) {}
  ~PieceReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  PieceReader(const PieceReader&) = delete;
  PieceReader& operator=(const PieceReader&) = delete;

  Status open() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return os_error("opening", path_, errno);
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) size_hint_ = size_t(st.st_size);
    return Status::ok();
  }

  // Appends the next piece to `out` (nothing when `out` holds text and no safe split point is in
  // reach); sets `done` when the file is exhausted.
  Status append_next(std::string& out, size_t max_bytes, bool& done) {
    std::string& piece = carry_;
    done = false;
    while (piece.size() < max_bytes && !eof_) {
      const size_t old = piece.size();
      // Regular files: read what is left (no zero-filling beyond it); pipes: 1 MiB at a time.
      const size_t want = std::min(max_bytes - old, size_hint_ > read_ ? size_hint_ - read_ + 1
                                                                       : size_t{1} << 20);
      piece.resize(old + want);
      const ssize_t n = ::read(fd_, piece.data() + old, want);
      if (n < 0 && errno == EINTR) {
        piece.resize(old);
        continue;
      }
      if (n < 0) return os_error("reading", path_, errno);
      piece.resize(old + size_t(n));
      read_ += size_t(n);
      if (n == 0) eof_ = true;
    }
    size_t cut = piece.size();
    if (eof_) {
      done = true;
    } else {
      // The last safe split point; with none, nothing goes into a block that already holds text,
      // and an empty block takes the whole piece (one blurred cut rather than unbounded memory).
      size_t pos = piece.size() - 1;
      while (pos > 0 && !is_safe_split(piece, pos)) --pos;
      if (pos > 0) {
        cut = pos;
      } else if (!out.empty()) {
        cut = 0;
      }
    }
    out.append(piece, 0, cut);
    piece.erase(0, cut);
    return Status::ok();
  }

 private:
  fs::path path_;
  int fd_ = -1;
  size_t size_hint_ = 0;
  size_t read_ = 0;
  bool eof_ = false;
  std::string carry_;
};

// The text one thread counts in a batch: pieces of one or more files, counted separately so that
// no pre-token spans two files.
struct Block {
  std::string text;
  std::vector<size_t> ends;  // [piece] end offset in text
};

Result<std::vector<fs::path>> expand_inputs(std::span<const fs::path> inputs) {
  std::vector<fs::path> files;
  for (const fs::path& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<fs::path> found;
      for (fs::recursive_directory_iterator it(input, ec), end; !ec && it != end;
           it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path());
      }
      if (ec) return os_error("listing", input, ec.value());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      files.push_back(input);
    } else {
      return Error::not_found("training input {} does not exist", input.string());
    }
  }
  return files;
}

}  // namespace

WordCounts count_bpe_words(std::string_view text, const BpeTrainOptions& options) {
  ShardedCounts counts;
  BlockCounts block;
  count_text(text, options, counts, block);
  WordCounts out;
  for (const CountTable& m : counts.shards)
    m.for_each([&](std::string_view w, uint64_t, int64_t c) { out.emplace_back(w, c); });
  return out;
}

Result<WordCounts> count_bpe_words(std::span<const fs::path> inputs,
                                   const BpeTrainOptions& options, BpeTrainStats& stats) {
  Timer timer;
  SYM_TRY_ASSIGN(std::vector<fs::path> files, expand_inputs(inputs));
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  std::vector<ShardedCounts> local(static_cast<size_t>(threads));
  std::vector<BlockCounts> local_stats(static_cast<size_t>(threads));
  ShardedCounts table;
  std::vector<Block> blocks(static_cast<size_t>(threads));
  size_t file_index = 0;
  std::unique_ptr<PieceReader> reader;
  while (file_index < files.size()) {
    // Fill up to `threads` blocks of about block_bytes each, then count them in parallel.
    size_t filled = 0;
    for (; filled < blocks.size() && file_index < files.size(); ++filled) {
      Block& block = blocks[filled];
      block.text.clear();
      block.ends.clear();
      while (block.text.size() < options.block_bytes && file_index < files.size()) {
        if (!reader) {
          reader = std::make_unique<PieceReader>(files[file_index]);
          SYM_TRY(reader->open());
          ++stats.files;
        }
        bool done = false;
        const size_t before = block.text.size();
        SYM_TRY(reader->append_next(block.text, options.block_bytes - before, done));
        stats.input_bytes += int64_t(block.text.size() - before);
        if (block.text.size() > before) block.ends.push_back(block.text.size());
        if (done) {
          reader.reset();
          ++file_index;
        } else if (block.text.size() == before) {
          break;  // the block is full up to the next safe split point
        }
      }
    }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (size_t b = 0; b < filled; ++b) {
      const auto t = size_t(omp_get_thread_num());
      size_t begin = 0;
      for (size_t end : blocks[b].ends) {
        count_text(std::string_view(blocks[b].text).substr(begin, end - begin), options, local[t],
                   local_stats[t]);
        begin = end;
      }
    }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (size_t s = 0; s < kShards; ++s) {
      CountTable& into = table.shards[s];
      for (ShardedCounts& l : local) {
        l.shards[s].for_each([&](std::string_view w, uint64_t h, int64_t c) { into.add(w, h, c); });
        l.shards[s].clear();
      }
    }
    if (int64_t(table.size()) > options.max_words) prune(table, options, stats);
  }
  for (const BlockCounts& b : local_stats) {
    stats.words += b.words;
    stats.long_words += b.long_words;
  }
  WordCounts out;
  out.reserve(table.size());
  for (CountTable& m : table.shards) {
    m.for_each([&](std::string_view w, uint64_t, int64_t c) { out.emplace_back(w, c); });
    m.clear();
  }
  stats.distinct_words = int64_t(out.size());
  stats.count_s = timer.elapsed_s();
  return out;
}

namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

struct PairInfo {
  int64_t count = 0;
  std::vector<uint32_t> words;  // words that held the pair when it was counted; may be stale
};

struct HeapEntry {
  int64_t count;
  uint64_t key;
  // std::push_heap keeps the largest on top: the higher count, then the smaller pair.
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : key > o.key;
  }
};

// The merge loop's state: words as symbol ids, pair counts, and the heap of candidates.
class Merger {
 public:
  explicit Merger(const WordCounts& counts) {
    words_.reserve(counts.size());
    weights_.reserve(counts.size());
    for (const auto& [word, count] : counts) {
      if (word.size() < 2) continue;  // no pairs
      std::vector<int32_t> ids(word.size());
      for (size_t i = 0; i < word.size(); ++i) ids[i] = static_cast<unsigned char>(word[i]);
      words_.push_back(std::move(ids));
      weights_.push_back(count);
    }
    last_merge_.assign(words_.size(), -1);
    for (size_t w = 0; w < words_.size(); ++w) {
      const std::vector<int32_t>& s = words_[w];
      for (size_t i = 0; i + 1 < s.size(); ++i) add(pair_key(s[i], s[i + 1]), weights_[w], w);
    }
    heap_.reserve(pairs_.size());
    for (const auto& [key, info] : pairs_) heap_.push_back({info.count, key});
    std::make_heap(heap_.begin(), heap_.end());
  }

  // The most frequent pair and its count, removed from the candidates; {0, 0} when none is left.
  HeapEntry pop_best() {
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end());
      const HeapEntry top = heap_.back();
      heap_.pop_back();
      auto it = pairs_.find(top.key);
      const int64_t current = it == pairs_.end() ? 0 : it->second.count;
      if (current == top.count) return top;
      if (current > 0) push({current, top.key});  // the entry was stale: requeue at its count
    }
    return {0, 0};
  }

  // Replaces every occurrence of the pair `key` with token `merged`.
  void merge(uint64_t key, int32_t merged) {
    const auto a = int32_t(key >> 32), b = int32_t(key & 0xffffffffu);
    auto it = pairs_.find(key);
    std::vector<uint32_t> holders = std::move(it->second.words);
    pairs_.erase(it);
    merged_key_ = key;
    touched_.clear();
    ++merges_done_;
    for (uint32_t w : holders) {
      if (last_merge_[w] == merges_done_) continue;  // listed twice
      last_merge_[w] = merges_done_;
      std::vector<int32_t>& s = words_[w];
      const int64_t weight = weights_[w];
      size_t j = 0;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          // The left neighbour is already rewritten (it may be `merged`), the right one not yet:
          // processing occurrences left to right keeps every pair count exact.
          if (j > 0) {
            remove(pair_key(s[j - 1], a), weight);
            add(pair_key(s[j - 1], merged), weight, w);
          }
          if (i + 2 < s.size()) {
            remove(pair_key(b, s[i + 2]), weight);
            add(pair_key(merged, s[i + 2]), weight, w);
          }
          s[j++] = merged;
          i += 2;
        } else {
          s[j++] = s[i++];
        }
      }
      s.resize(j);
    }
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    for (uint64_t k : touched_) {
      auto t = pairs_.find(k);
      if (t != pairs_.end() && t->second.count > 0) push({t->second.count, k});
    }
  }

 private:
  void add(uint64_t key, int64_t weight, size_t w) {
    PairInfo& info = pairs_[key];
    info.count += weight;
    if (info.words.empty() || info.words.back() != uint32_t(w)) info.words.push_back(uint32_t(w));
    touched_.push_back(key);
  }
  void remove(uint64_t key, int64_t weight) {
    if (key == merged_key_) return;  // its entry is gone: every occurrence is being merged
    pairs_[key].count -= weight;
  }
  void push(HeapEntry e) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end());
  }

  std::vector<std::vector<int32_t>> words_;  // [word] symbol ids
  std::vector<int64_t> weights_;             // [word] occurrences in the corpus
  std::vector<int64_t> last_merge_;          // [word] the number of the last merge applied to it
  std::unordered_map<uint64_t, PairInfo> pairs_;
  std::vector<HeapEntry> heap_;
  std::vector<uint64_t> touched_;
  uint64_t merged_key_ = ~0ull;
  int64_t merges_done_ = 0;
};

}  // namespace

Result<BpeModel> train_bpe_from_counts(const WordCounts& counts, const BpeTrainOptions& options,
                                       BpeTrainStats& stats) {
  Timer timer;
  const auto num_specials = int64_t(options.special_tokens.size());
  if (options.vocab_size < 256 + num_specials) {
    return Error::invalid("vocab_size {} is too small: the 256 bytes and {} special tokens need {}",
                          options.vocab_size, num_specials, 256 + num_specials);
  }
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    const std::string& s = options.special_tokens[i];
    if (s.empty()) return Error::invalid("special token {} is empty", i);
    if (std::find(options.special_tokens.begin(), options.special_tokens.begin() + ptrdiff_t(i),
                  s) != options.special_tokens.begin() + ptrdiff_t(i)) {
      return Error::invalid("special token '{}' is given twice", s);
    }
  }
  std::vector<std::string> tokens(256);
  for (int b = 0; b < 256; ++b) tokens[size_t(b)] = std::string(1, static_cast<char>(b));
  std::unordered_map<std::string, int32_t> ids;  // bytes -> id of the merged tokens
  std::vector<std::pair<int32_t, int32_t>> merges;
  const int64_t max_tokens = options.vocab_size - num_specials;
  Merger merger(counts);
  while (int64_t(tokens.size()) < max_tokens) {
    const HeapEntry best = merger.pop_best();
    if (best.count < std::max<int64_t>(options.min_pair_count, 1)) break;
    const auto a = int32_t(best.key >> 32), b = int32_t(best.key & 0xffffffffu);
    // Two pairs can spell the same bytes ("ab" "c" and "a" "bc"): both merges make one token.
    auto [it, is_new] = ids.emplace(tokens[size_t(a)] + tokens[size_t(b)], int32_t(tokens.size()));
    if (is_new) tokens.push_back(it->first);
    merges.emplace_back(a, b);
    merger.merge(best.key, it->second);
  }
  stats.merges = int64_t(merges.size());
  std::vector<SpecialToken> specials;
  for (const std::string& content : options.special_tokens) {
    specials.push_back({content, int32_t(tokens.size() + specials.size())});
  }
  Result<BpeModel> model =
      BpeModel::create(std::move(tokens), std::move(merges), std::move(specials));
  stats.merge_s = timer.elapsed_s();
  return model;
}

Result<BpeModel> train_bpe(std::span<const fs::path> inputs, const BpeTrainOptions& options,
                           BpeTrainStats& stats) {
  SYM_TRY_ASSIGN(WordCounts counts, count_bpe_words(inputs, options, stats));
  return train_bpe_from_counts(counts, options, stats);
}

}  // namespace symphony
