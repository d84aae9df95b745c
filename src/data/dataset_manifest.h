#pragma once
// The manifest.json of a prepared dataset directory (docs/dataset_format.md): the tokenizer that
// made it, the split settings, each split's shards with sizes and checksums, and the inputs.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony {

inline constexpr std::string_view kDatasetFormat = "symphony-dataset";
inline constexpr int kDatasetVersion = 2;
inline constexpr std::string_view kManifestFileName = "manifest.json";

enum class Split : uint8_t { kTrain, kVal };
std::string_view split_name(Split split);  // "train" or "val"

// How the val split was cut from the inputs (docs/dataset_format.md, "Documents"): whole
// documents chosen by a keyed hash, or, when that leaves a split empty, the end of the token
// stream cut at a token boundary.
enum class SplitUnit : uint8_t { kDocuments, kTokens };
std::string_view split_unit_name(SplitUnit unit);  // "documents" or "tokens"

struct ShardEntry {
  std::string path;        // token file, relative to the dataset directory
  std::string index_path;  // its document index, relative to the dataset directory
  int64_t tokens = 0;
  int64_t documents = 0;
  uint64_t checksum = 0;        // FNV-1a 64 of the token payload (as in the token file header)
  uint64_t index_checksum = 0;  // FNV-1a 64 of the document offsets
};

struct SplitEntry {
  int64_t documents = 0;
  int64_t tokens = 0;  // end-of-text tokens included
  std::vector<ShardEntry> shards;
};

struct InputEntry {
  std::string path;
  std::string format;       // input_format_name()
  std::string compression;  // compression_name()
  int64_t bytes = 0;        // on disk
  int64_t text_bytes = 0;   // decompressed
  int64_t documents = 0;
  int64_t empty_documents = 0;
  int64_t bad_lines = 0;    // skipped JSONL lines
};

struct DatasetManifest {
  std::string tokenizer_name;         // Tokenizer::name()
  std::string tokenizer_fingerprint;  // Tokenizer::fingerprint()
  int64_t vocab_size = 0;
  int32_t eot_token = 0;
  int token_bytes = 0;       // 2 or 4
  uint64_t seed = 0;         // of the train/val split
  double val_fraction = 0;
  SplitUnit split_unit = SplitUnit::kDocuments;
  std::string text_field;    // JSONL key
  int64_t shard_tokens = 0;  // a shard is closed at the first document end at or past this size
  int64_t input_bytes = 0;   // decompressed, all inputs
  int64_t empty_documents = 0;
  int64_t bad_lines = 0;
  SplitEntry train;
  SplitEntry val;
  std::vector<InputEntry> inputs;

  const SplitEntry& split(Split s) const { return s == Split::kTrain ? train : val; }
};

// JSON text, 2-space indented, ending in a newline. Paths that are not valid UTF-8 have their bad
// bytes replaced.
std::string manifest_to_json(const DatasetManifest& manifest);

// Parses manifest text; `source` names it in errors. Failure: kCorrupt naming the source and the
// missing or ill-typed key, an unknown format or version, or inconsistent counts.
Result<DatasetManifest> parse_manifest(std::string_view text, std::string_view source);

// Reads and parses `dir`/manifest.json. Failure: kNotFound when it does not exist (saying that
// `dir` is not a prepared dataset), else as parse_manifest.
Result<DatasetManifest> read_manifest(const std::filesystem::path& dir);

}  // namespace symphony
