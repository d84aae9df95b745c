#include "data/prepare.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/file_io.h"
#include "core/rng.h"
#include "core/timer.h"
#include "data/dataset_manifest.h"
#include "data/doc_index.h"
#include "data/input_files.h"
#include "data/ordered_work_pool.h"
#include "data/shard_set_writer.h"
#include "data/token_file.h"
#include "data/tokenizer.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxWarnings = 20;

// A piece of a document on its way from the reader to a worker.
struct Piece {
  std::string text;
  bool first = true;
  bool last = true;
};

// A tokenized piece on its way from a worker to the writer.
struct Tokens {
  std::vector<int32_t> tokens;  // end-of-text appended when the piece ends its document
  int64_t text_bytes = 0;
  bool first = true;
  bool last = true;
};

// What the reader thread learns about the inputs; read by the writer after the reader finished.
struct ReaderReport {
  Status status;
  std::vector<InputEntry> inputs;
  int64_t empty_documents = 0;
  int64_t bad_lines = 0;
  int64_t text_bytes = 0;
  std::vector<std::string> warnings;
  int64_t suppressed_warnings = 0;

  void warn(std::string message) {
    if (warnings.size() < kMaxWarnings) warnings.push_back(std::move(message));
    else ++suppressed_warnings;
  }
};

// Streams every document piece of every input into the pool, in order.
void read_inputs(const std::vector<InputFile>& files, const DocumentReaderOptions& reader_options,
                 OrderedWorkPool<Piece, Tokens>& pool, ReaderReport& report) {
  for (const InputFile& file : files) {
    Result<DocumentReader> reader = DocumentReader::open(file, reader_options);
    if (!reader.has_value()) {
      report.status = reader.error();
      return;
    }
    while (true) {
      Result<std::optional<DocumentPiece>> piece = reader->next();
      if (!piece.has_value()) {
        report.status = piece.error();
        return;
      }
      if (!piece->has_value()) break;
      DocumentPiece& p = **piece;
      if (!pool.submit(Piece{std::move(p.text), p.first, p.last})) return;  // cancelled
    }
    InputEntry entry{file.path.string(),
                     std::string(input_format_name(file.format)),
                     std::string(compression_name(file.compression)),
                     file.bytes,
                     reader->text_bytes(),
                     reader->documents(),
                     reader->empty_documents(),
                     reader->bad_lines()};
    report.empty_documents += entry.empty_documents;
    report.bad_lines += entry.bad_lines;
    report.text_bytes += entry.text_bytes;
    if (file.format == InputFormat::kText && entry.empty_documents > 0)
      report.warn(fmt::format("{}: empty file, no document", file.path.string()));
    else if (entry.empty_documents > 0)
      report.warn(fmt::format("{}: {} empty documents skipped", file.path.string(),
                              entry.empty_documents));
    for (const std::string& example : reader->bad_line_examples())
      report.warn("skipped " + example);
    if (entry.bad_lines > static_cast<int64_t>(reader->bad_line_examples().size()))
      report.warn(fmt::format("{}: {} bad lines skipped in all", file.path.string(),
                              entry.bad_lines));
    report.inputs.push_back(std::move(entry));
  }
}

// Files a previous prepare wrote into out_dir: never inputs, even when an input directory holds
// the output directory's files (--input DIR --out DIR).
bool is_dataset_file(const fs::path& file, const fs::path& out_dir) {
  std::error_code ec;
  if (!fs::equivalent(file.parent_path(), out_dir, ec)) return false;
  const std::string name = file.filename().string();
  return name == kManifestFileName || name.ends_with(".tok") || name.ends_with(".idx");
}

Status validate_options(const PrepareOptions& o) {
  if (!(o.val_fraction >= 0.0 && o.val_fraction <= 1.0))
    return Error::invalid("val_fraction is {}, expected a value in [0, 1]", o.val_fraction);
  if (o.output_dir.empty()) return Error::invalid("no output directory given");
  if (o.threads < 1) return Error::invalid("threads is {}, expected at least 1", o.threads);
  if (o.shard_tokens < 1)
    return Error::invalid("shard_tokens is {}, expected at least 1", o.shard_tokens);
  if (o.max_piece_bytes < 1)
    return Error::invalid("max_piece_bytes is {}, expected at least 1", o.max_piece_bytes);
  if (o.text_field.empty()) return Error::invalid("the JSONL text field name is empty");
  return Status::ok();
}

