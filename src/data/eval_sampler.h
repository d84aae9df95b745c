#pragma once
// Evaluation batches: sequential non-overlapping windows from the start of a (validation) dataset,
// so every evaluation sees the same tokens. Windows are those of data/sample_stream.h.

#include <cstdint>
#include <span>

#include "core/status.h"
#include "data/token_dataset.h"

namespace symphony {

// After the last window it starts again from the first. The sampler keeps a pointer to the
// dataset, which must outlive it.
// Failure: create() rejects a dataset shorter than seq_len + 1 tokens, naming it.
// Thread-safety: none.
class EvalSampler {
 public:
  // REQUIRES: seq_len >= 1, micro_batch_size >= 1.
  static Result<EvalSampler> create(const TokenDataset& dataset, int64_t seq_len,
                                    int64_t micro_batch_size);

  // Fills inputs and targets, each (micro_batch_size, seq_len) row-major, with the next windows.
  // REQUIRES: inputs.size() == targets.size() == micro_batch_size * seq_len.
  void next(std::span<int32_t> inputs, std::span<int32_t> targets);
  void reset() { position_ = 0; }

  int64_t num_windows() const { return num_windows_; }
  // Batches before the windows repeat: floor(num_windows() / micro_batch_size), at least 1.
  int64_t num_batches() const;

 private:
  EvalSampler(const TokenDataset& dataset, int64_t seq_len, int64_t micro_batch_size);

  const TokenDataset* dataset_;
  int64_t seq_len_;
  int64_t micro_batch_size_;
  int64_t num_windows_;
  int64_t position_ = 0;
};

}  // namespace symphony
