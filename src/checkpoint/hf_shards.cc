#include "checkpoint/hf_shards.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/file_io.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::string> kShardMetadata = {{"format", "pt"}};

std::string shard_name(size_t i, size_t n) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
}

}  // namespace

Result<std::vector<std::string>> write_hf_weights(const fs::path& dir,
                                                  const std::vector<TensorRecord>& tensors,
                                                  int64_t max_shard_bytes) {
  SYM_CHECK(max_shard_bytes > 0, "max_shard_bytes = {}", max_shard_bytes);
  int64_t total = 0;
  std::vector<std::vector<TensorRecord>> shards(1);
  int64_t shard_bytes = 0;
  for (const TensorRecord& t : tensors) {
    if (!shards.back().empty() && shard_bytes + t.bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(t);
    shard_bytes += t.bytes;
    total += t.bytes;
  }
  if (shards.size() == 1) {
    SYM_TRY(write_safetensors(dir / kHfWeightsFile, tensors, kShardMetadata));
    return std::vector<std::string>{kHfWeightsFile};
  }
  std::vector<std::string> files;
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    files.push_back(shard_name(i, shards.size()));
    SYM_TRY(write_safetensors(dir / files.back(), shards[i], kShardMetadata));
    for (const TensorRecord& t : shards[i]) weight_map[t.name] = files.back();
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  SYM_TRY(write_file_atomic(dir / kHfIndexFile, index.dump(2) + "\n"));
  files.push_back(kHfIndexFile);
  return files;
}

Result<HfWeights> HfWeights::open(const fs::path& dir) {
  HfWeights w;
  std::error_code ec;
  const fs::path index_path = dir / kHfIndexFile;
  if (!fs::exists(index_path, ec)) {
    w.source_ = dir / kHfWeightsFile;
    if (!fs::exists(w.source_, ec))
      return Error::not_found("{}: holds neither {} nor {}", dir.string(), kHfWeightsFile,
                              kHfIndexFile);
    SYM_TRY_ASSIGN(SafetensorsFile file, SafetensorsFile::open(w.source_));
    w.files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
    for (const std::string& name : w.files_.back()->names()) w.file_of_name_[name] = 0;
    return w;
  }
  w.source_ = index_path;
  std::ifstream in(index_path, std::ios::binary);
  if (!in) return Error::io("{}: cannot be read", index_path.string());
  std::stringstream text;
  text << in.rdbuf();
  std::map<std::string, size_t> file_index;  // shard file name -> index into files_
  try {
    const nlohmann::json index = nlohmann::json::parse(text.str());
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      return Error::corrupt("{}: no \"weight_map\" object", index_path.string());
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it->is_string())
        return Error::corrupt("{}: weight_map[\"{}\"] is not a file name", index_path.string(),
                              it.key());
      const std::string file = it->get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos)
        return Error::corrupt("{}: weight_map[\"{}\"] = \"{}\" is not a file in {}",
                              index_path.string(), it.key(), file, dir.string());
      auto [slot, added] = file_index.emplace(file, w.files_.size());
      if (added) {
        SYM_TRY_ASSIGN(SafetensorsFile shard, SafetensorsFile::open(dir / file));
        w.files_.push_back(std::make_unique<SafetensorsFile>(std::move(shard)));
      }
      w.file_of_name_[it.key()] = slot->second;
    }
  } catch (const nlohmann::json::exception& e) {
    return Error::corrupt("{}: invalid JSON: {}", index_path.string(), e.what());
  }
  return w;
}

std::vector<std::string> HfWeights::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : file_of_name_) out.push_back(name);
  return out;
}

fs::path HfWeights::file_of(const std::string& name) const {
  return files_[file_of_name_.at(name)]->path();
}

Result<SafetensorsTensor> HfWeights::get(const std::string& name) const {
  auto it = file_of_name_.find(name);
  if (it == file_of_name_.end())
    return Error::not_found("{}: no tensor named \"{}\"", source_.string(), name);
  const SafetensorsFile& file = *files_[it->second];
  if (!file.contains(name))
    return Error::corrupt("{}: the index puts tensor \"{}\" in {}, which does not hold it",
                          source_.string(), name, file.path().string());
  return file.get(name);
}

Result<int64_t> parse_shard_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  const std::string number(text.substr(0, digits));
  std::string unit(text.substr(digits));
  for (char& ch : unit) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  double value = 0;
  try {
    size_t used = 0;
    value = std::stod(number, &used);
    if (used != number.size()) throw std::invalid_argument(number);
  } catch (const std::exception&) {
    value = -1;
  }
  const std::map<std::string, double> units = {{"", 1},
                                               {"B", 1},
                                               {"KB", 1e3},
                                               {"MB", 1e6},
                                               {"GB", 1e9},
                                               {"TB", 1e12},
                                               {"KIB", 1024.0},
                                               {"MIB", 1048576.0},
                                               {"GIB", 1073741824.0},
                                               {"TIB", 1099511627776.0}};
  auto u = units.find(unit);
  if (value <= 0 || u == units.end() || !std::isfinite(value * u->second) ||
      value * u->second < 1 || value * u->second > 9e18)
    return Error::invalid(
        "shard size '{}' is not a positive size such as 5GB, 500MB, 2GiB or a byte count", text);
  return int64_t(std::llround(value * u->second));
}

}  // namespace symphony
