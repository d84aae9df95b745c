#pragma once
// TensorParallel: the tensor-parallel group as the model's layers use it (Megatron-LM's
// conjugate communication operators, Shoeybi et al. 2019; Korthikanti et al. 2022 for sequence
// parallelism).
//
// A column-parallel GEMM needs the whole input rows and yields this rank's columns; a
// row-parallel GEMM yields a partial sum of the whole output. Between blocks the residual stream
// is either replicated on every rank of the group (plain tensor parallelism) or split along its
// rows (sequence parallelism: rank r holds rows [r*n/tp, (r+1)*n/tp) of the micro-batch, and the
// norms run on those rows only). The two operators and their adjoints:
//
//                      forward                          backward (the adjoint)
//   gather()          SP: all-gather rows; else none   reduce(): SP reduce-scatter; else all-reduce
//   reduce()          SP: reduce-scatter; else all-reduce   gather(): SP all-gather; else none
//
// With one rank every operator is free and returns its input, so one process runs the same code.
// Communication overlaps computation. Forward, the GEMMs next to a collective run in row chunks
// (column_parallel_forward, row_parallel_forward): the all-gather of the next chunk's rows runs
// while this chunk's GEMMs compute, and the reduce-scatter of one chunk's partial sums while the
// next chunk's GEMM computes. Backward (Megatron's bulk overlap), the re-gather of a saved input
// starts before the gradient GEMMs that do not need it, and the sum of an input gradient runs
// beside the weight-gradient GEMMs (gather_start/gather_wait, reduce_start/reduce_wait).
// The scratch rows that gathered and partial results live in are owned here, sized once for the
// largest micro-batch, and shared by all layers (used one operator at a time).
//
// Failure: the first communication error is kept in status() (the layers cannot return one); the
// caller checks it after each forward/backward, as for the expert exchange.
// Thread-safety: none.

#include <cstdint>
#include <span>

#include "core/status.h"
#include "parallel/comm.h"
#include "tensor/buffer.h"
#include "tensor/exec.h"

namespace symphony {

class WeightGradQueue;

// The collectives of (micro-batch rows) x (hidden size) elements one decoder layer issues per
// micro-batch under sequence parallelism, as this file's operators run them in the attention and
// MLP blocks; `symphony plan` costs tensor parallelism from these counts (plan/step_time.cc).
struct TensorParallelSchedule {
  static constexpr int kForward = 4;             // gather before, reduce after each sub-layer,
                                                 // each in 2 row chunks, one beside a GEMM
  static constexpr int kBackwardChunked = 2;     // gather of each sub-layer's output gradient,
                                                 // in 2 row chunks, one beside a GEMM
  static constexpr int kBackwardOverlapped = 4;  // re-gather of each saved input, reduce of each
                                                 // input gradient, beside gradient GEMMs
};

class TensorParallel {
 public:
  TensorParallel() = default;  // one rank
  // `group`: the tensor-parallel communicator (size 1 for none). `max_rows`: the micro-batch's
  // rows at most; `width`: the residual stream's width (hidden size).
  TensorParallel(Comm* group, bool sequence_parallel, int64_t max_rows, int64_t width,
                 DType dtype);

  int size() const { return size_; }
  // REQUIRES: size() > 1.
  Comm& group() { return *group_; }
  int rank() const { return rank_; }
  bool sequence_parallel() const { return sequence_parallel_ && size_ > 1; }
  // Rows of the residual stream this rank holds for a micro-batch of n rows (under SP the rows
  // [rank * n / size, (rank + 1) * n / size)).
  int64_t local_rows(int64_t n) const { return sequence_parallel() ? n / size_ : n; }
  // This rank's share of n rows under either mode (MoE layers route only these).
  int64_t shard_rows(int64_t n) const { return n / size_; }
  int64_t shard_begin(int64_t n) const { return n / size_ * rank_; }

