#include "data/prepare.h"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/file_io.h"
#include "core/rng.h"
#include "data/token_file.h"
#include "data/tokenizer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

bool is_glob_pattern(const std::string& input) {
  return input.find_first_of("*?[") != std::string::npos;
}

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

Status add_directory(const fs::path& dir, std::vector<fs::path>& files) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Error::io("listing {}: {}", dir.string(), ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Error::io("listing {}: {}", dir.string(), ec.message());
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) found.push_back(it->path());
  }
  if (ec) return Error::io("listing {}: {}", dir.string(), ec.message());
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return Status::ok();
}

Status add_path(const fs::path& path, std::vector<fs::path>& files) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status)) return add_directory(path, files);
  if (fs::is_regular_file(status)) {
    files.push_back(path);
    return Status::ok();
  }
  if (!fs::exists(status)) return Error::not_found("input {} does not exist", path.string());
  return Error::invalid("input {} is neither a file nor a directory", path.string());
}

Status add_glob(const std::string& pattern, std::vector<fs::path>& files) {
  glob_t matches{};
  int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
  std::vector<fs::path> found;
  if (rc == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) found.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  if (rc == GLOB_NOMATCH || (rc == 0 && found.empty()))
    return Error::not_found("input pattern {} matches no files", pattern);
  if (rc != 0) return Error::io("expanding input pattern {}: glob error {}", pattern, rc);
  std::sort(found.begin(), found.end());
  for (const fs::path& path : found) SYM_TRY(add_path(path, files));
  return Status::ok();
}

// The ordered, de-duplicated list of input files.
Result<std::vector<fs::path>> list_input_files(const std::vector<std::string>& inputs) {
  if (inputs.empty()) return Error::invalid("no inputs given");
  std::vector<fs::path> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (is_glob_pattern(input) && !fs::exists(input, ec)) {
      SYM_TRY(add_glob(input, files));
    } else {
      SYM_TRY(add_path(input, files));
    }
  }
  std::vector<fs::path> unique;
  std::unordered_set<std::string> seen;
  for (fs::path& file : files) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(file, ec);
    if (seen.insert(ec ? file.string() : key.string()).second) unique.push_back(std::move(file));
  }
  if (unique.empty()) {
    std::string listed;
    for (const std::string& input : inputs) listed += (listed.empty() ? "" : ", ") + input;
    return Error::not_found("no input files found in: {}", listed);
  }
  return unique;
}

// Reads a whole file into `out`, reusing its capacity.
Status read_file(const fs::path& path, std::string& out) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::io("reading {}: {}", path.string(), std::strerror(errno));
  char chunk[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error::io("reading {}: {}", path.string(), std::strerror(err));
    }
    if (n == 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::ok();
}

std::string hex64(uint64_t value) { return fmt::format("{:016x}", value); }

Result<std::string> manifest_text(const PrepareOptions& options, const Tokenizer& tokenizer,
                                  const PrepareStats& stats, const nlohmann::ordered_json& files) {
  try {
    nlohmann::ordered_json manifest = {
        {"format", "symphony-dataset"},
        {"version", 1},
        {"tokenizer",
         {{"name", tokenizer.name()},
          {"vocab_size", tokenizer.vocab_size()},
          {"eot_token", tokenizer.eot_token()}}},
        {"split", {{"seed", options.seed}, {"val_fraction", options.val_fraction}}},
        {"input_files", stats.files},
        {"empty_files", stats.empty_files},
        {"input_bytes", stats.input_bytes},
        {"train",
         {{"path", "train.tok"},
          {"documents", stats.train_documents},
          {"tokens", stats.train_tokens},
          {"fnv1a64", hex64(stats.train_checksum)}}},
        {"val",
         {{"path", "val.tok"},
          {"documents", stats.val_documents},
          {"tokens", stats.val_tokens},
          {"fnv1a64", hex64(stats.val_checksum)}}},
        {"files", files},
    };
    // Paths need not be valid UTF-8; replace what JSON cannot hold rather than fail.
    return manifest.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  } catch (const nlohmann::ordered_json::exception& e) {
    return Error::internal("building the dataset manifest: {}", e.what());
  }
}

}  // namespace

Result<PrepareStats> prepare_dataset(const PrepareOptions& options) {
  if (!(options.val_fraction >= 0.0 && options.val_fraction <= 1.0))
    return Error::invalid("val_fraction is {}, expected a value in [0, 1]", options.val_fraction);
  if (options.output_dir.empty()) return Error::invalid("no output directory given");
  SYM_TRY_ASSIGN(std::unique_ptr<Tokenizer> tokenizer, load_tokenizer(options.tokenizer));
  SYM_TRY_ASSIGN(std::vector<fs::path> inputs, list_input_files(options.inputs));

  const fs::path out_dir = options.output_dir;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Error::io("creating output directory {}: {}", out_dir.string(), ec.message());

  PrepareStats stats;
  stats.tokenizer = tokenizer->name();
  stats.train_path = (out_dir / "train.tok").string();
  stats.val_path = (out_dir / "val.tok").string();
  stats.manifest_path = (out_dir / "manifest.json").string();

  const TokenFileMeta meta{.vocab_size = tokenizer->vocab_size(),
                           .eot_token = tokenizer->eot_token()};
  SYM_TRY_ASSIGN(TokenFileWriter train, TokenFileWriter::create(stats.train_path, meta));
  SYM_TRY_ASSIGN(TokenFileWriter val, TokenFileWriter::create(stats.val_path, meta));

  const uint64_t split_key = key_for(options.seed, "data.split");
  const int32_t eot = tokenizer->eot_token();
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  std::string text;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const fs::path& path = inputs[i];
    SYM_TRY(read_file(path, text));
    ++stats.files;
    stats.input_bytes += static_cast<int64_t>(text.size());
    nlohmann::ordered_json entry = {{"path", path.string()},
                            {"bytes", text.size()},
                            {"fnv1a64", hex64(fnv1a64(std::as_bytes(std::span(text))))}};
    if (text.empty()) {
      ++stats.empty_files;
      entry["split"] = "empty";
      entry["tokens"] = 0;
      files.push_back(std::move(entry));
      continue;
    }
    const bool to_val = uniform_at(split_key, i) < options.val_fraction;
    TokenFileWriter& writer = to_val ? val : train;
    std::vector<int32_t> tokens = tokenizer->encode(text);
    tokens.push_back(eot);
    SYM_TRY(writer.append(tokens).with_context("tokenizing {}", path.string()));
    const int64_t count = static_cast<int64_t>(tokens.size());
    (to_val ? stats.val_documents : stats.train_documents) += 1;
    (to_val ? stats.val_tokens : stats.train_tokens) += count;
    entry["split"] = to_val ? "val" : "train";
    entry["tokens"] = count;
    files.push_back(std::move(entry));
  }
  SYM_TRY(train.close());
  SYM_TRY(val.close());
  stats.train_checksum = train.checksum();
  stats.val_checksum = val.checksum();

  SYM_TRY_ASSIGN(std::string manifest, manifest_text(options, *tokenizer, stats, files));
  SYM_TRY(write_file_atomic(stats.manifest_path, manifest));
  return stats;
}

}  // namespace symphony
