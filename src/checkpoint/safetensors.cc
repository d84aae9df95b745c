#include "checkpoint/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/check.h"
#include "core/file_io.h"

namespace symphony {
namespace {

// The header length and all tensor data are little-endian; memcpy is a decode only on a
// little-endian host.
static_assert(std::endian::native == std::endian::little,
              "safetensors files assume a little-endian host");

constexpr int64_t kLengthBytes = 8;
constexpr const char* kMetadataKey = "__metadata__";
// Headers beyond this are refused before parsing (the reference implementation's limit).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct DTypeInfo {
  std::string_view name;
  int64_t bytes;
};
constexpr DTypeInfo kDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8},
};

// product(shape) * element_bytes, or -1 when a dimension is negative or the product overflows.
int64_t shape_bytes(const std::vector<int64_t>& shape, int64_t element_bytes) {
  int64_t total = element_bytes;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && total > std::numeric_limits<int64_t>::max() / d) return -1;
    total *= d;
  }
  return total;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

Status check_record(const TensorRecord& t, const std::filesystem::path& path) {
  const std::string file = path.string();
  if (t.name == kMetadataKey)
    return Error::invalid("{}: tensor name \"{}\" is reserved for metadata", file, t.name);
  const int64_t element_bytes = safetensors_dtype_bytes(t.dtype);
  if (element_bytes == 0)
    return Error::invalid("{}: tensor \"{}\": unknown dtype \"{}\"", file, t.name, t.dtype);
  const int64_t want = shape_bytes(t.shape, element_bytes);
  if (want < 0)
    return Error::invalid("{}: tensor \"{}\": invalid shape {}", file, t.name,
                          shape_string(t.shape));
  if (want != t.bytes)
    return Error::invalid("{}: tensor \"{}\": {} bytes for shape {} of {} (expected {})", file,
                          t.name, t.bytes, shape_string(t.shape), t.dtype, want);
  if (t.bytes > 0 && t.data == nullptr)
    return Error::invalid("{}: tensor \"{}\": no data for {} bytes", file, t.name, t.bytes);
  return Status::ok();
}

// The JSON header, padded with spaces to a multiple of 8 bytes; `order` receives the indices of
// `tensors` in data order.
Result<std::string> encode_header(const std::vector<TensorRecord>& tensors,
                                  const std::map<std::string, std::string>& metadata,
                                  const std::filesystem::path& path, std::vector<size_t>& order) {
  order.resize(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return safetensors_dtype_bytes(tensors[a].dtype) > safetensors_dtype_bytes(tensors[b].dtype);
  });
  try {
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (size_t i : order) {
      const TensorRecord& t = tensors[i];
      const uint64_t end = offset + static_cast<uint64_t>(t.bytes);
      header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
      offset = end;
    }
    if (!metadata.empty()) header[kMetadataKey] = metadata;
    std::string text = header.dump();
    text.resize((text.size() + 7) / 8 * 8, ' ');
    return text;
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid("{}: cannot encode the safetensors header: {}", path.string(), e.what());
  }
}

