#pragma once
// Turns text (plain files, directories, globs, JSONL; optionally gzip or zstd) into a prepared
// dataset directory (docs/dataset_format.md):
//   train-NNNNN.tok + train-NNNNN.idx   token shards and their document indexes
//   val-NNNNN.tok + val-NNNNN.idx
//   manifest.json                       tokenizer name and fingerprint, split settings, counts,
//                                       per-shard sizes and checksums, every input file
// Each document is followed by the tokenizer's end-of-text token.
//
// Pipeline: a reader thread streams documents (data/document_reader.h) in input order -> a pool
// of `threads` tokenizing workers -> the calling thread writes the results back in input order.
// The output is therefore byte-identical whatever the thread count, and memory is bounded by
// (4 * threads + 4) document pieces whatever the input size: a text document is cut into pieces
// of at most max_piece_bytes, a JSONL document is one piece (its line is held whole). The
// manifest's list of inputs grows with the number of files.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset_manifest.h"
#include "data/document_reader.h"

namespace symphony {

struct PrepareProgress {
  int64_t text_bytes = 0;  // decompressed input bytes tokenized so far
  int64_t documents = 0;
  int64_t tokens = 0;
  double elapsed_s = 0;
};

struct PrepareOptions {
  // Files, directories or globs; see list_input_files() (data/input_files.h) for the order and
  // classify_input() for how each file's format and compression are chosen.
  std::vector<std::string> inputs;
  std::string output_dir;           // created if missing
  std::string tokenizer = "bytes";  // a load_tokenizer() spec
  double val_fraction = 0.05;       // share of documents (or tokens) in the val split, in [0, 1]
  uint64_t seed = 1234;             // with the document's position, decides its split
  std::string text_field = "text";  // JSONL key holding the text
  BadLines bad_lines = BadLines::kFail;
  int threads = 1;                  // tokenizing workers, >= 1
  int64_t shard_tokens = int64_t{1} << 27;  // target shard size, >= 1
  int64_t max_piece_bytes = int64_t{8} << 20;  // see DocumentReaderOptions
  // Called on the calling thread about every progress_interval_s, and once at the end.
  std::function<void(const PrepareProgress&)> on_progress;
  double progress_interval_s = 1.0;
};

struct PrepareStats {
  std::string tokenizer;            // Tokenizer::name()
  int64_t files = 0;                // input files read
  int64_t compressed_bytes = 0;     // input bytes on disk
  int64_t input_bytes = 0;          // decompressed
  int64_t empty_documents = 0;      // empty text files and JSONL texts: skipped
  int64_t bad_lines = 0;            // JSONL lines skipped with BadLines::kSkip
  int64_t train_documents = 0;
  int64_t val_documents = 0;
  int64_t train_tokens = 0;         // end-of-text tokens included
  int64_t val_tokens = 0;
  int64_t train_shards = 0;
  int64_t val_shards = 0;
  SplitUnit split_unit = SplitUnit::kDocuments;  // kTokens: split within documents (see below)
  int token_bytes = 0;
  double elapsed_s = 0;
  std::string manifest_path;
  // Empty files and the first skipped lines, each naming the file (and line); capped.
  std::vector<std::string> warnings;
};

// The i-th document (0-based over all inputs, empty documents not counted) goes to the val split
// when uniform_at(key_for(seed, "data.split"), i) < val_fraction: the split depends only on the
// input order, the seed and val_fraction.
// Too few documents for that (one text file, say): when 0 < val_fraction < 1 and the document
// split leaves the train or the val split empty, the corpus is split by tokens instead. All
// documents in input order form one stream of T tokens (end-of-text tokens included); its last
// clamp(round(val_fraction * T), 1, T - 1) tokens go to val, the rest to train, cut at that token
// boundary. A document the cut falls inside becomes two: the train part (without end-of-text)
// and the val part. stats.split_unit and the manifest's split.by say which rule applied. The
// re-split reads the written train (or val) shards back in chunks, so memory stays bounded and
// the output stays byte-identical whatever the thread count.
// Atomicity: everything is written under output_dir/.prepare-<pid>/ first; only when all of it is
// complete are the shards renamed into output_dir, then manifest.json replaced (the commit), then
// shards the old manifest listed and the new one does not removed. A failed prepare leaves an
// existing dataset in output_dir as it was and removes its own temporary files.
// Failure: bad options (kInvalidArgument), missing inputs (kNotFound), unreadable, corrupt or
// truncated input (naming the file), a bad JSONL line under BadLines::kFail (naming file:line),
// inputs without any document, a failed write (naming the file).
Result<PrepareStats> prepare_dataset(const PrepareOptions& options);

}  // namespace symphony
