#pragma once
// One split of a prepared dataset directory (data/prepare.h, docs/dataset_format.md) as a single
// logical token stream: its shards, memory-mapped, in manifest order, concatenated.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset_manifest.h"
#include "data/doc_index.h"
#include "data/token_file.h"
#include "data/tokenizer.h"

namespace symphony {

// Failure modes of open(): kNotFound for a directory without manifest.json or a missing shard;
// kCorrupt for a bad manifest, a truncated shard or index (size against header), a shard whose
// header disagrees with the manifest (tokens, checksum, vocabulary), and, with
// ChecksumCheck::kVerify, a payload or index whose FNV-1a 64 differs from its header — every
// message names the file. Thread-safety: const methods may run concurrently.
class TokenDataset {
 public:
  // Opens `split` of the dataset in `dir`. kVerify reads every shard once to check checksums.
  static Result<TokenDataset> open(const std::filesystem::path& dir, Split split,
                                   ChecksumCheck check = ChecksumCheck::kVerify);
  // A single token file (docs/token_file_format.md) as a one-shard dataset without document
  // index (num_documents() is 0) and without tokenizer fingerprint.
  static Result<TokenDataset> open_token_file(const std::filesystem::path& path,
                                              ChecksumCheck check = ChecksumCheck::kVerify);

  int64_t size() const { return num_tokens_; }  // tokens over all shards
  // Copies tokens [begin, begin + out.size()) of the logical stream, across shard boundaries.
  // REQUIRES: the range lies inside [0, size()).
  void read(int64_t begin, std::span<int32_t> out) const;

  int64_t vocab_size() const { return vocab_size_; }
  int32_t eot_token() const { return eot_token_; }
  int64_t num_shards() const { return static_cast<int64_t>(shards_.size()); }
  int64_t num_documents() const { return num_documents_; }
  // The logical offset of the first token of document d (documents numbered across shards).
  // REQUIRES: 0 <= d < num_documents().
  int64_t document_start(int64_t d) const;

  // The directory (or token file) this was opened from, for messages.
  const std::string& name() const { return name_; }
  // Empty for open_token_file().
  const std::string& tokenizer_name() const { return tokenizer_name_; }
  const std::string& tokenizer_fingerprint() const { return tokenizer_fingerprint_; }

  // Fails (kInvalidArgument) when `tokenizer` is not the one the dataset was prepared with,
  // naming both tokenizers and fingerprints and the manifest. A token file has nothing to compare
  // and passes when its vocabulary fits the tokenizer's.
  Status check_tokenizer(const Tokenizer& tokenizer) const;

 private:
  TokenDataset() = default;
  Status add_shard(TokenFile file, std::optional<DocIndex> index);

  std::string name_;
  std::string tokenizer_name_;
  std::string tokenizer_fingerprint_;
  int64_t vocab_size_ = 0;
  int32_t eot_token_ = 0;
  std::vector<TokenFile> shards_;
  std::vector<DocIndex> indexes_;           // [shard], empty for open_token_file()
  std::vector<int64_t> shard_begin_;        // [shard + 1] logical offset of each shard's start
  std::vector<int64_t> shard_first_doc_;    // [shard + 1] number of documents before the shard
  int64_t num_tokens_ = 0;
  int64_t num_documents_ = 0;
};

}  // namespace symphony