// Reads one tensor entry of a parsed header; `data_bytes` is the size of the data buffer.
Result<SafetensorsTensor> decode_entry(const std::string& file, const std::string& name,
                                       const nlohmann::json& entry, const std::byte* data,
                                       uint64_t data_bytes, uint64_t& begin_out) {
  auto bad = [&](const std::string& why) {
    return Error::corrupt("{}: tensor \"{}\": {}", file, name, why);
  };
  if (!entry.is_object()) return bad("entry is not a JSON object");
  auto dtype_it = entry.find("dtype");
  auto shape_it = entry.find("shape");
  auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || !dtype_it->is_string()) return bad("missing string \"dtype\"");
  if (shape_it == entry.end() || !shape_it->is_array()) return bad("missing array \"shape\"");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    return bad("\"data_offsets\" is not an array of 2 numbers");

  SafetensorsTensor t;
  t.dtype = dtype_it->get<std::string>();
  const int64_t element_bytes = safetensors_dtype_bytes(t.dtype);
  if (element_bytes == 0) return bad(fmt::format("unknown dtype \"{}\"", t.dtype));
  for (const nlohmann::json& d : *shape_it) {
    constexpr uint64_t kMaxDim = uint64_t(std::numeric_limits<int64_t>::max());
    if (!d.is_number_unsigned() || d.get<uint64_t>() > kMaxDim)
      return bad(fmt::format("shape entry {} is not a non-negative integer", d.dump()));
    t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  const nlohmann::json& b = (*offsets_it)[0];
  const nlohmann::json& e = (*offsets_it)[1];
  if (!b.is_number_unsigned() || !e.is_number_unsigned())
    return bad(fmt::format("data_offsets {} are not non-negative integers", offsets_it->dump()));
  const uint64_t begin = b.get<uint64_t>(), end = e.get<uint64_t>();
  if (begin > end)
    return bad(fmt::format("data_offsets [{}, {}] out of range: begin after end", begin, end));
  if (end > data_bytes)
    return bad(fmt::format("data_offsets [{}, {}] out of range: the data buffer holds {} bytes "
                           "(truncated file?)",
                           begin, end, data_bytes));
  const int64_t want = shape_bytes(t.shape, element_bytes);
  if (want < 0 || static_cast<uint64_t>(want) != end - begin)
    return bad(fmt::format("data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}",
                           begin, end, end - begin, shape_string(t.shape), t.dtype, want));
  t.data = data + begin;
  t.bytes = want;
  begin_out = begin;
  return t;
}

}  // namespace

int64_t safetensors_dtype_bytes(std::string_view dtype) {
  for (const DTypeInfo& info : kDTypes)
    if (info.name == dtype) return info.bytes;
  return 0;
}

namespace {

// IEEE half to float; exact, as every half is a float.
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace

bool safetensors_converts_to_f32(std::string_view dtype) {
  return dtype == "F32" || dtype == "BF16" || dtype == "F16";
}

void safetensors_to_f32(std::string_view dtype, const std::byte* src, int64_t n, float* dst) {
  SYM_CHECK(safetensors_converts_to_f32(dtype), "no conversion of {} to F32", dtype);
  if (dtype == "F32") {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
    return;
  }
  const bool bf16 = dtype == "BF16";
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, sizeof(h));
    if (bf16) {
      const uint32_t bits = uint32_t(h) << 16;
      std::memcpy(&dst[i], &bits, sizeof(float));
    } else {
      dst[i] = half_to_float(h);
    }
  }
}

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Status write_safetensors(const std::filesystem::path& path,
                         const std::vector<TensorRecord>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::map<std::string_view, int> seen;
  for (const TensorRecord& t : tensors) {
    SYM_TRY(check_record(t, path));
    if (seen[t.name]++ > 0)
      return Error::invalid("{}: tensor name \"{}\" appears twice", path.string(), t.name);
  }
  std::vector<size_t> order;
  SYM_TRY_ASSIGN(std::string header, encode_header(tensors, metadata, path, order));

  SYM_TRY_ASSIGN(const int fd, create_temp_file(path));
  const std::filesystem::path tmp = temp_path_for(path);
  unsigned char length[kLengthBytes];
  const uint64_t header_bytes = header.size();
  std::memcpy(length, &header_bytes, sizeof(length));
  Status status = write_all(fd, length, sizeof(length), tmp);
  if (status.is_ok()) status = write_all(fd, header.data(), header.size(), tmp);
  for (size_t i : order) {
    if (!status.is_ok()) break;
    status = write_all(fd, tensors[i].data, static_cast<size_t>(tensors[i].bytes), tmp);
  }
  if (!status.is_ok()) {
    discard_temp_file(fd, path);
    return status;
  }
  return commit_temp_file(fd, path);
}

