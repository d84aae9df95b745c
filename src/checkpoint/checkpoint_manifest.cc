#include "checkpoint/checkpoint_manifest.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <type_traits>
#include <utility>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_dir.h"
#include "core/checked_math.h"
#include "core/checksum.h"
#include "core/file_io.h"

namespace symphony {

using nlohmann::json;

namespace {

constexpr const char* kChecksumKey = "manifest_xxh3";

// The checksum of a manifest's JSON without its checksum field: compact, keys sorted (the json
// type keeps object keys ordered), strings as UTF-8 (invalid bytes replaced, as a reader sees
// them), numbers as the shortest text that reads back to the same value. Parsing and dumping
// again gives the same text, so a reader recomputes exactly what the writer hashed.
std::string canonical_checksum(const json& j) {
  const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return checksum_hex(xxh3_64(std::as_bytes(std::span(text.data(), text.size()))));
}

}  // namespace

int64_t CheckpointTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const CheckpointTensor* CheckpointManifest::find(const std::string& name) const {
  for (const CheckpointTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string manifest_to_json(const CheckpointManifest& m) {
  json sources = json::array();
  for (const SamplerState& s : m.loader.sources)
    sources.push_back({{"epoch", s.epoch}, {"position", s.position}});
  json tensors = json::object();
  for (const CheckpointTensor& t : m.tensors) {
    json pieces = json::array();
    for (const TensorPiece& p : t.pieces)
      pieces.push_back({{"file", p.file},
                        {"key", p.key},
                        {"box_offset", p.box.offset},
                        {"box_shape", p.box.shape},
                        {"begin", p.begin},
                        {"end", p.end}});
    tensors[t.name] = {{"shape", t.shape}, {"dtype", t.dtype}, {"pieces", std::move(pieces)}};
  }
  json files = json::array();
  for (const CheckpointFile& f : m.files)
    files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"xxh3", f.xxh3}});
  json j = {{"format", "symphony-checkpoint"},
            {"format_version", kCheckpointFormatVersion},
            {"step", m.step},
            {"tokens_seen", m.tokens_seen},
            {"optimizer_steps", m.optimizer_steps},
            {"lr", m.lr},
            {"seed", m.seed},
            {"loader_state", {{"samples", m.loader.samples}, {"sources", std::move(sources)}}},
            {"tokenizer_fingerprint", m.tokenizer_fingerprint},
            {"layout",
             {{"world", m.layout.world},
              {"dp", m.layout.dp},
              {"zero_stage", m.layout.zero_stage},
              {"ep", m.layout.ep},
              {"pp", m.layout.pp},
              {"description", m.layout.description}}},
            {"config", m.config_toml},
            {"files", std::move(files)},
            {"tensors", std::move(tensors)}};
  if (!m.fp8_state.is_null()) j["fp8_state"] = m.fp8_state;
  j[kChecksumKey] = canonical_checksum(j);
  return j.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

// Whether `v` holds a T, which then goes to `out`. Stricter than nlohmann's get<T>(), which
// converts between numbers and booleans and turns an out-of-range float into an integer by
// undefined behaviour: an integer must be a JSON integer within T's range.
template <typename T>
bool read_json(const json& v, T& out) {
  if constexpr (std::is_same_v<T, json>) {
    out = v;
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return false;
    out = v.get<std::string>();
    return true;
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) return false;
    out = v.get<double>();
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
      out = static_cast<T>(u);
      return true;
    }
    if (!v.is_number_integer()) return false;
    const auto i = v.get<int64_t>();
    if (!std::in_range<T>(i)) return false;
    out = static_cast<T>(i);
    return true;
  } else {  // std::vector<U>
    if (!v.is_array()) return false;
    T values(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      if (!read_json(v[i], values[i])) return false;
    out = std::move(values);
    return true;
  }
}

// Reads j[key] as T, with an error naming the manifest and the field.
template <typename T>
Status get(const json& j, const char* key, T& out, const std::filesystem::path& path,
           const std::string& where) {
  auto it = j.find(key);
  if (it == j.end())
    return Error::corrupt("{}: {}{} is missing", path.string(), where, key);
  if (!read_json(*it, out)) {
    const std::string found = it->is_number() ? "number " + it->dump() : it->type_name();
    return Error::corrupt("{}: {}{} has the wrong type or range ({})", path.string(), where, key,
                          found);
  }
  return Status::ok();
}

