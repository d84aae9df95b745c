#pragma once
// The safetensors format (https://github.com/huggingface/safetensors), as read by Hugging Face
// tools and PyTorch:
//   u64 little-endian  N, the header length in bytes
//   N bytes            UTF-8 JSON object, right-padded with spaces:
//                        {"<tensor name>": {"dtype": "F32", "shape": [2, 3],
//                                           "data_offsets": [begin, end]}, ...,
//                         "__metadata__": {"<key>": "<string value>", ...}}   (optional)
//   the data buffer    tensors' raw little-endian row-major bytes; data_offsets are relative to
//                      the start of this buffer, and the tensors cover it exactly: no overlap,
//                      no hole, nothing after the last tensor.
// dtype strings: BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16 BF16 I32 U32 F32 I64 U64 F64.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony {

// Bytes per element of a safetensors dtype string, or 0 for a string that names none.
int64_t safetensors_dtype_bytes(std::string_view dtype);

// Whether safetensors_to_f32 converts `dtype`: "F32", "BF16" and "F16", each exactly (every
// value of the two 16-bit formats is a float).
bool safetensors_converts_to_f32(std::string_view dtype);
// Converts `n` elements of `dtype` at `src` (any alignment, as file data has) to f32 in `dst`.
// REQUIRES: safetensors_converts_to_f32(dtype).
void safetensors_to_f32(std::string_view dtype, const std::byte* src, int64_t n, float* dst);

// One tensor to write. `data` points at `bytes` bytes, which must equal
// product(shape) * safetensors_dtype_bytes(dtype); the writer does not keep the pointer.
struct TensorRecord {
  std::string name;
  std::string dtype;  // a safetensors dtype string: "F32", "I32", ...
  std::vector<int64_t> shape;
  const void* data = nullptr;
  int64_t bytes = 0;
};

// Writes `tensors` and `metadata` to `path + ".tmp"`, fsyncs it, renames it to `path` and syncs
// the directory, so a file under the final name is always complete. Tensors are laid out by
// descending element size (their order kept within a size), so every tensor starts at an offset
// aligned to its element size; the header is padded to a multiple of 8 bytes.
// Failure modes: kInvalidArgument for a duplicate or reserved name, an unknown dtype, a negative
// dimension or a byte count that disagrees with the shape; kIo naming the path and the OS error
// when a write, sync or rename fails (the temporary file is then removed).
[[nodiscard]] Status write_safetensors(const std::filesystem::path& path,
                                       const std::vector<TensorRecord>& tensors,
                                       const std::map<std::string, std::string>& metadata);

// A tensor inside an open SafetensorsFile. `data` points into the file's mapping and is valid
// while the file is open; it is aligned only as the writer aligned it (copy before casting when
// the file may come from elsewhere).
struct SafetensorsTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  int64_t bytes = 0;
  int64_t numel() const;
};

// A read-only, memory-mapped safetensors file. open() validates the whole header before
// returning, so every tensor it lists lies inside the file.
// Failure modes: open() returns kNotFound/kIo when the file cannot be read and kCorrupt when it
// is not a valid safetensors file (shorter than 8 bytes, a header length beyond the file, a JSON
// parse error, a malformed entry, an unknown dtype, offsets out of range, overlapping or leaving
// a hole, a byte count that disagrees with the shape); each message names the file and, where
// there is one, the tensor. get() returns kNotFound for a name the file does not hold.
// Thread-safety: all methods are const after open() and may run concurrently.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  // Tensor names in the order of their data in the file.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  Result<SafetensorsTensor> get(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  void unmap();

  std::filesystem::path path_;
  const std::byte* map_ = nullptr;  // the whole file
  size_t map_bytes_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace symphony
