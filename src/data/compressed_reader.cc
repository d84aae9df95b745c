#include "data/compressed_reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/file_io.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

constexpr size_t kInputChunkBytes = size_t{1} << 18;
constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
constexpr unsigned char kZstdMagic[] = {0x28, 0xb5, 0x2f, 0xfd};

}  // namespace

std::string_view compression_name(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

Compression compression_for_path(const fs::path& path) {
  const fs::path ext = path.extension();
  if (ext == ".gz") return Compression::kGzip;
  if (ext == ".zst") return Compression::kZstd;
  return Compression::kNone;
}

struct CompressedReader::State {
  fs::path path;
  Compression compression = Compression::kNone;
  int fd = -1;
  bool eof = false;                 // the file has no more bytes
  std::vector<unsigned char> input;  // compressed bytes read but not yet consumed
  size_t input_pos = 0;
  size_t input_len = 0;
  int64_t consumed = 0;             // compressed bytes handed to the decoder
  z_stream zs{};
  bool zs_ready = false;
  bool member_open = false;         // inside a gzip member / zstd frame not yet complete
  ZSTD_DStream* zstd = nullptr;

  ~State() {
    if (fd >= 0) ::close(fd);
    if (zs_ready) inflateEnd(&zs);
    if (zstd != nullptr) ZSTD_freeDStream(zstd);
  }

  // Reads more of the file into `input` once everything before has been consumed.
  Status refill() {
    SYM_CHECK(input_pos == input_len, "refill with {} bytes pending", input_len - input_pos);
    input_pos = input_len = 0;
    while (!eof && input_len == 0) {
      ssize_t n = ::read(fd, input.data(), input.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return os_error("reading", path, errno);
      if (n == 0) eof = true;
      input_len = static_cast<size_t>(n);
    }
    return Status::ok();
  }

  // Makes compressed input available: true when there is some, false at the end of the file
  // (an error when the file ends inside a gzip member or zstd frame).
  Result<bool> ensure_input() {
    while (input_pos == input_len) {
      if (eof) {
        if (member_open) return truncated();
        return false;
      }
      SYM_TRY(refill());
    }
    return true;
  }

  Status truncated() const {
    return Error::corrupt("{}: truncated {} data: the file ends inside a {} after {} bytes",
                          path.string(), compression_name(compression),
                          compression == Compression::kGzip ? "gzip member" : "zstd frame",
                          consumed);
  }

  Result<size_t> read_plain(std::span<char> out) {
    size_t produced = 0;
    while (produced == 0) {
      SYM_TRY_ASSIGN(const bool more, ensure_input());
      if (!more) break;
      produced = std::min(out.size(), input_len - input_pos);
      std::memcpy(out.data(), input.data() + input_pos, produced);
      input_pos += produced;
      consumed += static_cast<int64_t>(produced);
    }
    return produced;
  }

  Result<size_t> read_gzip(std::span<char> out) {
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    while (zs.avail_out == out.size()) {
      SYM_TRY_ASSIGN(const bool more, ensure_input());
      if (!more) break;
      if (!member_open) {
        // A new member starts here: gzip members may be concatenated.
        if (inflateReset(&zs) != Z_OK) return Error::internal("{}: inflateReset failed", path.string());
        member_open = true;
      }
      zs.next_in = input.data() + input_pos;
      zs.avail_in = static_cast<uInt>(input_len - input_pos);
      const int rc = inflate(&zs, Z_NO_FLUSH);
      const size_t used = (input_len - input_pos) - zs.avail_in;
      input_pos += used;
      consumed += static_cast<int64_t>(used);
      if (rc == Z_STREAM_END) {
        member_open = false;
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
        return Error::corrupt("{}: corrupt gzip data near compressed byte {}: {}", path.string(),
                              consumed, zs.msg != nullptr ? zs.msg : "invalid data");
      } else if (rc == Z_MEM_ERROR) {
        return Error::io("{}: out of memory while decompressing", path.string());
      }
    }
    return out.size() - zs.avail_out;
  }

  Result<size_t> read_zstd(std::span<char> out) {
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    while (ob.pos == 0) {
      SYM_TRY_ASSIGN(const bool more, ensure_input());
      if (!more) break;
      ZSTD_inBuffer ib{input.data(), input_len, input_pos};
      const size_t rc = ZSTD_decompressStream(zstd, &ob, &ib);
      consumed += static_cast<int64_t>(ib.pos - input_pos);
      input_pos = ib.pos;
      if (ZSTD_isError(rc))
        return Error::corrupt("{}: corrupt zstd data near compressed byte {}: {}", path.string(),
                              consumed, ZSTD_getErrorName(rc));
      // 0: the frame is complete and flushed; anything else: more input or output to come.
      member_open = rc != 0;
    }
    return ob.pos;
  }
};

CompressedReader::CompressedReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
CompressedReader::CompressedReader(CompressedReader&&) noexcept = default;
CompressedReader& CompressedReader::operator=(CompressedReader&&) noexcept = default;
CompressedReader::~CompressedReader() = default;

Result<CompressedReader> CompressedReader::open(const fs::path& path, Compression compression) {
  auto state = std::make_unique<State>();
  state->path = path;
  state->compression = compression;
  state->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (state->fd < 0) return os_error("opening", path, errno);
  state->input.resize(kInputChunkBytes);
  if (compression == Compression::kNone) return CompressedReader(std::move(state));

  // Check the magic bytes before any decoding, so a mislabelled file gets a clear message.
  std::span<const unsigned char> magic = compression == Compression::kGzip
                                             ? std::span<const unsigned char>(kGzipMagic)
                                             : std::span<const unsigned char>(kZstdMagic);
  while (!state->eof && state->input_len < magic.size()) {
    ssize_t n = ::read(state->fd, state->input.data() + state->input_len,
                       state->input.size() - state->input_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("reading", path, errno);
    if (n == 0) state->eof = true;
    state->input_len += static_cast<size_t>(n);
  }
  if (state->input_len < magic.size() ||
      std::memcmp(state->input.data(), magic.data(), magic.size()) != 0) {
    return Error::corrupt("{}: not {} data (the name ends in {} but the file {})", path.string(),
                          compression_name(compression), path.extension().string(),
                          state->input_len == 0 ? "is empty" : "lacks the magic bytes");
  }
  if (compression == Compression::kGzip) {
    // 15 + 16: a 32 KiB window and a gzip header and trailer.
    if (inflateInit2(&state->zs, 15 + 16) != Z_OK)
      return Error::internal("{}: inflateInit2 failed", path.string());
    state->zs_ready = true;
  } else {
    state->zstd = ZSTD_createDStream();
    if (state->zstd == nullptr) return Error::internal("{}: ZSTD_createDStream failed", path.string());
    ZSTD_initDStream(state->zstd);
  }
  return CompressedReader(std::move(state));
}

Result<size_t> CompressedReader::read(std::span<char> out) {
  SYM_CHECK(!out.empty(), "read into an empty buffer from {}", state_->path.string());
  switch (state_->compression) {
    case Compression::kNone:
      return state_->read_plain(out);
    case Compression::kGzip:
      return state_->read_gzip(out);
    case Compression::kZstd:
      return state_->read_zstd(out);
  }
  return size_t{0};
}

int64_t CompressedReader::compressed_bytes_read() const { return state_->consumed; }

}  // namespace symphony
