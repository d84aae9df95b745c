#pragma once
// ExpertTensorGather: the rows an expert-tensor-parallel (etp) group computes together.
//
// Under expert tensor parallelism each expert's intermediate width F is split over the etp
// ranks (gate and up by output column, down by input column), while each rank holds its own
// tokens. Before the expert GEMMs the group all-gathers its rows, segment by segment (a segment
// is the rows of one local expert, or of one expert and source under expert parallelism), so
// every rank computes its F-slice for all of them; after the down projection the partial outputs
// are summed back to the rows' own ranks by a reduce-scatter. The backward pass gathers the
// output gradients the same way and sums the input gradients back.
//
// Gathered layout: segment s of rank r lands at gathered segment s * etp + r, so each local
// expert's rows stay contiguous (one GEMM per projection and segment).
// Thread-safety: none. Collective over the etp group: every rank calls the same operations.

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "parallel/comm.h"
#include "tensor/buffer.h"

namespace symphony {

class ExpertTensorGather {
 public:
  // `max_rows`: the most rows a rank passes to gather(); `width`: the hidden size.
  ExpertTensorGather(Comm& group, int64_t max_rows, int64_t width);

  int ranks() const { return group_->size(); }
  // All-gathers `rows` (segments delimited by `offsets`, offsets.size() - 1 segments, starting
  // at 0) into `gathered` (at least ranks() * max_rows rows). Afterwards offsets() delimits the
  // gathered segments and rows() counts them. The segment counts are exchanged first.
  Status gather(ConstView rows, std::span<const int64_t> offsets, View gathered);
  std::span<const int64_t> offsets() const { return gathered_offsets_; }
  int64_t rows() const { return gathered_offsets_.back(); }
  // Sums `gathered` (laid out as by the last gather()) over the group into this rank's `rows`.
  Status scatter_sum(ConstView gathered, View rows);

 private:
  // The rows exchange of gather(), once the counts are known.
  Status gather_rows(ConstView rows, View gathered);

  Comm* group_;
  int64_t width_;
  std::vector<int64_t> mine_;              // [s] rows of segment s on this rank
  std::vector<int64_t> counts_;            // [rank * segments + s] rows of segment s on rank
  std::vector<int64_t> gathered_offsets_;  // [segments * ranks + 1]
  int64_t segments_ = 0, padded_ = 0;      // rows per rank in the padded exchange
  Buffer send_, recv_;                     // (max_rows, width), (ranks * max_rows, width)
};

}  // namespace symphony
