#pragma once
// Writes one split of a dataset as a sequence of token shards, each with its document index:
// <split>-00000.tok + <split>-00000.idx, <split>-00001.tok + ... (docs/dataset_format.md).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "core/status.h"
#include "data/dataset_manifest.h"
#include "data/doc_index.h"
#include "data/token_file.h"

namespace symphony {

// Documents are never split between shards: a shard is closed at the first document end that
// brings it to shard_tokens tokens or more. Each file goes through a temporary name and is renamed
// once complete (TokenFileWriter, DocIndexWriter), so a file under its final name is whole.
// Failure: I/O errors name the file. Thread-safety: none.
class ShardSetWriter {
 public:
  // REQUIRES: shard_tokens >= 1; `dir` exists.
  ShardSetWriter(std::filesystem::path dir, Split split, TokenFileMeta meta, int64_t shard_tokens);

  Status begin_document();  // REQUIRES: no document open
  Status append(std::span<const int32_t> tokens);  // REQUIRES: a document is open
  Status end_document();  // REQUIRES: a document is open
  // Closes the last shard. A split without documents has no shards.
  Status finish();

  // Counts and shards written so far (complete after finish()).
  const SplitEntry& entry() const { return entry_; }

 private:
  Status open_shard();
  Status close_shard();

  std::filesystem::path dir_;
  Split split_;
  TokenFileMeta meta_;
  int64_t shard_tokens_;
  std::optional<TokenFileWriter> tokens_;
  std::optional<DocIndexWriter> index_;
  int64_t shard_documents_ = 0;
  bool in_document_ = false;
  SplitEntry entry_;
};

}  // namespace symphony
