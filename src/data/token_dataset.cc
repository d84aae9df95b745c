#include "data/token_dataset.h"

#include <algorithm>
#include <optional>

#include "core/check.h"

namespace symphony {

namespace fs = std::filesystem;

Status TokenDataset::add_shard(TokenFile file, std::optional<DocIndex> index) {
  if (shards_.empty()) {
    vocab_size_ = file.vocab_size();
    eot_token_ = file.eot_token();
  } else if (file.vocab_size() != vocab_size_ || file.eot_token() != eot_token_) {
    return Error::corrupt("{}: vocab_size {} and eot_token {} differ from the first shard's {} "
                          "and {}", file.path().string(), file.vocab_size(), file.eot_token(),
                          vocab_size_, eot_token_);
  }
  if (shard_begin_.empty()) shard_begin_.push_back(0);
  if (shard_first_doc_.empty()) shard_first_doc_.push_back(0);
  num_tokens_ += file.size();
  shard_begin_.push_back(num_tokens_);
  if (index) {
    num_documents_ += index->num_documents();
    indexes_.push_back(std::move(*index));
  }
  shard_first_doc_.push_back(num_documents_);
  shards_.push_back(std::move(file));
  return Status::ok();
}

Result<TokenDataset> TokenDataset::open(const fs::path& dir, Split split, ChecksumCheck check) {
  SYM_TRY_ASSIGN(DatasetManifest manifest, read_manifest(dir));
  const std::string manifest_path = (dir / kManifestFileName).string();
  TokenDataset dataset;
  dataset.name_ = dir.string();
  dataset.tokenizer_name_ = manifest.tokenizer_name;
  dataset.tokenizer_fingerprint_ = manifest.tokenizer_fingerprint;
  for (const ShardEntry& entry : manifest.split(split).shards) {
    SYM_TRY_ASSIGN(TokenFile file, TokenFile::open(dir / entry.path, check));
    if (file.size() != entry.tokens || file.checksum() != entry.checksum)
      return Error::corrupt("{}: holds {} tokens with checksum {:016x}, but {} lists {} tokens "
                            "with checksum {:016x} (a shard of another dataset?)",
                            file.path().string(), file.size(), file.checksum(), manifest_path,
                            entry.tokens, entry.checksum);
    if (file.vocab_size() != manifest.vocab_size || file.eot_token() != manifest.eot_token)
      return Error::corrupt("{}: vocab_size {} / eot_token {} differ from {}'s {} / {}",
                            file.path().string(), file.vocab_size(), file.eot_token(),
                            manifest_path, manifest.vocab_size, manifest.eot_token);
    SYM_TRY_ASSIGN(DocIndex index, DocIndex::open(dir / entry.index_path, check));
    if (index.num_tokens() != entry.tokens || index.num_documents() != entry.documents ||
        index.checksum() != entry.index_checksum)
      return Error::corrupt("{}: indexes {} documents of {} tokens with checksum {:016x}, but {} "
                            "lists {} documents of {} tokens with checksum {:016x}",
                            index.path().string(), index.num_documents(), index.num_tokens(),
                            index.checksum(), manifest_path, entry.documents, entry.tokens,
                            entry.index_checksum);
    SYM_TRY(dataset.add_shard(std::move(file), std::move(index)));
  }
  if (dataset.shards_.empty()) {
    dataset.vocab_size_ = manifest.vocab_size;
    dataset.eot_token_ = manifest.eot_token;
    dataset.shard_begin_ = {0};
    dataset.shard_first_doc_ = {0};
  }
  return dataset;
}

Result<TokenDataset> TokenDataset::open_token_file(const fs::path& path, ChecksumCheck check) {
  SYM_TRY_ASSIGN(TokenFile file, TokenFile::open(path, check));
  TokenDataset dataset;
  dataset.name_ = path.string();
  SYM_TRY(dataset.add_shard(std::move(file), std::nullopt));
  return dataset;
}

void TokenDataset::read(int64_t begin, std::span<int32_t> out) const {
  const int64_t count = static_cast<int64_t>(out.size());
  SYM_CHECK(begin >= 0 && count <= num_tokens_ - begin, "reading tokens [{}, {}) of {} in {}",
            begin, begin + count, num_tokens_, name_);
  // The shard holding `begin`: the last shard whose start is <= begin.
  size_t shard = static_cast<size_t>(
      std::upper_bound(shard_begin_.begin(), shard_begin_.end(), begin) - shard_begin_.begin() - 1);
  int64_t done = 0;
  while (done < count) {
    const int64_t local = begin + done - shard_begin_[shard];
    const int64_t n = std::min(count - done, shards_[shard].size() - local);
    shards_[shard].read(local, out.subspan(static_cast<size_t>(done), static_cast<size_t>(n)));
    done += n;
    ++shard;
  }
}

int64_t TokenDataset::document_start(int64_t d) const {
  SYM_CHECK(d >= 0 && d < num_documents_, "document {} outside [0, {}) in {}", d, num_documents_,
            name_);
  const size_t shard = static_cast<size_t>(
      std::upper_bound(shard_first_doc_.begin(), shard_first_doc_.end(), d) -
      shard_first_doc_.begin() - 1);
  return shard_begin_[shard] + indexes_[shard].document_start(d - shard_first_doc_[shard]);
}

Status TokenDataset::check_tokenizer(const Tokenizer& tokenizer) const {
  if (tokenizer_fingerprint_.empty()) {
    if (vocab_size_ > tokenizer.vocab_size())
      return Error::invalid("{}: token ids reach {} but tokenizer '{}' has {} ids", name_,
                            vocab_size_, tokenizer.name(), tokenizer.vocab_size());
    return Status::ok();
  }
  if (tokenizer.fingerprint() != tokenizer_fingerprint_)
    return Error::invalid(
        "{}/{}: the dataset was prepared with tokenizer '{}' (fingerprint {}), not with '{}' "
        "(fingerprint {}); use the dataset's tokenizer or prepare the data again with "
        "--tokenizer {}", name_, kManifestFileName, tokenizer_name_, tokenizer_fingerprint_,
        tokenizer.name(), tokenizer.fingerprint(), tokenizer.name());
  return Status::ok();
}

}  // namespace symphony
