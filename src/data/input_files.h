#pragma once
// Finds the input files of a dataset preparation and decides how each one is read.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/compressed_reader.h"

namespace symphony {

// How a file's (decompressed) bytes become documents:
//   kText   the whole file is one document (its bytes as they are, invalid UTF-8 included);
//   kJsonl  one JSON object per line, the document being the string under the text field;
//           blank lines are skipped.
enum class InputFormat : uint8_t { kText, kJsonl };

std::string_view input_format_name(InputFormat format);  // "text" or "jsonl"

struct InputFile {
  std::filesystem::path path;
  InputFormat format = InputFormat::kText;
  Compression compression = Compression::kNone;
  int64_t bytes = 0;  // on disk
};

// The format and compression a file name announces: a ".gz" or ".zst" suffix selects the
// compression, and the extension before it (or the only one) ".jsonl" or ".ndjson" selects
// kJsonl; anything else is kText. Examples: a.jsonl.zst (jsonl, zstd), b.txt.gz (text, gzip).
InputFile classify_input(const std::filesystem::path& path, int64_t bytes);

// Expands `inputs` into an ordered, de-duplicated list of files. Each entry is a file, a directory
// (searched recursively; hidden entries are skipped) or a glob pattern (`*`, `?`, `[...]`). Files
// are ordered by entry, then by path within an entry; a file named twice is read once.
// Failure: no inputs, an input that does not exist or matches nothing, or no files at all
// (kNotFound/kInvalidArgument naming the input); a directory that cannot be listed (kIo).
Result<std::vector<InputFile>> list_input_files(const std::vector<std::string>& inputs);

}  // namespace symphony