  // The whole rows before a column-parallel GEMM: under SP `local` (n/tp rows) is all-gathered
  // into scratch `which` (0 or 1) and that view is returned; otherwise `local` itself.
  ConstView gather(ConstView local, int which);
  // Where a row-parallel GEMM writing the local rows `out` must put its (n, D) partial sum: a
  // scratch under SP, `out` itself otherwise.
  View partial_for(View out, int64_t n);
  // Sums `partial` (from partial_for(out, n)) over the group into `out`.
  void reduce(View partial, View out);
  // gather() and reduce() started without waiting: the gathered view (valid after gather_wait)
  // and the sum in `out` (valid after reduce_wait). One of each may be in flight at a time.
  ConstView gather_start(ConstView local, int which);
  void gather_wait();
  void reduce_start(View partial, View out);
  void reduce_wait();
  // Column-parallel GEMMs y_i = gather(x) · w_i^T for each weight w_i, the rows gathered chunk by
  // chunk beside the GEMMs of the chunk before (under SP; otherwise plain GEMMs). y_i: (n, out_i),
  // n = size() * x.dim(0) rows under SP.
  void column_parallel_forward(const Exec& ex, ConstView x, std::span<const ConstView> w,
                               std::span<const View> y);
  // A row-parallel GEMM x · w^T summed over the group into `out` (the rank's rows), chunk by
  // chunk: each chunk's sum runs beside the next chunk's GEMM. x: (n, in), out: (local rows, D).
  void row_parallel_forward(const Exec& ex, ConstView x, ConstView w, View out);

  // The backward of a row-parallel GEMM y = x · w^T whose output gradient this rank holds for
  // its rows (dy_local): dx = dy · w (n rows) and dw += dy^T · x, with dy gathered chunk by chunk
  // beside the GEMMs of the chunk before (under SP; otherwise plain GEMMs). dx may alias x: each
  // block's weight gradient is taken (or recorded by `queue`, model/weight_grad_queue.h) before
  // its input gradient overwrites it.
  void row_parallel_backward(const Exec& ex, ConstView x, ConstView w, ConstView dy_local, View dx,
                             View dw, WeightGradQueue* queue = nullptr);

  // All-gathers every rank's shard (shard_rows) into `whole`: the rows of a MoE layer that ran on
  // shards, back to the replicated stream. REQUIRES: not sequence parallel.
  void all_gather_shards(ConstView shard, View whole);
  // Sums a gradient in place over the group (tensors replicated on every rank whose gradient
  // each rank computed a part of).
  void all_reduce(View v);
  // The same for doubles (statistics).
  void all_reduce(std::span<double> v);

  const Status& status() const { return status_; }
  // The group's collectives since the last call: time in flight and time waited for.
  ExchangeTimes take_times();

 private:
  void note(Status s);
  // Blocking operation timing: all of it exposed.
  void blocked(double start);
  struct Pending {
    CommHandle handle;
    double start = 0;
    bool active = false;
  };
  void wait(Pending& p);
  // Gathers `local_rows` (this rank's rows of the stream) in row chunks and calls
  // fn(rows, begin, end) for each rank's block of each chunk as it arrives: `rows` are rows
  // [begin, end) of the whole micro-batch. REQUIRES: sequence parallel.
  template <typename Fn>
  void for_each_gathered_block(ConstView local_rows, const Fn& fn);
  // Row chunks of a micro-batch whose rank holds `local` rows of the stream (each rank's rows
  // split evenly, so chunk c of every rank forms one block of the collective).
  static int chunks_for(int64_t local) { return local % kChunks == 0 ? kChunks : 1; }
  static constexpr int kChunks = 2;

  Comm* group_ = nullptr;
  int size_ = 1, rank_ = 0;
  bool sequence_parallel_ = false;
  Buffer full_[2];   // (max_rows, width) gathered rows
  Buffer partial_;   // (max_rows, width) a row-parallel GEMM's partial sum
  Status status_;
  ExchangeTimes times_;
  Pending gather_, reduce_;
};

}  // namespace symphony
