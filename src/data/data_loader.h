#pragma once
// The training data loader: fixed-length samples from blended datasets (data/sample_stream.h),
// sliced across data-parallel ranks, prepared ahead by a background thread, resumable from a few
// integers.
//
// Rank slicing: the global sample order is consumed in steps of dp_size * micro_batch_size
// samples. At the draw starting at global position p, rank r takes samples
// [p + r*mb, p + (r+1)*mb) and every rank advances p by dp_size*mb; so the union over the ranks of
// one draw is exactly the micro-batch of dp_size*mb samples that a single process (dp_size 1)
// draws at that point, and the ranks never share a sample.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "core/status.h"
#include "data/sample_stream.h"

namespace symphony {

struct LoaderOptions {
  int64_t seq_len = 0;           // T: tokens per sample row
  int64_t micro_batch_size = 0;  // samples per rank per next()
  int dp_rank = 0;               // this rank's position in the data-parallel group
  int dp_size = 1;               // ranks in the data-parallel group
  uint64_t seed = 0;             // decides the blend schedule and every epoch's window order
  // Micro-batches a background thread prepares ahead of next(); 0 reads in next() itself. The
  // batches are the same either way.
  int prefetch_depth = 2;
};

// Failure: create() rejects bad options (kInvalidArgument naming the option) and the errors of
// SampleStream::create. Thread-safety: one consumer thread calls next/state/set_state; the
// prefetch thread is internal and joined by set_state() and the destructor.
class DataLoader {
 public:
  static Result<std::unique_ptr<DataLoader>> create(std::vector<BlendSource> sources,
                                                    const LoaderOptions& options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Fills this rank's next micro-batch: inputs and targets, each (micro_batch_size, seq_len)
  // row-major; targets[b, t] = inputs[b, t + 1] within a window.
  // REQUIRES: inputs.size() == targets.size() == micro_batch_size * seq_len.
  void next(std::span<int32_t> inputs, std::span<int32_t> targets);

  // The state before the micro-batch the next call to next() returns (prefetched batches not
  // counted). Equal on every rank of a group after the same number of next() calls.
  LoaderState state() const { return consumed_; }
  // Continues from `state`: the following batches are those a loader that reached `state`
  // without interruption would return. Fails as SampleStream::set_state does.
  Status set_state(const LoaderState& state);

  // The schedule behind the loader. While prefetching, only its queries that do not depend on the
  // state (source_of, num_windows, num_sources, seq_len) may be called.
  const SampleStream& stream() const { return stream_; }
  const LoaderOptions& options() const { return options_; }

 private:
  struct Batch {
    std::vector<int32_t> inputs;
    std::vector<int32_t> targets;
    LoaderState after;  // the stream state once this batch has been drawn
  };

  DataLoader(SampleStream stream, const LoaderOptions& options);
  // Draws one global step from stream_ and keeps this rank's rows.
  void produce(std::span<int32_t> inputs, std::span<int32_t> targets);
  void start_prefetch();
  void stop_prefetch();
  void prefetch_loop();

  SampleStream stream_;  // owned by the prefetch thread while it runs
  LoaderOptions options_;
  LoaderState consumed_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;  // prepared, in order
  std::vector<Batch> free_;  // buffers to reuse, so steady state allocates nothing
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace symphony
