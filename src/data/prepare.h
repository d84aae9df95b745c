#pragma once
// Turns a set of text files into the train and validation token files a run reads.
//
// Output, in options.output_dir:
//   train.tok, val.tok   token files (docs/token_file_format.md); each document is followed by
//                        the tokenizer's end-of-text token
//   manifest.json        the tokenizer spec, split settings, counts, token file checksums, and
//                        every input file with its size, checksum and split

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony {

struct PrepareOptions {
  // Each entry is a file, a directory (searched recursively; hidden entries are skipped) or a
  // glob pattern (`*`, `?`, `[...]`). Files are ordered by entry, then by path within an entry;
  // a file named twice is read once. Each file is one document.
  std::vector<std::string> inputs;
  std::string output_dir;        // created if missing
  std::string tokenizer = "bytes";  // a load_tokenizer() spec
  double val_fraction = 0.05;    // expected share of documents in val.tok, in [0, 1]
  uint64_t seed = 1234;          // with the document index, decides each document's split
};

struct PrepareStats {
  std::string tokenizer;          // Tokenizer::name()
  int64_t files = 0;              // input files found, empty ones included
  int64_t empty_files = 0;        // skipped: no document
  int64_t input_bytes = 0;
  int64_t train_documents = 0;
  int64_t val_documents = 0;
  int64_t train_tokens = 0;       // end-of-text tokens included
  int64_t val_tokens = 0;
  uint64_t train_checksum = 0;    // FNV-1a 64 of each token file's payload
  uint64_t val_checksum = 0;
  std::string train_path;
  std::string val_path;
  std::string manifest_path;
};

// Reads one document at a time, so memory beyond the file list is one document and its tokens.
// The document from file i of the ordered list goes to val.tok when
// uniform_at(key_for(seed, "data.split"), i) < val_fraction, else to train.tok: the split depends
// only on the file order, the seed and val_fraction. Empty files give no document. Prints nothing.
// Failure: an input that does not exist or matches nothing, an empty input set, an unreadable
// file, or a failed write is a Status naming the path; no output file is left half-written.
Result<PrepareStats> prepare_dataset(const PrepareOptions& options);

}  // namespace symphony
