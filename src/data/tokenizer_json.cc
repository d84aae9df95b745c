#include "data/tokenizer_json.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/file_io.h"
#include "data/byte_level.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

Result<std::string> read_whole_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("opening", path, errno);
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return os_error("reading", path, err);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

Result<Json> parse_json(std::string_view text, std::string_view source) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    return Error::corrupt("{}: invalid JSON: {}", source, e.what());
  }
}

// Ids index tables as long as the largest id (here, in data/bpe_model.h, and the model's
// embedding), so a short file naming id 2^30 would cost tens of gigabytes. Files number their
// tokens from 0 without large gaps; ids are refused from twice the number of tokens a file lists
// (vocabulary entries and added tokens), plus 1024, upwards.
int64_t token_id_limit(size_t tokens_listed) {
  return 2 * static_cast<int64_t>(tokens_listed) + 1024;
}

bool is_token_id(const Json& value, int64_t limit) {
  if (!value.is_number_integer()) return false;
  if (value.is_number_unsigned()) return value.get<uint64_t>() < static_cast<uint64_t>(limit);
  return value.get<int64_t>() >= 0 && value.get<int64_t>() < limit;
}

// object[key] as a boolean, `fallback` when absent or null. nlohmann's value() would throw for
// another type.
Result<bool> read_flag(const Json& object, const char* key, bool fallback, std::string_view source,
                       std::string_view field) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    return Error::corrupt("{}: {}.{} is {}, expected true or false", source, field, key,
                          it->dump());
  return it->get<bool>();
}

// The vocabulary of a file: byte-level token text -> id, checked and turned into raw bytes.
struct FileVocab {
  int64_t id_limit = 0;                          // token_id_limit() of the file
  std::unordered_map<std::string, int32_t> ids;  // token text as in the file -> id
  std::vector<std::string> tokens;               // [id] raw bytes
};

Status add_vocab_entry(FileVocab& vocab, std::string_view source, std::string_view field,
                       const std::string& text, const Json& value,
                       const std::unordered_set<int32_t>& special_ids) {
  if (!is_token_id(value, vocab.id_limit)) {
    return Error::corrupt("{}: {}[\"{}\"] is {}, expected an id (an integer from 0 to {} for the "
                          "tokens listed)", source, field, text, value.dump(), vocab.id_limit - 1);
  }
  const auto id = value.get<int32_t>();
  vocab.ids[text] = id;
  if (special_ids.count(id)) return Status::ok();  // its content comes from the special token
  std::optional<std::string> bytes = byte_level_to_bytes(text);
  if (!bytes || bytes->empty()) {
    return Error::corrupt("{}: {}[\"{}\"] (id {}) is not a byte-level token", source, field, text,
                          id);
  }
  if (vocab.tokens.size() <= size_t(id)) vocab.tokens.resize(size_t(id) + 1);
  if (!vocab.tokens[size_t(id)].empty()) {
    return Error::corrupt("{}: {}: id {} is used twice", source, field, id);
  }
  vocab.tokens[size_t(id)] = std::move(*bytes);
  return Status::ok();
}

Result<std::pair<int32_t, int32_t>> merge_ids(const FileVocab& vocab, std::string_view source,
                                              std::string_view where, const std::string& left,
                                              const std::string& right) {
  auto l = vocab.ids.find(left);
  if (l == vocab.ids.end())
    return Error::corrupt("{}: {}: '{}' is not in the vocabulary", source, where, left);
  auto r = vocab.ids.find(right);
  if (r == vocab.ids.end())
    return Error::corrupt("{}: {}: '{}' is not in the vocabulary", source, where, right);
  return std::pair{l->second, r->second};
}

// "a b" -> ("a", "b"). Byte-level tokens never hold a plain space, so the split is unambiguous.
bool split_merge(std::string_view line, std::string& left, std::string& right) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
      line.find(' ', space + 1) != std::string_view::npos) {
    return false;
  }
  left.assign(line.substr(0, space));
  right.assign(line.substr(space + 1));
  return true;
}

