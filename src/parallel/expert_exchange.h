#pragma once
// ExpertExchange: the token exchange of a MoE layer under expert parallelism. The ep group's
// ranks hold E / ep experts each (rank p: experts [p*El, (p+1)*El), El = E / ep). Each rank routes
// its own tokens, groups the rows by expert (model/moe/dispatch_plan.h) and then:
//   exchange_counts   all-to-all of the rows per expert, so every rank knows what it receives
//                     (the micro-batch's ExchangePlan: counts, chunk ranges, permutations);
//   dispatch(c)       all-to-all-v of chunk c's rows to the ranks that own their experts;
//   combine(c)        all-to-all-v of the expert outputs back (the exact reverse of dispatch).
// The backward pass runs dispatch on the output gradients and combine on the input gradients.
//
// Chunks: the local experts of every rank are cut into `chunks` equal ranges; chunk c carries the
// rows of range c of every rank. With two chunks, one chunk's exchange runs while the other's
// experts compute. So that each chunk's send rows are contiguous, the sender orders its rows by
// send position (chunk, destination rank, local expert): build the dispatch plan over
// send_position(e) instead of e.
//
// Received rows arrive source-major within a chunk ([source rank][local expert]); the experts
// want them expert-major ([local expert][source rank]). to_expert_major / to_source_major are the
// two row permutations (gather indices for kernels/moe_permute.h's moe_gather); both orders of a
// chunk occupy the same row range [recv_begin(c), recv_begin(c + 1)). Within an expert the rows
// stay in segments by source rank, each in the source's token order: an expert that runs its
// GEMMs segment by segment computes, for each source's rows, what one process computes for that
// micro-batch, so expert parallelism does not change the arithmetic.
//
// Timing: every exchange records how long it was in flight (issue to completion) and how long
// the caller waited for it; their ratio is the fraction of all-to-all time hidden behind compute.
// Thread-safety: none; the training thread only.

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "parallel/comm.h"

namespace symphony {

// The part of an exchange that belongs to one micro-batch: the rows per expert each way, the
// chunks' row ranges and the two row permutations. exchange_counts() computes it in the forward
// pass; the backward pass of the same micro-batch exchanges by it again. Under pipeline
// parallelism a stage runs several micro-batches' forward passes before their backward passes,
// so each micro-batch in flight keeps its own plan (model/moe/moe_block.h MoeActs).
class ExchangePlan {
 public:
  ExchangePlan() = default;
  // Sized for `ranks` ep ranks holding num_experts experts in `chunks` chunks and up to
  // `max_recv_rows` received rows, so exchange_counts() allocates nothing.
  ExchangePlan(int64_t num_experts, int ranks, int chunks, int64_t max_recv_rows);

  int64_t send_rows() const { return send_begin_.back(); }
  int64_t recv_rows() const { return recv_begin_.back(); }
  int64_t send_begin(int c) const { return send_begin_[size_t(c)]; }
  int64_t recv_begin(int c) const { return recv_begin_[size_t(c)]; }
  // Rows of local expert j in expert-major order: [expert_begin(j), expert_begin(j + 1)).
  int64_t expert_begin(int64_t j) const { return expert_begin_[size_t(j)]; }
  // Rows of local expert j from source rank q, in expert-major order:
  // [segment_offsets()[j * ranks + q], segment_offsets()[j * ranks + q + 1]).
  std::span<const int64_t> segment_offsets() const { return segment_begin_; }
  std::span<const int32_t> to_expert_major() const { return to_expert_major_; }
  std::span<const int32_t> to_source_major() const { return to_source_major_; }

 private:
  friend class ExpertExchange;
  std::vector<int64_t> send_counts_, recv_counts_;  // [rank * El + j] rows per local expert
  std::vector<int64_t> chunk_send_rows_;            // [c * ep + rank]
  std::vector<int64_t> chunk_recv_rows_;            // [c * ep + rank]
  std::vector<int64_t> send_begin_{0}, recv_begin_{0};  // [c + 1]
  std::vector<int64_t> expert_begin_;               // [j + 1]
  std::vector<int64_t> segment_begin_;              // [j * ranks + q + 1]
  std::vector<int32_t> to_expert_major_, to_source_major_;  // [received row]
};

// The communication of the exchange over the ep group, by a plan. What it keeps between calls is
// only what one forward or one backward pass uses (the chunks in flight, their element counts)
// and the times; the same object serves every micro-batch.
class ExpertExchange {
 public:
  // REQUIRES: num_experts % ep.size() == 0 and (num_experts / ep.size()) % chunks == 0.
  ExpertExchange(Comm& ep, int64_t num_experts, int chunks);

  // Two chunks when the local experts split evenly and there is more than one rank, else one.
  static int chunks_for(int64_t num_experts, int ep);
  // Position of expert e in the sender's row order (see "Chunks").
  int64_t send_position(int64_t expert) const;

  // rows_by_position: [send position] rows this rank sends (the dispatch plan's per-expert rows,
  // built over send positions). Exchanges the counts (blocking) and fills `plan` with them and
  // the row permutations of what arrives. REQUIRES: `plan` was sized for this exchange
  // (ExchangePlan(num_experts, ranks(), chunks(), ...)) and for the rows that arrive.
  // Failure: a communication error.
  Status exchange_counts(std::span<const int64_t> rows_by_position, ExchangePlan& plan);

  int chunks() const { return chunks_; }
  int64_t local_experts() const { return local_experts_; }
  int ranks() const { return ranks_; }

  // Chunk c of `plan`: send rows [send_begin(c), send_begin(c+1)) of `send` (row_elems floats
  // each) to the experts' ranks, receiving rows [recv_begin(c), recv_begin(c+1)) of `recv`. The
  // buffers are the whole send / receive arrays; they and `plan` must stay untouched until wait().
  void dispatch_async(const ExchangePlan& plan, int c, const float* send, float* recv,
                      int64_t row_elems);
  // The reverse: rows [recv_begin(c), ...) of `send` back into rows [send_begin(c), ...) of `recv`.
  void combine_async(const ExchangePlan& plan, int c, const float* send, float* recv,
                     int64_t row_elems);
  // Waits for chunk c's exchange in flight (dispatch or combine) and books its times.
  Status wait(int c);

  // Times since the last take_times().
  ExchangeTimes take_times();

 private:
  void start(int c, const float* send, std::span<const int64_t> send_rows, float* recv,
             std::span<const int64_t> recv_rows, int64_t row_elems);

  Comm& ep_;
  int ranks_;
  int64_t num_experts_, local_experts_;
  int chunks_;
  std::vector<int64_t> cursor_;                     // [local expert of a chunk] scratch
  std::vector<int64_t> elem_send_, elem_recv_;      // [c * ep + rank] element counts in flight
  struct InFlight {
    CommHandle handle;
    double issued_s = 0;
  };
  std::vector<InFlight> in_flight_;                 // [c]
  ExchangeTimes times_;
};

}  // namespace symphony
