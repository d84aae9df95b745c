#pragma once
// The global order of training samples over one or more blended datasets: which window of which
// dataset is sample 0, 1, 2, ... of a run. Pure arithmetic on a few integers of state, no threads;
// DataLoader (data/data_loader.h) slices it across ranks and prefetches it.
//
// A dataset of N tokens holds W = floor((N - 1) / T) non-overlapping windows of T + 1 tokens
// (T = seq_len): window w starts at token w*T, so neighbouring windows share one token. Windows
// are packed across documents and shard boundaries. A window gives T inputs and T targets.

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "data/permutation.h"
#include "data/token_dataset.h"

namespace symphony {

// Where one dataset's window order stands: `position` windows of epoch `epoch` have been drawn.
struct SamplerState {
  int64_t epoch = 0;
  int64_t position = 0;
  bool operator==(const SamplerState&) const = default;
};

// Everything a loader needs to continue exactly where it stopped; saved in checkpoints.
struct LoaderState {
  int64_t samples = 0;                // samples of the global order drawn, all ranks together
  std::vector<SamplerState> sources;  // [source]
  bool operator==(const LoaderState&) const = default;
};

struct BlendSource {
  const TokenDataset* dataset = nullptr;  // not owned; must outlive the stream
  double weight = 1.0;                    // relative share of samples, > 0
};

// Sample i of the global order comes from source s(i): the first s with u_i < (w_0 + ... + w_s) /
// sum(w), u_i = uniform_at(key_for(seed, "data.blend"), i) (a keyed hash, so the schedule needs no
// memory and every rank computes the same one). Within source s, its k-th sample is window
// P_{s,e}(k mod W_s) of epoch e = k / W_s, where P_{s,e} is a KeyedPermutation keyed by seed,
// source and epoch: each window once per epoch, a new order every epoch.
// Failure: create() rejects no sources, a weight that is not positive and finite, and a dataset
// shorter than seq_len + 1 tokens, naming it. Thread-safety: none.
class SampleStream {
 public:
  struct Sample {
    int source = 0;
    int64_t start = 0;  // first token of the window in the source's dataset
  };

  // REQUIRES: seq_len >= 1.
  static Result<SampleStream> create(std::vector<BlendSource> sources, int64_t seq_len,
                                     uint64_t seed);

  // The next sample of the global order; advances the state past it.
  Sample next();
  // Copies the window of `sample`: inputs = tokens [start, start + T), targets = [start + 1,
  // start + T + 1). REQUIRES: inputs.size() == targets.size() == seq_len.
  void fill(const Sample& sample, std::span<int32_t> inputs, std::span<int32_t> targets) const;

  const LoaderState& state() const { return state_; }
  // Fails (kInvalidArgument) when the state cannot belong to these sources: another number of
  // sources, a negative count, or a position at or past a source's window count.
  Status set_state(const LoaderState& state);

  // The blend schedule: the source of sample i of the global order.
  int source_of(int64_t sample) const;
  int num_sources() const { return static_cast<int>(sources_.size()); }
  int64_t num_windows(int source) const { return num_windows_[static_cast<size_t>(source)]; }
  int64_t seq_len() const { return seq_len_; }

 private:
  SampleStream(std::vector<BlendSource> sources, int64_t seq_len, uint64_t seed);
  KeyedPermutation order_for(int source, int64_t epoch) const;

  std::vector<BlendSource> sources_;
  int64_t seq_len_;
  uint64_t blend_key_;
  std::vector<double> cumulative_;     // [source] normalised cumulative weights, last is 1
  std::vector<int64_t> num_windows_;   // [source]
  std::vector<uint64_t> order_keys_;   // [source]
  std::vector<KeyedPermutation> orders_;  // [source] the order of the source's current epoch
  LoaderState state_;
};

}  // namespace symphony
