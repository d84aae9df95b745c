#include "data/dataset_manifest.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace symphony {
namespace {

using Json = nlohmann::ordered_json;

std::string hex64(uint64_t value) { return fmt::format("{:016x}", value); }

Json split_to_json(const SplitEntry& split) {
  Json shards = Json::array();
  for (const ShardEntry& s : split.shards) {
    shards.push_back({{"path", s.path},
                      {"index", s.index_path},
                      {"tokens", s.tokens},
                      {"documents", s.documents},
                      {"fnv1a64", hex64(s.checksum)},
                      {"index_fnv1a64", hex64(s.index_checksum)}});
  }
  return {{"documents", split.documents}, {"tokens", split.tokens}, {"shards", std::move(shards)}};
}

// Reads manifest values with messages naming the key; nlohmann's own exceptions never escape.
struct Reader {
  std::string_view source;

  Result<const Json*> get(const Json& object, std::string_view key, std::string_view where) const {
    if (!object.is_object()) return Error::corrupt("{}: {} is not an object", source, where);
    auto it = object.find(key);
    if (it == object.end()) return Error::corrupt("{}: {} has no \"{}\"", source, where, key);
    return &*it;
  }
  Status integer(const Json& object, std::string_view key, std::string_view where,
                 int64_t& out) const {
    SYM_TRY_ASSIGN(const Json* v, get(object, key, where));
    if (!v->is_number_integer() || v->get<int64_t>() < 0)
      return Error::corrupt("{}: {}.{} must be a non-negative integer", source, where, key);
    out = v->get<int64_t>();
    return Status::ok();
  }
  Status number(const Json& object, std::string_view key, std::string_view where,
                double& out) const {
    SYM_TRY_ASSIGN(const Json* v, get(object, key, where));
    if (!v->is_number()) return Error::corrupt("{}: {}.{} must be a number", source, where, key);
    out = v->get<double>();
    return Status::ok();
  }
  Status string(const Json& object, std::string_view key, std::string_view where,
                std::string& out) const {
    SYM_TRY_ASSIGN(const Json* v, get(object, key, where));
    if (!v->is_string()) return Error::corrupt("{}: {}.{} must be a string", source, where, key);
    out = v->get<std::string>();
    return Status::ok();
  }
  Status hex(const Json& object, std::string_view key, std::string_view where,
             uint64_t& out) const {
    std::string text;
    SYM_TRY(string(object, key, where, text));
    if (text.size() != 16 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
      return Error::corrupt("{}: {}.{} = \"{}\" is not 16 lowercase hex digits", source, where,
                            key, text);
    out = std::stoull(text, nullptr, 16);
    return Status::ok();
  }

  Status split(const Json& root, Split which, SplitEntry& out) const {
    const std::string_view name = split_name(which);
    SYM_TRY_ASSIGN(const Json* s, get(root, name, "the manifest"));
    SYM_TRY(integer(*s, "documents", name, out.documents));
    SYM_TRY(integer(*s, "tokens", name, out.tokens));
    SYM_TRY_ASSIGN(const Json* shards, get(*s, "shards", name));
    if (!shards->is_array()) return Error::corrupt("{}: {}.shards must be an array", source, name);
    int64_t tokens = 0, documents = 0;
    for (size_t i = 0; i < shards->size(); ++i) {
      const std::string where = fmt::format("{}.shards[{}]", name, i);
      const Json& j = (*shards)[i];
      ShardEntry e;
      SYM_TRY(string(j, "path", where, e.path));
      SYM_TRY(string(j, "index", where, e.index_path));
      SYM_TRY(integer(j, "tokens", where, e.tokens));
      SYM_TRY(integer(j, "documents", where, e.documents));
      SYM_TRY(hex(j, "fnv1a64", where, e.checksum));
      SYM_TRY(hex(j, "index_fnv1a64", where, e.index_checksum));
      if (e.path.empty() || e.path.find('/') != std::string::npos || e.path[0] == '.')
        return Error::corrupt("{}: {}.path \"{}\" must be a plain file name", source, where, e.path);
      tokens += e.tokens;
      documents += e.documents;
      out.shards.push_back(std::move(e));
    }
    if (tokens != out.tokens || documents != out.documents)
      return Error::corrupt("{}: {} promises {} tokens in {} documents but its shards add up to "
                            "{} tokens in {} documents", source, name, out.tokens, out.documents,
                            tokens, documents);
    return Status::ok();
  }
};

}  // namespace

std::string_view split_name(Split split) { return split == Split::kTrain ? "train" : "val"; }

std::string_view split_unit_name(SplitUnit unit) {
  return unit == SplitUnit::kDocuments ? "documents" : "tokens";
}

std::string manifest_to_json(const DatasetManifest& m) {
  Json inputs = Json::array();
  for (const InputEntry& in : m.inputs) {
    inputs.push_back({{"path", in.path},
                      {"format", in.format},
                      {"compression", in.compression},
                      {"bytes", in.bytes},
                      {"text_bytes", in.text_bytes},
                      {"documents", in.documents},
                      {"empty_documents", in.empty_documents},
                      {"bad_lines", in.bad_lines}});
  }
  Json root = {
      {"format", kDatasetFormat},
      {"version", kDatasetVersion},
      {"tokenizer",
       {{"name", m.tokenizer_name},
        {"fingerprint", m.tokenizer_fingerprint},
        {"vocab_size", m.vocab_size},
        {"eot_token", m.eot_token}}},
      {"token_bytes", m.token_bytes},
      {"split",
       {{"seed", m.seed},
        {"val_fraction", m.val_fraction},
        {"by", split_unit_name(m.split_unit)}}},
      {"text_field", m.text_field},
      {"shard_tokens", m.shard_tokens},
      {"input_bytes", m.input_bytes},
      {"empty_documents", m.empty_documents},
      {"bad_lines", m.bad_lines},
      {"train", split_to_json(m.train)},
      {"val", split_to_json(m.val)},
      {"inputs", std::move(inputs)},
  };
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<DatasetManifest> parse_manifest(std::string_view text, std::string_view source) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {
    return Error::corrupt("{}: not valid JSON: {}", source, e.what());
  }
  const Reader r{source};
  DatasetManifest m;
  std::string format;
  SYM_TRY(r.string(root, "format", "the manifest", format));
  if (format != kDatasetFormat)
    return Error::corrupt("{}: format is \"{}\", expected \"{}\"", source, format, kDatasetFormat);
  int64_t version = 0;
  SYM_TRY(r.integer(root, "version", "the manifest", version));
  if (version != kDatasetVersion)
    return Error::corrupt("{}: dataset version {}, this build reads version {}; prepare the data "
                          "again with symphony data prepare", source, version, kDatasetVersion);
  SYM_TRY_ASSIGN(const Json* tok, r.get(root, "tokenizer", "the manifest"));
  SYM_TRY(r.string(*tok, "name", "tokenizer", m.tokenizer_name));
  SYM_TRY(r.string(*tok, "fingerprint", "tokenizer", m.tokenizer_fingerprint));
  SYM_TRY(r.integer(*tok, "vocab_size", "tokenizer", m.vocab_size));
  int64_t eot = 0, token_bytes = 0, seed = 0;
  SYM_TRY(r.integer(*tok, "eot_token", "tokenizer", eot));
  m.eot_token = static_cast<int32_t>(eot);
  SYM_TRY(r.integer(root, "token_bytes", "the manifest", token_bytes));
  m.token_bytes = static_cast<int>(token_bytes);
  SYM_TRY_ASSIGN(const Json* split, r.get(root, "split", "the manifest"));
  SYM_TRY(r.integer(*split, "seed", "split", seed));
  m.seed = static_cast<uint64_t>(seed);
  SYM_TRY(r.number(*split, "val_fraction", "split", m.val_fraction));
  // "by" is optional: manifests written before it existed split by documents.
  if (split->contains("by")) {
    std::string by;
    SYM_TRY(r.string(*split, "by", "split", by));
    if (by == split_unit_name(SplitUnit::kDocuments)) m.split_unit = SplitUnit::kDocuments;
    else if (by == split_unit_name(SplitUnit::kTokens)) m.split_unit = SplitUnit::kTokens;
    else
      return Error::corrupt("{}: split.by is \"{}\", expected \"documents\" or \"tokens\"",
                            source, by);
  }
  SYM_TRY(r.string(root, "text_field", "the manifest", m.text_field));
  SYM_TRY(r.integer(root, "shard_tokens", "the manifest", m.shard_tokens));
  SYM_TRY(r.integer(root, "input_bytes", "the manifest", m.input_bytes));
  SYM_TRY(r.integer(root, "empty_documents", "the manifest", m.empty_documents));
  SYM_TRY(r.integer(root, "bad_lines", "the manifest", m.bad_lines));
  SYM_TRY(r.split(root, Split::kTrain, m.train));
  SYM_TRY(r.split(root, Split::kVal, m.val));
  SYM_TRY_ASSIGN(const Json* inputs, r.get(root, "inputs", "the manifest"));
  if (!inputs->is_array()) return Error::corrupt("{}: inputs must be an array", source);
  for (size_t i = 0; i < inputs->size(); ++i) {
    const std::string where = fmt::format("inputs[{}]", i);
    const Json& j = (*inputs)[i];
    InputEntry e;
    SYM_TRY(r.string(j, "path", where, e.path));
    SYM_TRY(r.string(j, "format", where, e.format));
    SYM_TRY(r.string(j, "compression", where, e.compression));
    SYM_TRY(r.integer(j, "bytes", where, e.bytes));
    SYM_TRY(r.integer(j, "text_bytes", where, e.text_bytes));
    SYM_TRY(r.integer(j, "documents", where, e.documents));
    SYM_TRY(r.integer(j, "empty_documents", where, e.empty_documents));
    SYM_TRY(r.integer(j, "bad_lines", where, e.bad_lines));
    m.inputs.push_back(std::move(e));
  }
  return m;
}

Result<DatasetManifest> read_manifest(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kManifestFileName;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return Error::not_found("{}: no {}; is {} a dataset made by symphony data prepare?",
                            path.string(), kManifestFileName, dir.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::io("{}: cannot open", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::io("{}: read failed", path.string());
  return parse_manifest(text.str(), path.string());
}

}  // namespace symphony