// Accepts what this engine implements exactly: a ByteLevel step (alone or in a Sequence) with
// GPT-2's regex and no prefix space.
Status check_byte_level(const Json& step, std::string_view source, std::string_view field) {
  if (!step.is_object() || !step.contains("type") || !step["type"].is_string()) {
    return Error::corrupt("{}: {} has no \"type\"", source, field);
  }
  const std::string type = step["type"].get<std::string>();
  if (type == "Sequence") {
    const char* key = step.contains("pretokenizers") ? "pretokenizers" : "decoders";
    if (!step.contains(key) || !step[key].is_array() || step[key].size() != 1) {
      return Error::invalid("{}: {}: only a Sequence of one ByteLevel step is supported", source,
                            field);
    }
    return check_byte_level(step[key][0], source, fmt::format("{}.{}[0]", field, key));
  }
  if (type != "ByteLevel") {
    return Error::invalid("{}: {}.type is \"{}\"; only ByteLevel (GPT-2 regex) is supported",
                          source, field, type);
  }
  SYM_TRY_ASSIGN(const bool add_prefix_space,
                 read_flag(step, "add_prefix_space", false, source, field));
  SYM_TRY_ASSIGN(const bool use_regex, read_flag(step, "use_regex", true, source, field));
  if (add_prefix_space && field.starts_with("pre_tokenizer")) {
    return Error::invalid("{}: {}.add_prefix_space is true; only false is supported", source,
                          field);
  }
  if (!use_regex) {
    return Error::invalid("{}: {}.use_regex is false; only GPT-2's regex is supported", source,
                          field);
  }
  return Status::ok();
}

}  // namespace

Result<BpeModel> parse_tokenizer_json(std::string_view json_text, std::string_view source) {
  SYM_TRY_ASSIGN(Json root, parse_json(json_text, source));
  if (!root.is_object()) return Error::corrupt("{}: the top level is not a JSON object", source);
  if (!root.contains("model") || !root["model"].is_object())
    return Error::corrupt("{}: missing field \"model\"", source);
  const Json& model = root["model"];
  if (model.contains("type") && model["type"] != "BPE") {
    return Error::invalid("{}: model.type is {}; only BPE is supported", source,
                          model["type"].dump());
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      return Error::invalid("{}: model.{} is set; only byte-level BPE without it is supported",
                            source, key);
  }
  SYM_TRY_ASSIGN(const bool ignore_merges,
                 read_flag(model, "ignore_merges", false, source, "model"));
  if (ignore_merges)
    return Error::invalid("{}: model.ignore_merges is true; only false is supported", source);
  if (root.contains("normalizer") && !root["normalizer"].is_null())
    return Error::invalid("{}: \"normalizer\" is set; only tokenizers without one are supported",
                          source);
  if (!root.contains("pre_tokenizer") || root["pre_tokenizer"].is_null())
    return Error::invalid("{}: missing field \"pre_tokenizer\" (expected ByteLevel)", source);
  SYM_TRY(check_byte_level(root["pre_tokenizer"], source, "pre_tokenizer"));
  if (root.contains("decoder") && !root["decoder"].is_null())
    SYM_TRY(check_byte_level(root["decoder"], source, "decoder"));

  if (!model.contains("vocab") || !model["vocab"].is_object())
    return Error::corrupt("{}: missing field model.vocab (an object of token: id)", source);
  const bool has_added = root.contains("added_tokens") && !root["added_tokens"].is_null();
  if (has_added && !root["added_tokens"].is_array())
    return Error::corrupt("{}: added_tokens is not an array", source);
  FileVocab vocab;
  vocab.id_limit =
      token_id_limit(model["vocab"].size() + (has_added ? root["added_tokens"].size() : 0));

  std::vector<SpecialToken> specials;
  std::unordered_set<int32_t> special_ids;
  if (has_added) {
    const Json& added = root["added_tokens"];
    for (size_t i = 0; i < added.size(); ++i) {
      const Json& t = added[i];
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string()) {
        return Error::corrupt("{}: added_tokens[{}] needs an integer \"id\" and a string "
                              "\"content\"", source, i);
      }
      if (!is_token_id(t["id"], vocab.id_limit))
        return Error::corrupt("{}: added_tokens[{}].id is {}, expected an id (an integer from 0 "
                              "to {} for the tokens listed)", source, i, t["id"].dump(),
                              vocab.id_limit - 1);
      specials.push_back({t["content"].get<std::string>(), t["id"].get<int32_t>()});
      special_ids.insert(specials.back().id);
    }
  }

  std::unordered_map<std::string, int32_t> special_by_text;
  for (const SpecialToken& t : specials) special_by_text.emplace(t.content, t.id);
  for (const auto& [text, value] : model["vocab"].items()) {
    SYM_TRY(add_vocab_entry(vocab, source, "model.vocab", text, value, special_ids));
    // A text is one token: a vocabulary entry spelling an added token must carry its id, or the
    // file maps one text to two ids (and writing it back would keep only one).
    const auto special = special_by_text.find(text);
    if (special != special_by_text.end() && special->second != vocab.ids[text]) {
      return Error::corrupt("{}: model.vocab[\"{}\"] is {} but added_tokens gives \"{}\" the id "
                            "{}; a token text has one id", source, text, vocab.ids[text], text,
                            special->second);
    }
  }
  if (!model.contains("merges") || !model["merges"].is_array())
    return Error::corrupt("{}: missing field model.merges (an array)", source);
  const Json& merges_json = model["merges"];
  std::vector<std::pair<int32_t, int32_t>> merges;
  merges.reserve(merges_json.size());
  std::string left, right;
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const Json& m = merges_json[i];
    const std::string where = fmt::format("model.merges[{}]", i);
    if (m.is_string()) {
      if (!split_merge(m.get_ref<const std::string&>(), left, right))
        return Error::corrupt("{}: {} is {}, expected \"left right\"", source, where, m.dump());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return Error::corrupt("{}: {} is {}, expected \"left right\" or [\"left\", \"right\"]",
                            source, where, m.dump());
    }
    SYM_TRY_ASSIGN(auto ids, merge_ids(vocab, source, where, left, right));
    merges.push_back(ids);
  }
  Result<BpeModel> result =
      BpeModel::create(std::move(vocab.tokens), std::move(merges), std::move(specials));
  if (!result.has_value()) return result.error().with_context("{}", source);
  return result;
}

