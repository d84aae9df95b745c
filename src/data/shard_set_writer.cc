#include "data/shard_set_writer.h"

#include "core/check.h"

namespace symphony {

ShardSetWriter::ShardSetWriter(std::filesystem::path dir, Split split, TokenFileMeta meta,
                               int64_t shard_tokens)
    : dir_(std::move(dir)), split_(split), meta_(meta), shard_tokens_(shard_tokens) {
  SYM_CHECK(shard_tokens >= 1, "shard_tokens {}", shard_tokens);
}

Status ShardSetWriter::open_shard() {
  const std::string stem = fmt::format("{}-{:05d}", split_name(split_), entry_.shards.size());
  SYM_TRY_ASSIGN(TokenFileWriter tokens, TokenFileWriter::create(dir_ / (stem + ".tok"), meta_));
  SYM_TRY_ASSIGN(DocIndexWriter index, DocIndexWriter::create(dir_ / (stem + ".idx")));
  tokens_.emplace(std::move(tokens));
  index_.emplace(std::move(index));
  shard_documents_ = 0;
  return Status::ok();
}

Status ShardSetWriter::close_shard() {
  const int64_t num_tokens = tokens_->num_tokens();
  SYM_TRY(tokens_->close());
  SYM_TRY(index_->close(num_tokens));
  ShardEntry shard;
  shard.path = tokens_->path().filename().string();
  shard.index_path = shard.path.substr(0, shard.path.size() - 4) + ".idx";
  shard.tokens = num_tokens;
  shard.documents = shard_documents_;
  shard.checksum = tokens_->checksum();
  shard.index_checksum = index_->checksum();
  entry_.shards.push_back(std::move(shard));
  tokens_.reset();
  index_.reset();
  return Status::ok();
}

Status ShardSetWriter::begin_document() {
  SYM_CHECK(!in_document_, "begin_document inside a document");
  if (!tokens_) SYM_TRY(open_shard());
  SYM_TRY(index_->append(tokens_->num_tokens()));
  in_document_ = true;
  ++shard_documents_;
  ++entry_.documents;
  return Status::ok();
}

Status ShardSetWriter::append(std::span<const int32_t> tokens) {
  SYM_CHECK(in_document_, "append outside a document");
  SYM_TRY(tokens_->append(tokens));
  entry_.tokens += static_cast<int64_t>(tokens.size());
  return Status::ok();
}

Status ShardSetWriter::end_document() {
  SYM_CHECK(in_document_, "end_document outside a document");
  in_document_ = false;
  if (tokens_->num_tokens() >= shard_tokens_) SYM_TRY(close_shard());
  return Status::ok();
}

Status ShardSetWriter::finish() {
  SYM_CHECK(!in_document_, "finish inside a document");
  if (tokens_) SYM_TRY(close_shard());
  return Status::ok();
}

}  // namespace symphony