// Whether the pieces of `t` hold each of its elements exactly once: every box inside the tensor
// and every run inside its box; the runs of one box disjoint; different boxes disjoint; and as
// many elements held as the tensor has. Works on boxes and runs, never element by element or run
// of the tensor by run, so its cost does not grow with the tensor.
Status check_coverage(const CheckpointTensor& t, const std::filesystem::path& path) {
  std::map<TensorBox, std::vector<std::pair<int64_t, int64_t>>> runs;  // box -> [begin, end)
  for (const TensorPiece& p : t.pieces) {
    if (!box_inside(t.shape, p.box))
      return Error::corrupt("{}: tensor {} of shape [{}] has a piece in {} whose box ({}) lies "
                            "outside it", path.string(), t.name, fmt::join(t.shape, ", "), p.file,
                            p.box.describe());
    if (p.begin < 0 || p.end <= p.begin || p.end > p.box.numel())
      return Error::corrupt("{}: tensor {} has a piece in {} of elements [{}, {}) of a box of {} "
                            "elements ({})", path.string(), t.name, p.file, p.begin, p.end,
                            p.box.numel(), p.box.describe());
    runs[p.box].emplace_back(p.begin, p.end);
  }
  const std::string once =
      fmt::format("{}: the pieces of tensor {} do not cover its {} elements exactly once",
                  path.string(), t.name, t.numel());
  int64_t held = 0;  // no overflow: the runs checked so far are disjoint parts of the tensor
  for (auto& [box, ranges] : runs) {
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i].first < ranges[i - 1].second)
        return Error::corrupt("{}: two pieces of box {} hold its element {}", once,
                              box.describe(), ranges[i].first);
    for (const auto& [begin, end] : ranges) held += end - begin;
  }
  // The map orders boxes by offset, so a box can only meet the following ones that start along
  // dim 0 before it ends there.
  for (auto a = runs.begin(); a != runs.end() && !t.shape.empty(); ++a) {
    const int64_t a_end = a->first.offset[0] + a->first.shape[0];
    for (auto b = std::next(a); b != runs.end() && b->first.offset[0] < a_end; ++b)
      if (boxes_intersect(a->first, b->first))
        return Error::corrupt("{}: pieces of boxes {} and {}, which intersect", once,
                              a->first.describe(), b->first.describe());
  }
  if (held != t.numel())
    return Error::corrupt("{}: they hold {} of them", once, held);
  return Status::ok();
}

}  // namespace

