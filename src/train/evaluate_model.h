#pragma once
// `symphony eval`: the loss and perplexity of a trained or imported model on a dataset split or
// a text file, computed by the trainer's own evaluation (train/evaluator.h): the same model,
// data, seq_len, batch size and number of batches give the trainer's eval_loss.
//
// The model: a run directory (its model.safetensors, else its newest checkpoint), a checkpoint
// step directory, a Symphony model file (checkpoint/export_source.h), or a Hugging Face model
// directory, recognised by its config.json (train/hf_import.h read_hf_model).
//
// The model's tokenizer, first found of:
//   1. EvalModelOptions::tokenizer;
//   2. the model config's data.tokenizer_path;
//   3. a Hugging Face directory's tokenizer.json;
//   4. the tokenizer that prepared the first of the config's data.datasets (its manifest.json),
//      i.e. the data the model was trained on.
// The tokenizer.json that `ckpt export-hf` writes for the byte tokenizer counts as the byte
// tokenizer (checkpoint/hf_tokenizer.h is_byte_tokenizer_for_hf).
//
// The data, one of:
//   - a prepared dataset directory (docs/dataset_format.md), whose `split` is scored after its
//     tokenizer fingerprint is checked against the model's tokenizer (skipped, with a note, when
//     the model's tokenizer is unknown);
//   - a token file `*.tok` (docs/token_file_format.md, as data.train_path / data.val_path name),
//     scored whole; it records no tokenizer, so only its vocabulary is checked;
//   - a text or JSONL file (optionally .gz / .zst), prepared with the model's tokenizer (the byte
//     tokenizer when unknown, with a note) as one dataset without val split in a temporary
//     directory and scored whole: each document's tokens followed by end-of-text, as
//     `data prepare` writes them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset_manifest.h"
#include "tensor/exec.h"
#include "train/evaluator.h"

namespace symphony {

struct EvalModelOptions {
  std::string model;          // see above
  std::string data;           // a dataset directory, a token file, or a text or JSONL file
  // The split of a dataset directory, val when absent. A file is scored whole: a split given with
  // one is an error.
  std::optional<Split> split;
  int64_t seq_len = 0;        // 0: the model config's train.seq_len
  int64_t batch_size = 0;     // sequences per batch; 0: the config's train.micro_batch_size
  // Limits, 0 for none: at most max_batches batches, and at most max_tokens target tokens in
  // whole batches (at least one batch). Without limits every batch of the data is scored:
  // floor(windows / batch_size) batches of non-overlapping windows from the start, or one batch
  // (windows repeating) when the data holds fewer windows than a batch (data/eval_sampler.h).
  int64_t max_batches = 0;
  int64_t max_tokens = 0;
  std::string tokenizer;  // a load_tokenizer() spec overriding the model's; "" for none
  int threads = 1;        // tokenizing threads for a text file
  Exec exec = Exec::cpu();
};

struct EvalModelReport {
  std::string weights;         // the file or checkpoint manifest the weights came from
  std::string data;            // the dataset directory or text file scored
  std::string split;           // "train", "val", or "all" for a file
  std::string tokenizer;       // name of the model's tokenizer; "" when unknown
  int64_t data_tokens = 0;     // tokens in the split (or the prepared text file)
  BatchShape shape;            // (batch_size, seq_len) used
  EvalLoss loss;               // loss.tokens: target tokens scored
  double perplexity = 0;       // exp(loss.loss)
  double elapsed_s = 0;        // scoring only, loading excluded
  std::vector<std::string> notes;  // what the user should know (unknown tokenizer, repeats)
};

// Failure, each naming the path: a missing model or data path (kNotFound), load errors of the
// model (checkpoint/export_source.h, train/hf_import.h) or the tokenizer, a dataset whose
// tokenizer fingerprint differs from the model's tokenizer (kInvalidArgument naming its
// manifest.json and both tokenizers), a directory that is not a prepared dataset, an empty split,
// a split given for a file,
// token ids beyond the model's vocab_size, seq_len beyond max_position_embeddings, data shorter
// than seq_len + 1 tokens; errors preparing a text file (data/prepare.h).
Result<EvalModelReport> evaluate_model(const EvalModelOptions& options);

}  // namespace symphony
