#pragma once
// Training and evaluation batches cut from a token file.
//
// A token file of N tokens holds W = floor((N - 1) / T) non-overlapping windows of T + 1 tokens:
// window w starts at token w*T, and neighbouring windows share one token (the last target of one
// is the first input of the next). A window gives T inputs and the T next-token targets.

#include <cstdint>
#include <span>

#include "core/status.h"
#include "data/permutation.h"
#include "data/token_file.h"

namespace symphony {

// Where a BatchSampler is in its stream of windows: `position` windows of epoch `epoch` have been
// consumed. Saved in checkpoints; restoring it replays exactly the batches that followed.
struct SamplerState {
  int64_t epoch = 0;
  int64_t position = 0;
};

// Draws each window once per epoch in a keyed random order (KeyedPermutation keyed by seed and
// epoch), a new order every epoch. A batch may span the end of one epoch and the start of the next.
// The sampler keeps a pointer to the file: the file must outlive it.
// Failure: create() rejects a file shorter than seq_len + 1 tokens, naming it.
// Thread-safety: none; one sampler per thread.
class BatchSampler {
 public:
  // REQUIRES: seq_len >= 1, micro_batch_size >= 1.
  static Result<BatchSampler> create(const TokenFile& file, int64_t seq_len,
                                     int64_t micro_batch_size, uint64_t seed);

  // Fills inputs and targets, each (micro_batch_size, seq_len) row-major, with the next
  // micro_batch_size windows; targets[b, t] = inputs[b, t + 1] within a window.
  // REQUIRES: inputs.size() == targets.size() == micro_batch_size * seq_len.
  void next(std::span<int32_t> inputs, std::span<int32_t> targets);

  SamplerState state() const { return state_; }
  // Fails (kInvalidArgument) when the state cannot belong to this file, e.g. position >= windows.
  Status set_state(const SamplerState& state);

  // The window start (in tokens) at `position` of `epoch`'s order. REQUIRES: 0 <= position <
  // num_windows(), epoch >= 0.
  int64_t window_start(int64_t epoch, int64_t position) const;
  int64_t num_windows() const { return num_windows_; }
  int64_t seq_len() const { return seq_len_; }
  int64_t micro_batch_size() const { return micro_batch_size_; }

 private:
  BatchSampler(const TokenFile& file, int64_t seq_len, int64_t micro_batch_size, uint64_t seed);
  KeyedPermutation order_for(int64_t epoch) const;

  const TokenFile* file_;
  int64_t seq_len_;
  int64_t micro_batch_size_;
  int64_t num_windows_;
  uint64_t order_key_;  // derived from the seed; mixed with the epoch for each epoch's order
  SamplerState state_;
  KeyedPermutation order_;  // the order of state_.epoch
};

// Sequential non-overlapping windows from the start of a (validation) file, so every evaluation
// sees the same tokens. After the last window it starts again from the first.
// The sampler keeps a pointer to the file: the file must outlive it.
// Failure: create() rejects a file shorter than seq_len + 1 tokens, naming it.
class EvalSampler {
 public:
  // REQUIRES: seq_len >= 1, micro_batch_size >= 1.
  static Result<EvalSampler> create(const TokenFile& file, int64_t seq_len,
                                    int64_t micro_batch_size);

  // Same layout and REQUIRES as BatchSampler::next.
  void next(std::span<int32_t> inputs, std::span<int32_t> targets);
  void reset() { position_ = 0; }

  int64_t num_windows() const { return num_windows_; }
  // Batches before the windows repeat: floor(num_windows() / micro_batch_size), at least 1.
  int64_t num_batches() const;

 private:
  EvalSampler(const TokenFile& file, int64_t seq_len, int64_t micro_batch_size);

  const TokenFile* file_;
  int64_t seq_len_;
  int64_t micro_batch_size_;
  int64_t num_windows_;
  int64_t position_ = 0;
};

}  // namespace symphony