// Removes the staging directory unless released: a failed prepare leaves nothing behind.
class StagingDir {
 public:
  explicit StagingDir(fs::path path) : path_(std::move(path)) {}
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Moves the finished files from staging into out_dir and commits the manifest.
Status commit_dataset(const fs::path& staging, const fs::path& out_dir,
                      const DatasetManifest& manifest) {
  // The shards the current dataset (if any) uses, to remove those the new one does not reuse.
  std::set<std::string> old_files;
  if (Result<DatasetManifest> old = read_manifest(out_dir); old.has_value()) {
    for (const SplitEntry* s : {&old->train, &old->val}) {
      for (const ShardEntry& shard : s->shards) {
        old_files.insert(shard.path);
        old_files.insert(shard.index_path);
      }
    }
  }
  std::set<std::string> new_files;
  for (const SplitEntry* s : {&manifest.train, &manifest.val}) {
    for (const ShardEntry& shard : s->shards) {
      for (const std::string& name : {shard.path, shard.index_path}) {
        std::error_code ec;
        fs::rename(staging / name, out_dir / name, ec);
        if (ec)
          return Error::io("renaming {} to {}: {}", (staging / name).string(),
                           (out_dir / name).string(), ec.message());
        new_files.insert(name);
      }
    }
  }
  SYM_TRY(fsync_directory(out_dir / kManifestFileName));
  SYM_TRY(write_file_atomic(out_dir / kManifestFileName, manifest_to_json(manifest)));
  for (const std::string& name : old_files) {
    if (new_files.count(name) > 0) continue;
    std::error_code ec;
    fs::remove(out_dir / name, ec);  // a leftover is harmless: no manifest names it
  }
  return Status::ok();
}

// The token split of prepare.h: `source` (one split's shards in `from_dir`, holding every
// document in input order) is cut at token `cut`; [0, cut) goes to `train` and [cut, size) to
// `val`. Document boundaries are kept, and the document holding the cut becomes two. The train
// shards before the cut close where the source's did, as ShardSetWriter applies the same rule to
// the same documents.
Status split_stream_at(const fs::path& from_dir, const SplitEntry& source, int64_t cut,
                       ShardSetWriter& train, ShardSetWriter& val) {
  constexpr int64_t kChunkTokens = int64_t{1} << 20;  // bounds the memory of the copy
  std::vector<int32_t> chunk;
  int64_t shard_begin = 0;  // offset of the shard's first token in the stream
  for (const ShardEntry& entry : source.shards) {
    SYM_TRY_ASSIGN(TokenFile file, TokenFile::open(from_dir / entry.path, ChecksumCheck::kSkip));
    SYM_TRY_ASSIGN(DocIndex index,
                   DocIndex::open(from_dir / entry.index_path, ChecksumCheck::kSkip));
    for (int64_t d = 0; d < index.num_documents(); ++d) {
      const int64_t doc_end =
          d + 1 < index.num_documents() ? index.document_start(d + 1) : file.size();
      int64_t pos = index.document_start(d);
      while (pos < doc_end) {
        const bool to_train = shard_begin + pos < cut;
        const int64_t end = to_train ? std::min(doc_end, cut - shard_begin) : doc_end;
        ShardSetWriter& out = to_train ? train : val;
        SYM_TRY(out.begin_document());
        for (int64_t at = pos; at < end; at += kChunkTokens) {
          chunk.resize(size_t(std::min(kChunkTokens, end - at)));
          file.read(at, chunk);
          SYM_TRY(out.append(chunk));
        }
        SYM_TRY(out.end_document());
        pos = end;
      }
    }
    shard_begin += file.size();
  }
  return Status::ok();
}

}  // namespace