Result<BpeModel> load_tokenizer_json(const fs::path& path) {
  SYM_TRY_ASSIGN(std::string text, read_whole_file(path));
  return parse_tokenizer_json(text, path.string());
}

std::string tokenizer_json_text(const BpeModel& model) {
  OrderedJson added = OrderedJson::array();
  for (const SpecialToken& special : model.specials()) {
    added.push_back({{"id", special.id},
                     {"content", special.content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  OrderedJson vocab = OrderedJson::object();
  for (int32_t id = 0; id < model.id_limit(); ++id) {
    const std::string& bytes = model.token_bytes(id);
    if (bytes.empty()) continue;
    vocab[model.is_special(id) ? bytes : bytes_to_byte_level(bytes)] = id;
  }
  OrderedJson merges = OrderedJson::array();
  for (const auto& [left, right] : model.merges()) {
    merges.push_back(bytes_to_byte_level(model.token_bytes(left)) + " " +
                     bytes_to_byte_level(model.token_bytes(right)));
  }
  const OrderedJson byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
      {"use_regex", true}};
  OrderedJson root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", std::move(added)},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", std::move(vocab)},
        {"merges", std::move(merges)}}},
  };
  return root.dump(2) + "\n";
}

Status save_tokenizer_json(const BpeModel& model, const fs::path& path) {
  return write_file_atomic(path, tokenizer_json_text(model));
}

Result<BpeModel> load_gpt2_tokenizer(const fs::path& encoder_json, const fs::path& vocab_bpe) {
  SYM_TRY_ASSIGN(std::string encoder_text, read_whole_file(encoder_json));
  const std::string source = encoder_json.string();
  SYM_TRY_ASSIGN(Json encoder, parse_json(encoder_text, source));
  if (!encoder.is_object())
    return Error::corrupt("{}: expected a JSON object of token: id", source);
  std::vector<SpecialToken> specials;
  std::unordered_set<int32_t> special_ids;
  FileVocab vocab;
  vocab.id_limit = token_id_limit(encoder.size());
  // An id out of range is reported with the vocabulary below.
  if (encoder.contains("<|endoftext|>") && is_token_id(encoder["<|endoftext|>"], vocab.id_limit)) {
    specials.push_back({"<|endoftext|>", encoder["<|endoftext|>"].get<int32_t>()});
    special_ids.insert(specials.back().id);
  }
  for (const auto& [text, value] : encoder.items()) {
    SYM_TRY(add_vocab_entry(vocab, source, "encoder", text, value, special_ids));
  }

  SYM_TRY_ASSIGN(std::string bpe_text, read_whole_file(vocab_bpe));
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::string left, right;
  size_t line_number = 0;
  for (size_t pos = 0; pos < bpe_text.size();) {
    size_t end = bpe_text.find('\n', pos);
    if (end == std::string::npos) end = bpe_text.size();
    std::string_view line(bpe_text.data() + pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.starts_with("#version"))) continue;
    const std::string where = fmt::format("line {}", line_number);
    if (!split_merge(line, left, right)) {
      return Error::corrupt("{}: {} is '{}', expected 'left right'", vocab_bpe.string(), where,
                            line);
    }
    SYM_TRY_ASSIGN(auto ids, merge_ids(vocab, vocab_bpe.string(), where, left, right));
    merges.push_back(ids);
  }
  Result<BpeModel> result =
      BpeModel::create(std::move(vocab.tokens), std::move(merges), std::move(specials));
  if (!result.has_value())
    return result.error().with_context("{} + {}", source, vocab_bpe.string());
  return result;
}

}  // namespace symphony
