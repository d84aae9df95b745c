#include "data/doc_index.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/check.h"
#include "core/file_io.h"
#include "core/mapped_file.h"

namespace symphony {
namespace {

constexpr size_t kWriteBufferBytes = size_t{1} << 16;

uint64_t load_u64(const std::byte* at) {
  uint64_t value;
  std::memcpy(&value, at, sizeof(value));
  return value;
}

void store_u64(std::byte* at, uint64_t value) { std::memcpy(at, &value, sizeof(value)); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// DocIndexWriter

Result<DocIndexWriter> DocIndexWriter::create(const std::filesystem::path& path) {
  SYM_TRY_ASSIGN(const int fd, create_temp_file(path));
  DocIndexWriter writer(path, fd);
  std::byte zeros[kDocIndexHeaderBytes] = {};
  SYM_TRY(write_all(fd, zeros, sizeof(zeros), temp_path_for(path)));
  return writer;
}

DocIndexWriter::DocIndexWriter(std::filesystem::path path, int fd)
    : path_(std::move(path)), fd_(fd) {
  buffer_.reserve(kWriteBufferBytes);
}

DocIndexWriter::DocIndexWriter(DocIndexWriter&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      num_documents_(other.num_documents_),
      last_offset_(other.last_offset_),
      checksum_(other.checksum_),
      buffer_(std::move(other.buffer_)) {}

DocIndexWriter& DocIndexWriter::operator=(DocIndexWriter&& other) noexcept {
  if (this != &other) {
    abandon();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    num_documents_ = other.num_documents_;
    last_offset_ = other.last_offset_;
    checksum_ = other.checksum_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

DocIndexWriter::~DocIndexWriter() { abandon(); }

void DocIndexWriter::abandon() {
  if (fd_ >= 0) discard_temp_file(std::exchange(fd_, -1), path_);
}

Status DocIndexWriter::append(int64_t offset) {
  SYM_CHECK(fd_ >= 0, "append to a closed document index {}", path_.string());
  if (offset <= last_offset_)
    return Error::invalid("{}: document offset {} does not follow {}", path_.string(), offset,
                          last_offset_);
  last_offset_ = offset;
  const size_t at = buffer_.size();
  buffer_.resize(at + 8);
  store_u64(buffer_.data() + at, static_cast<uint64_t>(offset));
  ++num_documents_;
  if (buffer_.size() >= kWriteBufferBytes) SYM_TRY(flush_buffer());
  return Status::ok();
}

Status DocIndexWriter::flush_buffer() {
  checksum_ = fnv1a64(buffer_, checksum_);
  Status status = write_all(fd_, buffer_.data(), buffer_.size(), temp_path_for(path_));
  buffer_.clear();
  return status;
}

Status DocIndexWriter::close(int64_t num_tokens) {
  SYM_CHECK(fd_ >= 0, "document index {} closed twice", path_.string());
  SYM_CHECK(last_offset_ < num_tokens || num_documents_ == 0,
            "document index {}: offset {} outside a shard of {} tokens", path_.string(),
            last_offset_, num_tokens);
  Status status = flush_buffer();
  if (status.is_ok()) {
    std::byte header[kDocIndexHeaderBytes] = {};
    std::memcpy(header, kDocIndexMagic, sizeof(kDocIndexMagic));
    std::memcpy(header + 8, &kDocIndexVersion, sizeof(kDocIndexVersion));
    store_u64(header + 16, static_cast<uint64_t>(num_documents_));
    store_u64(header + 24, static_cast<uint64_t>(num_tokens));
    store_u64(header + 32, checksum_);
    if (::pwrite(fd_, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)))
      status = os_error("writing header of", temp_path_for(path_), errno);
  }
  if (!status.is_ok()) {
    abandon();
    return status;
  }
  return commit_temp_file(std::exchange(fd_, -1), path_);
}

// ---------------------------------------------------------------------------------------------
// DocIndex

Result<DocIndex> DocIndex::open(const std::filesystem::path& path, ChecksumCheck check) {
  const std::string name = path.string();
  SYM_TRY_ASSIGN(MappedFile map, MappedFile::open(path, "document index"));
  const uint64_t file_bytes = map.size();
  if (file_bytes < static_cast<uint64_t>(kDocIndexHeaderBytes))
    return Error::corrupt("{}: {} bytes, shorter than the {}-byte document index header", name,
                          file_bytes, kDocIndexHeaderBytes);
  DocIndex index;
  index.path_ = path;
  index.map_ = std::move(map);
  const std::byte* header = index.map_.data();

  if (std::memcmp(header, kDocIndexMagic, sizeof(kDocIndexMagic)) != 0)
    return Error::corrupt("{}: bad magic, not a Symphony document index", name);
  uint32_t version;
  std::memcpy(&version, header + 8, sizeof(version));
  if (version != kDocIndexVersion)
    return Error::corrupt("{}: document index version {}, this build reads version {}", name,
                          version, kDocIndexVersion);
  const uint64_t docs = load_u64(header + 16);
  const uint64_t tokens = load_u64(header + 24);
  index.checksum_ = load_u64(header + 32);
  const uint64_t body = file_bytes - kDocIndexHeaderBytes;
  if (docs > body / 8 || docs * 8 != body)
    return Error::corrupt("{}: file is {} bytes but the header promises {} + {} offsets * 8 bytes "
                          "(truncated or overlong)", name, file_bytes, kDocIndexHeaderBytes, docs);
  if (tokens > (uint64_t{1} << 62))
    return Error::corrupt("{}: num_tokens {} is implausible", name, tokens);
  index.num_documents_ = static_cast<int64_t>(docs);
  index.num_tokens_ = static_cast<int64_t>(tokens);
  if (check == ChecksumCheck::kVerify) {
    const uint64_t actual = fnv1a64({header + kDocIndexHeaderBytes, body});
    if (actual != index.checksum_)
      return Error::corrupt("{}: checksum mismatch: header says {:016x}, offsets hash to {:016x}",
                            name, index.checksum_, actual);
    int64_t previous = -1;
    for (int64_t d = 0; d < index.num_documents_; ++d) {
      const int64_t start = index.document_start(d);
      if (start <= previous || start >= index.num_tokens_ || (d == 0 && start != 0))
        return Error::corrupt("{}: document {} starts at token {}, after {} in a shard of {} "
                              "tokens: offsets must rise strictly from 0", name, d, start,
                              previous, index.num_tokens_);
      previous = start;
    }
  }
  return index;
}

int64_t DocIndex::document_start(int64_t d) const {
  SYM_DCHECK(d >= 0 && d < num_documents_, "document {} outside [0, {})", d, num_documents_);
  return static_cast<int64_t>(load_u64(map_.data() + kDocIndexHeaderBytes + d * 8));
}

int64_t DocIndex::document_of(int64_t token) const {
  SYM_CHECK(num_documents_ > 0 && token >= 0 && token < num_tokens_,
            "token {} of {} in an index of {} documents", token, num_tokens_, num_documents_);
  int64_t lo = 0, hi = num_documents_ - 1;  // document_start(lo) <= token always holds
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (document_start(mid) <= token) lo = mid; else hi = mid - 1;
  }
  return lo;
}

}  // namespace symphony