Result<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("opening safetensors file", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return os_error("inspecting safetensors file", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error::invalid("{}: not a regular file", name);
  }
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < static_cast<uint64_t>(kLengthBytes)) {
    ::close(fd);
    return Error::corrupt("{}: {} bytes, shorter than the 8-byte header length (truncated?)", name,
                          file_bytes);
  }
  void* map = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (map == MAP_FAILED) return os_error("mapping safetensors file", path, map_err);

  // From here on `file` owns the mapping, so every early return unmaps it.
  SafetensorsFile file;
  file.path_ = path;
  file.map_ = static_cast<const std::byte*>(map);
  file.map_bytes_ = file_bytes;

  uint64_t header_bytes;
  std::memcpy(&header_bytes, file.map_, sizeof(header_bytes));
  const uint64_t after_length = file_bytes - kLengthBytes;
  if (header_bytes > after_length)
    return Error::corrupt(
        "{}: header length {} runs past the end of the file ({} bytes; truncated or not a "
        "safetensors file)",
        name, header_bytes, file_bytes);
  if (header_bytes > kMaxHeaderBytes)
    return Error::corrupt("{}: header length {} exceeds the {}-byte limit", name, header_bytes,
                          kMaxHeaderBytes);
  const char* header_text = reinterpret_cast<const char*>(file.map_ + kLengthBytes);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text, header_text + header_bytes);
  } catch (const nlohmann::json::exception& e) {
    return Error::corrupt("{}: header JSON parse error: {}", name, e.what());
  }
  if (!header.is_object()) return Error::corrupt("{}: header is not a JSON object", name);

  const std::byte* data = file.map_ + kLengthBytes + header_bytes;
  const uint64_t data_bytes = after_length - header_bytes;
  std::vector<std::pair<uint64_t, std::string>> by_offset;  // (begin, name)
  try {
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == kMetadataKey) {
        if (!it->is_object())
          return Error::corrupt("{}: \"{}\" is not a JSON object", name, kMetadataKey);
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (!m->is_string())
            return Error::corrupt("{}: metadata \"{}\" is not a string", name, m.key());
          file.metadata_[m.key()] = m->get<std::string>();
        }
        continue;
      }
      uint64_t begin = 0;
      SYM_TRY_ASSIGN(SafetensorsTensor t,
                     decode_entry(name, it.key(), *it, data, data_bytes, begin));
      by_offset.emplace_back(begin, it.key());
      file.tensors_.emplace(it.key(), std::move(t));
    }
  } catch (const nlohmann::json::exception& e) {
    return Error::corrupt("{}: malformed header: {}", name, e.what());
  }

  // Tensors must tile the data buffer: sorted by begin, each starts where the previous ended.
  std::sort(by_offset.begin(), by_offset.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return file.tensors_.at(a.second).bytes < file.tensors_.at(b.second).bytes;
  });
  uint64_t expected = 0;
  std::string previous;
  for (const auto& [begin, tensor] : by_offset) {
    if (begin < expected)
      return Error::corrupt("{}: tensor \"{}\" at data offset {} overlaps tensor \"{}\", which "
                            "ends at {}",
                            name, tensor, begin, previous, expected);
    if (begin > expected)
      return Error::corrupt("{}: data bytes [{}, {}) before tensor \"{}\" belong to no tensor",
                            name, expected, begin, tensor);
    expected = begin + static_cast<uint64_t>(file.tensors_.at(tensor).bytes);
    previous = tensor;
    file.names_.push_back(tensor);
  }
  if (expected != data_bytes)
    return Error::corrupt("{}: the data buffer has {} bytes but its tensors cover {} (truncated "
                          "or trailing bytes)",
                          name, data_bytes, expected);
  return file;
}

Result<SafetensorsTensor> SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return Error::not_found("{}: no tensor named \"{}\"", path_.string(), name);
  return it->second;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_bytes_(std::exchange(other.map_bytes_, 0)),
      names_(std::move(other.names_)),
      tensors_(std::move(other.tensors_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    names_ = std::move(other.names_);
    tensors_ = std::move(other.tensors_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { unmap(); }

void SafetensorsFile::unmap() {
  if (map_ != nullptr) ::munmap(const_cast<std::byte*>(map_), map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
}

}  // namespace symphony
