// symphony tokenizer train|encode|decode: trains a byte-level BPE and runs tokenizers on files.
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/file_io.h"
#include "core/timer.h"
#include "data/bpe_tokenizer.h"
#include "data/bpe_trainer.h"
#include "data/tokenizer.h"
#include "data/tokenizer_json.h"

namespace symphony::cli {
namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::vector<std::string> inputs;
  std::string out;
  std::vector<std::string> specials;
  BpeTrainOptions options;
};

struct RunArgs {
  std::string tokenizer;
  std::string input = "-";   // "-": stdin
  std::string output = "-";  // "-": stdout
  bool match_specials = false;
  int threads = 0;
};

// Reads a whole file ("-": stdin). Regular files are read straight into a string of their size.
Result<std::string> read_input(const std::string& name) {
  const bool is_stdin = name == "-";
  const std::string shown = is_stdin ? "<stdin>" : name;
  const int fd = is_stdin ? 0 : ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("opening", shown, errno);
  struct stat st {};
  size_t size_hint = 1 << 20;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) size_hint = size_t(st.st_size) + 1;
  std::string text;
  size_t used = 0;
  for (;;) {
    if (used == text.size()) text.resize(std::max(text.size() * 2, size_hint));
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (!is_stdin) ::close(fd);
      return os_error("reading", shown, err);
    }
    if (n == 0) break;
    used += size_t(n);
  }
  if (!is_stdin) ::close(fd);
  text.resize(used);
  return text;
}

Status write_output(const std::string& name, std::string_view bytes) {
  if (name != "-") return write_file_atomic(name, bytes);
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout))
    return os_error("writing", "<stdout>", errno);
  return Status::ok();
}

// Writes the ids separated by spaces and ending in a newline, formatted 1 MiB at a time.
Status write_ids(const std::string& name, const std::vector<int32_t>& tokens) {
  const bool to_stdout = name == "-";
  int fd = 1;
  if (!to_stdout) {
    SYM_TRY_ASSIGN(fd, create_temp_file(name));
  }
  const std::string shown = to_stdout ? "<stdout>" : temp_path_for(name).string();
  constexpr size_t kFlushBytes = size_t{1} << 20;
  std::vector<char> buffer(kFlushBytes + 16);
  char* p = buffer.data();
  Status status;
  for (size_t i = 0; i < tokens.size() && status.is_ok(); ++i) {
    // Digits written backwards into a small array, then copied: no library call per id.
    char digits[12];
    int n = 0;
    auto v = static_cast<uint32_t>(tokens[i]);
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = digits[--n];
    *p++ = i + 1 < tokens.size() ? ' ' : '\n';
    if (size_t(p - buffer.data()) >= kFlushBytes) {
      status = write_all(fd, buffer.data(), size_t(p - buffer.data()), shown);
      p = buffer.data();
    }
  }
  if (tokens.empty()) *p++ = '\n';
  if (status.is_ok()) status = write_all(fd, buffer.data(), size_t(p - buffer.data()), shown);
  if (to_stdout) return status;
  if (!status.is_ok()) {
    discard_temp_file(fd, name);
    return status;
  }
  return commit_temp_file(fd, name);
}

int run_train(const TrainArgs& args) {
  BpeTrainOptions options = args.options;
  if (!args.specials.empty()) options.special_tokens = args.specials;
  std::vector<fs::path> inputs(args.inputs.begin(), args.inputs.end());
  BpeTrainStats stats;
  Result<BpeModel> model = train_bpe(inputs, options, stats);
  if (!model.has_value()) return report(model.error());
  Timer save_timer;
  if (Status s = save_tokenizer_json(*model, args.out); !s.is_ok()) return report(s);
  fmt::print("counted {} words ({} distinct, {} skipped as longer than {} bytes) in {} from {} "
             "files in {:.2f} s\n",
             human_count(double(stats.words)), human_count(double(stats.distinct_words)),
             stats.long_words, options.max_word_bytes, human_bytes(double(stats.input_bytes)),
             stats.files, stats.count_s);
  if (stats.prunings > 0) {
    fmt::print("word table over {} entries: pruned {} times, {} rare words dropped\n",
               options.max_words, stats.prunings, stats.pruned_words);
  }
  fmt::print("{} merges in {:.2f} s; vocabulary {} ({} special){}\n", stats.merges, stats.merge_s,
             model->id_limit(), model->specials().size(),
             int64_t(model->id_limit()) < options.vocab_size
                 ? fmt::format(", short of {}: no pair left occurring {} times",
                               options.vocab_size, options.min_pair_count)
                 : "");
  fmt::print("wrote {} in {:.2f} s\n", args.out, save_timer.elapsed_s());
  return kExitOk;
}