Result<PrepareStats> prepare_dataset(const PrepareOptions& options) {
  Timer timer;
  SYM_TRY(validate_options(options));
  SYM_TRY_ASSIGN(std::unique_ptr<Tokenizer> tokenizer, load_tokenizer(options.tokenizer));
  SYM_TRY_ASSIGN(std::vector<InputFile> inputs, list_input_files(options.inputs));

  const fs::path out_dir = options.output_dir;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Error::io("creating output directory {}: {}", out_dir.string(), ec.message());
  std::erase_if(inputs, [&](const InputFile& f) { return is_dataset_file(f.path, out_dir); });
  if (inputs.empty())
    return Error::not_found("the inputs hold only the dataset files of {}", out_dir.string());
  StagingDir staging(out_dir / fmt::format(".prepare-{}", ::getpid()));
  fs::remove_all(staging.path(), ec);
  fs::create_directory(staging.path(), ec);
  if (ec)
    return Error::io("creating staging directory {}: {}", staging.path().string(), ec.message());

  const TokenFileMeta meta{.vocab_size = tokenizer->vocab_size(),
                           .eot_token = tokenizer->eot_token()};
  ShardSetWriter train(staging.path(), Split::kTrain, meta, options.shard_tokens);
  ShardSetWriter val(staging.path(), Split::kVal, meta, options.shard_tokens);

  const Tokenizer& tok = *tokenizer;
  const int32_t eot = tok.eot_token();
  OrderedWorkPool<Piece, Tokens> pool(
      options.threads, 4 * int64_t{options.threads} + 4, [&tok, eot](Piece&& piece) {
        Tokens out{tok.encode(piece.text), static_cast<int64_t>(piece.text.size()), piece.first,
                   piece.last};
        if (piece.last) out.tokens.push_back(eot);
        return out;
      });

  const DocumentReaderOptions reader_options{options.text_field, options.bad_lines,
                                             options.max_piece_bytes};
  ReaderReport report;
  std::thread reader([&] {
    read_inputs(inputs, reader_options, pool, report);
    pool.close();
  });

  // The writer: results arrive in input order.
  const uint64_t split_key = key_for(options.seed, "data.split");
  PrepareProgress progress;
  Timer since_progress;
  ShardSetWriter* current = nullptr;
  Status status;
  while (std::optional<Tokens> piece = pool.take()) {
    if (piece->first) {
      const bool to_val = uniform_at(split_key, uint64_t(progress.documents)) < options.val_fraction;
      current = to_val ? &val : &train;
      status = current->begin_document();
      ++progress.documents;
    }
    if (status.is_ok()) status = current->append(piece->tokens);
    if (status.is_ok() && piece->last) status = current->end_document();
    if (!status.is_ok()) break;
    progress.text_bytes += piece->text_bytes;
    progress.tokens += static_cast<int64_t>(piece->tokens.size());
    if (options.on_progress && since_progress.elapsed_s() >= options.progress_interval_s) {
      progress.elapsed_s = timer.elapsed_s();
      options.on_progress(progress);
      since_progress.reset();
    }
  }
  if (!status.is_ok()) pool.cancel();
  reader.join();
  SYM_TRY(status.with_context("writing {}", staging.path().string()));
  SYM_TRY(report.status);
  if (progress.documents == 0)
    return Error::invalid("no documents in the inputs ({} files, {} empty documents, {} bad "
                          "lines): nothing to prepare", inputs.size(), report.empty_documents,
                          report.bad_lines);
  SYM_TRY(train.finish());
  SYM_TRY(val.finish());

  // Too few documents for a document split: split the one non-empty split's stream by tokens.
  fs::path shard_dir = staging.path();
  SplitEntry train_entry = train.entry(), val_entry = val.entry();
  SplitUnit split_unit = SplitUnit::kDocuments;
  if (options.val_fraction > 0 && options.val_fraction < 1 &&
      (train_entry.documents == 0 || val_entry.documents == 0)) {
    const SplitEntry& source = train_entry.documents > 0 ? train_entry : val_entry;
    const int64_t total = source.tokens;  // >= 2: a document has a token and end-of-text
    const int64_t val_tokens = std::clamp<int64_t>(
        std::llround(options.val_fraction * double(total)), 1, total - 1);
    shard_dir = staging.path() / "by-tokens";
    fs::create_directory(shard_dir, ec);
    if (ec) return Error::io("creating {}: {}", shard_dir.string(), ec.message());
    ShardSetWriter train_part(shard_dir, Split::kTrain, meta, options.shard_tokens);
    ShardSetWriter val_part(shard_dir, Split::kVal, meta, options.shard_tokens);
    SYM_TRY(split_stream_at(staging.path(), source, total - val_tokens, train_part, val_part)
                .with_context("splitting {} by tokens", staging.path().string()));
    SYM_TRY(train_part.finish());
    SYM_TRY(val_part.finish());
    train_entry = train_part.entry();
    val_entry = val_part.entry();
    split_unit = SplitUnit::kTokens;
  }

  DatasetManifest manifest;
  manifest.tokenizer_name = tok.name();
  manifest.tokenizer_fingerprint = tok.fingerprint();
  manifest.vocab_size = tok.vocab_size();
  manifest.eot_token = eot;
  manifest.token_bytes = token_bytes_for_vocab(meta.vocab_size);
  manifest.seed = options.seed;
  manifest.val_fraction = options.val_fraction;
  manifest.split_unit = split_unit;
  manifest.text_field = options.text_field;
  manifest.shard_tokens = options.shard_tokens;
  manifest.input_bytes = report.text_bytes;
  manifest.empty_documents = report.empty_documents;
  manifest.bad_lines = report.bad_lines;
  manifest.train = std::move(train_entry);
  manifest.val = std::move(val_entry);
  manifest.inputs = std::move(report.inputs);
  SYM_TRY(commit_dataset(shard_dir, out_dir, manifest));

  PrepareStats stats;
  stats.tokenizer = tok.name();
  stats.files = static_cast<int64_t>(inputs.size());
  for (const InputFile& f : inputs) stats.compressed_bytes += f.bytes;
  stats.input_bytes = report.text_bytes;
  stats.empty_documents = report.empty_documents;
  stats.bad_lines = report.bad_lines;
  stats.train_documents = manifest.train.documents;
  stats.val_documents = manifest.val.documents;
  stats.train_tokens = manifest.train.tokens;
  stats.val_tokens = manifest.val.tokens;
  stats.train_shards = static_cast<int64_t>(manifest.train.shards.size());
  stats.val_shards = static_cast<int64_t>(manifest.val.shards.size());
  stats.split_unit = split_unit;
  stats.token_bytes = manifest.token_bytes;
  stats.manifest_path = (out_dir / kManifestFileName).string();
  stats.warnings = std::move(report.warnings);
  if (report.suppressed_warnings > 0)
    stats.warnings.push_back(fmt::format("... and {} more warnings", report.suppressed_warnings));
  stats.elapsed_s = timer.elapsed_s();
  if (options.on_progress) {
    progress.elapsed_s = stats.elapsed_s;
    options.on_progress(progress);
  }
  return stats;
}

}  // namespace symphony
