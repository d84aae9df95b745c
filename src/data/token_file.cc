#include "data/token_file.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/check.h"
#include "core/file_io.h"
#include "core/mapped_file.h"

namespace symphony {
namespace {

// The payload is stored little-endian and decoded with memcpy, which is only a decode on a
// little-endian host.
static_assert(std::endian::native == std::endian::little, "token files assume a little-endian host");

constexpr size_t kWriteBufferBytes = size_t{1} << 20;
constexpr int64_t kMaxVocabTwoBytes = int64_t{1} << 16;
constexpr int64_t kMaxVocabFourBytes = int64_t{1} << 31;

struct Header {
  uint32_t version = 0;
  uint32_t token_bytes = 0;
  uint64_t num_tokens = 0;
  uint64_t vocab_size = 0;
  uint64_t eot_token = 0;
  uint64_t checksum = 0;
};

template <typename T>
void store(std::byte* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}

template <typename T>
T load(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

void encode_header(const Header& h, std::byte* out) {
  std::memset(out, 0, kTokenFileHeaderBytes);
  std::memcpy(out, kTokenFileMagic, sizeof(kTokenFileMagic));
  store(out + 8, h.version);
  store(out + 12, h.token_bytes);
  store(out + 16, h.num_tokens);
  store(out + 24, h.vocab_size);
  store(out + 32, h.eot_token);
  store(out + 40, h.checksum);
}

Header decode_header(const std::byte* in) {
  Header h;
  h.version = load<uint32_t>(in + 8);
  h.token_bytes = load<uint32_t>(in + 12);
  h.num_tokens = load<uint64_t>(in + 16);
  h.vocab_size = load<uint64_t>(in + 24);
  h.eot_token = load<uint64_t>(in + 32);
  h.checksum = load<uint64_t>(in + 40);
  return h;
}

int64_t max_vocab_for(int token_bytes) {
  return token_bytes == 2 ? kMaxVocabTwoBytes : kMaxVocabFourBytes;
}

}  // namespace

uint64_t fnv1a64(std::span<const std::byte> bytes, uint64_t state) {
  for (std::byte b : bytes) state = (state ^ static_cast<uint64_t>(b)) * 0x100000001b3ull;
  return state;
}

int token_bytes_for_vocab(int64_t vocab_size) { return vocab_size <= kMaxVocabTwoBytes ? 2 : 4; }

// ---------------------------------------------------------------------------------------------
// TokenFileWriter

Result<TokenFileWriter> TokenFileWriter::create(const std::filesystem::path& path,
                                                TokenFileMeta meta) {
  if (meta.token_bytes == 0) meta.token_bytes = token_bytes_for_vocab(meta.vocab_size);
  if (meta.token_bytes != 2 && meta.token_bytes != 4)
    return Error::invalid("{}: token_bytes is {}, expected 2 or 4", path.string(), meta.token_bytes);
  if (meta.vocab_size <= 0 || meta.vocab_size > max_vocab_for(meta.token_bytes))
    return Error::invalid("{}: vocab_size {} does not fit {}-byte tokens", path.string(),
                          meta.vocab_size, meta.token_bytes);
  if (meta.eot_token < 0 || meta.eot_token >= meta.vocab_size)
    return Error::invalid("{}: eot_token {} is outside [0, vocab_size {})", path.string(),
                          meta.eot_token, meta.vocab_size);
  SYM_TRY_ASSIGN(const int fd, create_temp_file(path));
  TokenFileWriter writer(path, meta, fd);
  // Reserve the header; close() fills it in once the count and checksum are known.
  std::byte zeros[kTokenFileHeaderBytes] = {};
  Status status = write_all(fd, zeros, sizeof(zeros), writer.tmp_path_);
  if (!status.is_ok()) return status;
  return writer;
}

TokenFileWriter::TokenFileWriter(std::filesystem::path path, TokenFileMeta meta, int fd)
    : path_(std::move(path)), tmp_path_(temp_path_for(path_)), meta_(meta), fd_(fd) {
  buffer_.reserve(kWriteBufferBytes);
}

TokenFileWriter::TokenFileWriter(TokenFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::move(other.tmp_path_)),
      meta_(other.meta_),
      fd_(std::exchange(other.fd_, -1)),
      num_tokens_(other.num_tokens_),
      checksum_(other.checksum_),
      buffer_(std::move(other.buffer_)) {}

TokenFileWriter& TokenFileWriter::operator=(TokenFileWriter&& other) noexcept {
  if (this != &other) {
    abandon();
    path_ = std::move(other.path_);
    tmp_path_ = std::move(other.tmp_path_);
    meta_ = other.meta_;
    fd_ = std::exchange(other.fd_, -1);
    num_tokens_ = other.num_tokens_;
    checksum_ = other.checksum_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

TokenFileWriter::~TokenFileWriter() { abandon(); }

void TokenFileWriter::abandon() {
  if (fd_ < 0) return;
  discard_temp_file(std::exchange(fd_, -1), path_);
}

Status TokenFileWriter::append(std::span<const int32_t> tokens) {
  SYM_CHECK(fd_ >= 0, "append to a closed token file {}", path_.string());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= meta_.vocab_size)
      return Error::invalid("{}: token {} at index {} is outside [0, vocab_size {})",
                            path_.string(), tokens[i], num_tokens_ + int64_t(i),
                            meta_.vocab_size);
  }
  // Encode in runs that fill the buffer, growing it once per run rather than once per token.
  const size_t width = static_cast<size_t>(meta_.token_bytes);
  const size_t capacity_tokens = kWriteBufferBytes / width;
  size_t done = 0;
  while (done < tokens.size()) {
    const size_t used_tokens = buffer_.size() / width;
    const size_t n = std::min(tokens.size() - done, capacity_tokens - used_tokens);
    const size_t at = buffer_.size();
    buffer_.resize(at + n * width);
    std::byte* out = buffer_.data() + at;
    if (width == 2) {
      for (size_t i = 0; i < n; ++i) store(out + 2 * i, static_cast<uint16_t>(tokens[done + i]));
    } else {
      std::memcpy(out, tokens.data() + done, n * 4);
    }
    done += n;
    num_tokens_ += static_cast<int64_t>(n);
    if (buffer_.size() >= capacity_tokens * width) SYM_TRY(flush_buffer());
  }
  return Status::ok();
}

Status TokenFileWriter::flush_buffer() {
  checksum_ = fnv1a64(buffer_, checksum_);
  Status status = write_all(fd_, buffer_.data(), buffer_.size(), tmp_path_);
  buffer_.clear();
  return status;
}

Status TokenFileWriter::close() {
  SYM_CHECK(fd_ >= 0, "token file {} closed twice", path_.string());
  Status status = flush_buffer();
  if (status.is_ok()) {
    Header h;
    h.version = kTokenFileVersion;
    h.token_bytes = static_cast<uint32_t>(meta_.token_bytes);
    h.num_tokens = static_cast<uint64_t>(num_tokens_);
    h.vocab_size = static_cast<uint64_t>(meta_.vocab_size);
    h.eot_token = static_cast<uint64_t>(meta_.eot_token);
    h.checksum = checksum_;
    std::byte header[kTokenFileHeaderBytes];
    encode_header(h, header);
    if (::pwrite(fd_, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)))
      status = os_error("writing header of", tmp_path_, errno);
  }
  if (!status.is_ok()) {
    abandon();
    return status;
  }
  return commit_temp_file(std::exchange(fd_, -1), path_);
}

// ---------------------------------------------------------------------------------------------
// TokenFile

Result<TokenFile> TokenFile::open(const std::filesystem::path& path, ChecksumCheck check) {
  const std::string name = path.string();
  SYM_TRY_ASSIGN(MappedFile map, MappedFile::open(path, "token file"));
  const uint64_t file_bytes = map.size();
  if (file_bytes < static_cast<uint64_t>(kTokenFileHeaderBytes))
    return Error::corrupt("{}: {} bytes, shorter than the {}-byte token file header", name,
                          file_bytes, kTokenFileHeaderBytes);

  TokenFile file;
  file.path_ = path;
  file.map_ = std::move(map);
  file.payload_ = file.map_.data() + kTokenFileHeaderBytes;
  if (std::memcmp(file.map_.data(), kTokenFileMagic, sizeof(kTokenFileMagic)) != 0)
    return Error::corrupt("{}: bad magic, not a Symphony token file", name);
  const Header h = decode_header(file.map_.data());
  if (h.version != kTokenFileVersion)
    return Error::corrupt("{}: format version {}, this build reads version {}", name, h.version,
                          kTokenFileVersion);
  if (h.token_bytes != 2 && h.token_bytes != 4)
    return Error::corrupt("{}: token_bytes is {}, expected 2 or 4", name, h.token_bytes);
  const uint64_t payload_bytes = file_bytes - kTokenFileHeaderBytes;
  if (h.num_tokens > payload_bytes / h.token_bytes ||
      h.num_tokens * h.token_bytes != payload_bytes)
    return Error::corrupt(
        "{}: file is {} bytes but the header promises {} + {} tokens * {} bytes (truncated or "
        "overlong)",
        name, file_bytes, kTokenFileHeaderBytes, h.num_tokens, h.token_bytes);
  const int width = static_cast<int>(h.token_bytes);
  if (h.vocab_size == 0 || h.vocab_size > static_cast<uint64_t>(max_vocab_for(width)))
    return Error::corrupt("{}: vocab_size {} does not fit {}-byte tokens", name, h.vocab_size,
                          width);
  if (h.eot_token >= h.vocab_size)
    return Error::corrupt("{}: eot_token {} is not below vocab_size {}", name, h.eot_token,
                          h.vocab_size);
  file.num_tokens_ = static_cast<int64_t>(h.num_tokens);
  file.vocab_size_ = static_cast<int64_t>(h.vocab_size);
  file.eot_token_ = static_cast<int32_t>(h.eot_token);
  file.token_bytes_ = width;
  file.checksum_ = h.checksum;

  if (check == ChecksumCheck::kVerify) {
    const uint64_t actual = fnv1a64({file.payload_, payload_bytes});
    if (actual != h.checksum)
      return Error::corrupt("{}: checksum mismatch: header says {:016x}, payload hashes to {:016x}",
                            name, h.checksum, actual);
    for (int64_t i = 0; i < file.num_tokens_; ++i) {
      int32_t token = file.at(i);
      if (token < 0 || token >= file.vocab_size_)
        return Error::corrupt("{}: token {} at index {} is not below vocab_size {}", name, token,
                              i, file.vocab_size_);
    }
  }
  return file;
}

int32_t TokenFile::at(int64_t i) const {
  SYM_DCHECK(i >= 0 && i < num_tokens_, "token index {} outside [0, {}) in {}", i, num_tokens_,
             path_.string());
  if (token_bytes_ == 2) return load<uint16_t>(payload_ + i * 2);
  return static_cast<int32_t>(load<uint32_t>(payload_ + i * 4));
}

void TokenFile::read(int64_t begin, std::span<int32_t> out) const {
  const int64_t count = static_cast<int64_t>(out.size());
  SYM_CHECK(begin >= 0 && count <= num_tokens_ - begin, "reading tokens [{}, {}) of {} in {}",
            begin, begin + count, num_tokens_, path_.string());
  if (token_bytes_ == 4) {
    std::memcpy(out.data(), payload_ + begin * 4, out.size() * 4);
    return;
  }
  const std::byte* src = payload_ + begin * 2;
  for (int64_t i = 0; i < count; ++i) out[i] = load<uint16_t>(src + i * 2);
}

}  // namespace symphony