Result<CheckpointManifest> manifest_from_json(std::string_view text,
                                              const std::filesystem::path& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    return Error::corrupt("{}: not valid JSON: {}", path.string(), e.what());
  }
  const auto format = j.find("format");  // end() unless j is an object
  if (format == j.end() || *format != "symphony-checkpoint")
    return Error::corrupt("{}: not a Symphony checkpoint manifest (no \"format\": "
                          "\"symphony-checkpoint\")", path.string());
  CheckpointManifest m;
  SYM_TRY(get(j, "format_version", m.format_version, path, ""));
  if (m.format_version < 1 || m.format_version > kCheckpointFormatVersion)
    return Error::corrupt("{}: format_version {} is not supported by this build (1 to {})",
                          path.string(), m.format_version, kCheckpointFormatVersion);
  // The checksum first: no field of an edited or damaged manifest is trusted, nor reported as if
  // it were the problem. Version 1 manifests predate the field and are read without it.
  if (auto it = j.find(kChecksumKey); it != j.end()) {
    if (!it->is_string())
      return Error::corrupt("{}: {} has the wrong type ({})", path.string(), kChecksumKey,
                            it->type_name());
    const std::string stored = it->get<std::string>();
    j.erase(it);
    const std::string actual = canonical_checksum(j);
    if (actual != stored)
      return Error::corrupt("{}: the manifest's content hashes to {} but its {} says {} (edited "
                            "or corrupt)", path.string(), actual, kChecksumKey, stored);
  } else if (m.format_version >= 2) {
    return Error::corrupt("{}: {} is missing (format_version {} manifests carry their checksum)",
                          path.string(), kChecksumKey, m.format_version);
  }
  SYM_TRY(get(j, "step", m.step, path, ""));
  SYM_TRY(get(j, "tokens_seen", m.tokens_seen, path, ""));
  SYM_TRY(get(j, "optimizer_steps", m.optimizer_steps, path, ""));
  SYM_TRY(get(j, "lr", m.lr, path, ""));
  SYM_TRY(get(j, "seed", m.seed, path, ""));
  SYM_TRY(get(j, "tokenizer_fingerprint", m.tokenizer_fingerprint, path, ""));
  SYM_TRY(get(j, "config", m.config_toml, path, ""));
  if (j.contains("fp8_state")) {
    m.fp8_state = j["fp8_state"];
    if (!m.fp8_state.is_object())
      return Error::corrupt("{}: fp8_state must be an object", path.string());
  }
  json loader, layout, files, tensors;
  SYM_TRY(get(j, "loader_state", loader, path, ""));
  SYM_TRY(get(loader, "samples", m.loader.samples, path, "loader_state."));
  json sources;
  SYM_TRY(get(loader, "sources", sources, path, "loader_state."));
  for (const json& s : sources) {
    SamplerState state;
    SYM_TRY(get(s, "epoch", state.epoch, path, "loader_state.sources[]."));
    SYM_TRY(get(s, "position", state.position, path, "loader_state.sources[]."));
    m.loader.sources.push_back(state);
  }
  SYM_TRY(get(j, "layout", layout, path, ""));
  SYM_TRY(get(layout, "world", m.layout.world, path, "layout."));
  SYM_TRY(get(layout, "dp", m.layout.dp, path, "layout."));
  SYM_TRY(get(layout, "zero_stage", m.layout.zero_stage, path, "layout."));
  SYM_TRY(get(layout, "description", m.layout.description, path, "layout."));
  if (layout.contains("ep")) SYM_TRY(get(layout, "ep", m.layout.ep, path, "layout."));
  if (layout.contains("pp")) SYM_TRY(get(layout, "pp", m.layout.pp, path, "layout."));
  SYM_TRY(get(j, "files", files, path, ""));
  std::set<std::string> file_names;
  for (const json& f : files) {
    CheckpointFile file;
    SYM_TRY(get(f, "name", file.name, path, "files[]."));
    SYM_TRY(get(f, "bytes", file.bytes, path, "files[]."));
    SYM_TRY(get(f, "xxh3", file.xxh3, path, "files[]."));
    if (file.name.find('/') != std::string::npos || file.name.starts_with("."))
      return Error::corrupt("{}: file name '{}' is not a plain name", path.string(), file.name);
    file_names.insert(file.name);
    m.files.push_back(std::move(file));
  }
  SYM_TRY(get(j, "tensors", tensors, path, ""));
  if (!tensors.is_object()) return Error::corrupt("{}: tensors is not an object", path.string());
  for (auto& [name, t] : tensors.items()) {
    CheckpointTensor tensor;
    tensor.name = name;
    const std::string where = "tensors[\"" + name + "\"].";
    SYM_TRY(get(t, "shape", tensor.shape, path, where));
    // numel() multiplies the dims: they must be non-negative and their product computable.
    std::optional<int64_t> elements = 1;
    for (int64_t d : tensor.shape)
      if (elements) elements = d < 0 ? std::nullopt : checked_mul(*elements, d);
    if (!elements)
      return Error::corrupt("{}: tensor {} has shape [{}]: a negative dim or more than 2^63 "
                            "elements", path.string(), name, fmt::join(tensor.shape, ", "));
    SYM_TRY(get(t, "dtype", tensor.dtype, path, where));
    json pieces;
    SYM_TRY(get(t, "pieces", pieces, path, where));
    for (const json& p : pieces) {
      TensorPiece piece;
      SYM_TRY(get(p, "file", piece.file, path, where + "pieces[]."));
      SYM_TRY(get(p, "key", piece.key, path, where + "pieces[]."));
      if (m.format_version >= 3) {
        SYM_TRY(get(p, "box_offset", piece.box.offset, path, where + "pieces[]."));
        SYM_TRY(get(p, "box_shape", piece.box.shape, path, where + "pieces[]."));
      } else {
        piece.box = TensorBox::whole(tensor.shape);
      }
      SYM_TRY(get(p, "begin", piece.begin, path, where + "pieces[]."));
      SYM_TRY(get(p, "end", piece.end, path, where + "pieces[]."));
      if (!file_names.count(piece.file))
        return Error::corrupt("{}: tensor {} has a piece in {}, which the manifest does not list",
                              path.string(), name, piece.file);
      tensor.pieces.push_back(std::move(piece));
    }
    SYM_TRY(check_coverage(tensor, path));
    m.tensors.push_back(std::move(tensor));
  }
  return m;
}

Result<CheckpointManifest> read_checkpoint_manifest(const std::filesystem::path& step_dir) {
  const std::filesystem::path path = step_dir / "manifest.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return os_error("opening", path, errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return os_error("reading", path, errno);
  SYM_TRY_ASSIGN(CheckpointManifest m, manifest_from_json(text.str(), path));
  // A manifest copied or edited into another step's directory would resume the wrong state.
  std::filesystem::path name = step_dir.lexically_normal();
  if (!name.has_filename()) name = name.parent_path();  // "step-00000060/"
  const std::optional<int64_t> named = step_of_dir_name(name.filename().string());
  if (named && *named != m.step)
    return Error::corrupt("{}: step {} does not match the directory name {}", path.string(),
                          m.step, name.filename().string());
  return m;
}

}  // namespace symphony
