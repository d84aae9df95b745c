#pragma once
// The weights of a Hugging Face model directory: one "model.safetensors", or, above a size
// threshold, shards "model-00001-of-0000N.safetensors" with "model.safetensors.index.json":
//   {"metadata": {"total_size": <tensor bytes>}, "weight_map": {"<tensor name>": "<file>", ...}}
// Every shard carries the metadata {"format": "pt"}, which transformers requires.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "core/status.h"

namespace symphony {

inline constexpr const char* kHfWeightsFile = "model.safetensors";
inline constexpr const char* kHfIndexFile = "model.safetensors.index.json";

// Writes `tensors` into `dir` (which must exist): a single model.safetensors when their bytes
// total at most `max_shard_bytes`, otherwise shards filled in order, each closed before the
// tensor that would take it past `max_shard_bytes` (a larger tensor gets a shard of its own), and
// the index. Returns the file names written. Failure: write_safetensors' errors, kIo for the
// index. REQUIRES: max_shard_bytes > 0.
Result<std::vector<std::string>> write_hf_weights(const std::filesystem::path& dir,
                                                  const std::vector<TensorRecord>& tensors,
                                                  int64_t max_shard_bytes);

// Read access to the weights of a Hugging Face directory, single-file or indexed.
// Failure modes of open(): kNotFound when `dir` holds neither model.safetensors nor the index;
// kCorrupt for an index that is not valid JSON or lacks weight_map, and any SafetensorsFile::open
// error of a shard it names (each message names the file). get() returns kNotFound naming the
// index or file for a tensor no file holds, and kCorrupt when the index names a shard that does
// not hold the tensor.
class HfWeights {
 public:
  static Result<HfWeights> open(const std::filesystem::path& dir);

  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return file_of_name_.count(name) != 0; }
  Result<SafetensorsTensor> get(const std::string& name) const;
  // The file holding `name` (for error messages). REQUIRES: names() contains name.
  std::filesystem::path file_of(const std::string& name) const;

 private:
  std::filesystem::path source_;  // the index or the single file
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> file_of_name_;  // tensor name -> index into files_
};

// Parses a shard size: a byte count, or a number with a unit (B, KB, MB, GB, TB powers of 1000;
// KiB, MiB, GiB, TiB powers of 1024), as transformers' max_shard_size ("5GB", "500MB").
// Failure: kInvalidArgument naming the text.
Result<int64_t> parse_shard_size(std::string_view text);

}  // namespace symphony
