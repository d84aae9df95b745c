// The safetensors reader: the 8-byte header length, the JSON header and the tensors' extents.
// Input: a whole .safetensors file.
// Property: every tensor open() accepts lies inside the file with as many bytes as its shape needs.

#include <cstring>
#include <string>

#include "checkpoint/safetensors.h"
#include "core/check.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace symphony;
  const std::filesystem::path& path =
      fuzz::write_scratch_file(fuzz::as_text(data, size), ".safetensors");
  Result<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file.has_value()) return 0;
  // The data of the tensors, in file order, followed each other from the end of the header.
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, data, sizeof(header_bytes));
  size_t at = 8 + header_bytes;
  for (const std::string& name : file->names()) {
    Result<SafetensorsTensor> t = file->get(name);
    SYM_CHECK(t.has_value(), "names() lists {}, get() does not find it", name);
    SYM_CHECK(t->numel() * safetensors_dtype_bytes(t->dtype) == t->bytes, "{}: bytes {}", name,
              t->bytes);
    SYM_CHECK(t->bytes >= 0 && at + static_cast<size_t>(t->bytes) <= size, "{} past the end",
              name);
    SYM_CHECK(t->bytes == 0 || std::memcmp(t->data, data + at, static_cast<size_t>(t->bytes)) == 0,
              "{}: data differs from the file's bytes at {}", name, at);
    at += static_cast<size_t>(t->bytes);
  }
  SYM_CHECK(at == size, "the tensors end at {} of {} bytes", at, size);
  return 0;
}