int run_encode(const RunArgs& args) {
  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(args.tokenizer);
  if (!tokenizer.has_value()) return report(tokenizer.error());
  Result<std::string> text = read_input(args.input);
  if (!text.has_value()) return report(text.error());
  Timer timer;
  std::vector<int32_t> tokens;
  if (const auto* bpe = dynamic_cast<const BpeTokenizer*>(tokenizer->get())) {
    tokens = bpe->encode(*text, args.match_specials ? SpecialTokenMode::kMatch
                                                    : SpecialTokenMode::kAsText, args.threads);
  } else {
    tokens = (*tokenizer)->encode(*text);
  }
  const double s = timer.elapsed_s();
  if (Status st = write_ids(args.output, tokens); !st.is_ok()) return report(st);
  std::fprintf(stderr, "%zu bytes -> %zu tokens (%.3f bytes/token) in %.3f s: %.1f MB/s\n",
               text->size(), tokens.size(), double(text->size()) / double(std::max<size_t>(tokens.size(), 1)),
               s, double(text->size()) / 1e6 / std::max(s, 1e-9));
  return kExitOk;
}

int run_decode(const RunArgs& args) {
  Result<std::unique_ptr<Tokenizer>> tokenizer = load_tokenizer(args.tokenizer);
  if (!tokenizer.has_value()) return report(tokenizer.error());
  Result<std::string> text = read_input(args.input);
  if (!text.has_value()) return report(text.error());
  std::vector<int32_t> tokens;
  const char* p = text->c_str();
  const char* end = p + text->size();
  while (p < end) {
    while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (p == end) break;
    char* after = nullptr;
    errno = 0;
    const long id = std::strtol(p, &after, 10);
    if (after == p || errno != 0 || id < 0 || id > INT32_MAX ||
        (after < end && !std::isspace(static_cast<unsigned char>(*after)))) {
      return report(Error::invalid("{}: byte {}: expected a token id (a non-negative integer)",
                                   args.input == "-" ? "<stdin>" : args.input, p - text->c_str()));
    }
    tokens.push_back(static_cast<int32_t>(id));
    p = after;
  }
  if (Status st = write_output(args.output, (*tokenizer)->decode(tokens)); !st.is_ok())
    return report(st);
  return kExitOk;
}

}  // namespace

void add_tokenizer_command(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("tokenizer", "Train a byte-level BPE tokenizer, encode, decode");
  cmd->require_subcommand(1);

  auto train_args = std::make_shared<TrainArgs>();
  CLI::App* train = cmd->add_subcommand("train", "Train a byte-level BPE into tokenizer.json");
  train->add_option("--input", train_args->inputs, "Text files or directories")->required();
  train->add_option("--vocab-size", train_args->options.vocab_size,
                    "Ids in the vocabulary, special tokens included")
      ->capture_default_str();
  train->add_option("--out", train_args->out, "tokenizer.json to write")->required();
  train->add_option("--special", train_args->specials,
                    "Special token (repeatable; default <|endoftext|>)");
  train->add_option("--min-pair-count", train_args->options.min_pair_count,
                    "Stop merging when the best pair is rarer")
      ->capture_default_str();
  train->add_option("--max-words", train_args->options.max_words,
                    "Distinct words kept while counting (memory bound)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--threads", train_args->options.threads, "Threads (0: OMP_NUM_THREADS)")
      ->capture_default_str();
  train->callback([train_args, exit_code] { *exit_code = run_train(*train_args); });

  auto encode_args = std::make_shared<RunArgs>();
  CLI::App* encode = cmd->add_subcommand("encode", "Text to token ids (space-separated)");
  encode->add_option("--tokenizer", encode_args->tokenizer, "Tokenizer spec")->required();
  encode->add_option("--input", encode_args->input, "Text file, - for stdin")
      ->capture_default_str();
  encode->add_option("--output", encode_args->output, "Output file, - for stdout")
      ->capture_default_str();
  encode->add_flag("--match-specials", encode_args->match_specials,
                   "Encode special tokens' text as their ids");
  encode->add_option("--threads", encode_args->threads, "Threads (0: OMP_NUM_THREADS)")
      ->capture_default_str();
  encode->callback([encode_args, exit_code] { *exit_code = run_encode(*encode_args); });

  auto decode_args = std::make_shared<RunArgs>();
  CLI::App* decode = cmd->add_subcommand("decode", "Token ids (whitespace-separated) to text");
  decode->add_option("--tokenizer", decode_args->tokenizer, "Tokenizer spec")->required();
  decode->add_option("--input", decode_args->input, "Ids file, - for stdin")->capture_default_str();
  decode->add_option("--output", decode_args->output, "Output file, - for stdout")
      ->capture_default_str();
  decode->callback([decode_args, exit_code] { *exit_code = run_decode(*decode_args); });
}

}  // namespace symphony::cli
