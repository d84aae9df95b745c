#include "model/moe/expert_tensor_gather.h"

#include <algorithm>
#include <cstring>

namespace symphony {

ExpertTensorGather::ExpertTensorGather(Comm& group, int64_t max_rows, int64_t width)
    : group_(&group),
      width_(width),
      send_(DType::kF32, {std::max<int64_t>(max_rows, 1), width}, MemoryCategory::kActivations),
      recv_(DType::kF32, {std::max<int64_t>(max_rows, 1) * group.size(), width},
            MemoryCategory::kActivations) {}

Status ExpertTensorGather::gather(ConstView rows, std::span<const int64_t> offsets,
                                  View gathered) {
  const int p = ranks();
  segments_ = int64_t(offsets.size()) - 1;
  mine_.resize(size_t(segments_));
  for (int64_t s = 0; s < segments_; ++s)
    mine_[size_t(s)] = offsets[size_t(s + 1)] - offsets[size_t(s)];
  counts_.resize(size_t(segments_ * p));
  SYM_TRY(group_->all_gather(mine_.data(), counts_.data(), segments_, CommDType::kI64));
  padded_ = 0;
  for (int r = 0; r < p; ++r) {
    int64_t total = 0;
    for (int64_t s = 0; s < segments_; ++s) total += counts_[size_t(r * segments_ + s)];
    padded_ = std::max(padded_, total);
  }
  gathered_offsets_.assign(size_t(segments_ * p + 1), 0);
  for (int64_t s = 0; s < segments_; ++s)
    for (int r = 0; r < p; ++r) {
      const size_t g = size_t(s * p + r);
      gathered_offsets_[g + 1] = gathered_offsets_[g] + counts_[size_t(r * segments_ + s)];
    }
  return gather_rows(rows, gathered);
}

Status ExpertTensorGather::gather_rows(ConstView rows, View gathered) {
  const int p = ranks();
  const size_t row_bytes = size_t(width_) * sizeof(float);
  if (rows.dim(0) > 0) std::memcpy(send_.view().raw(), rows.raw(), size_t(rows.dim(0)) * row_bytes);
  SYM_TRY(group_->all_gather(send_.view().raw(), recv_.view().raw(), padded_ * width_,
                             CommDType::kF32));
  const float* recv = recv_.f32();
  float* out = gathered.f32();
  for (int r = 0; r < p; ++r) {
    int64_t at = 0;  // row within rank r's block
    for (int64_t s = 0; s < segments_; ++s) {
      const int64_t count = counts_[size_t(r * segments_ + s)];
      std::memcpy(out + gathered_offsets_[size_t(s * p + r)] * width_,
                  recv + (r * padded_ + at) * width_, size_t(count) * row_bytes);
      at += count;
    }
  }
  return Status::ok();
}

Status ExpertTensorGather::scatter_sum(ConstView gathered, View rows) {
  const int p = ranks();
  const size_t row_bytes = size_t(width_) * sizeof(float);
  const float* in = gathered.f32();
  float* blocks = recv_.f32();
  for (int r = 0; r < p; ++r) {
    int64_t at = 0;
    for (int64_t s = 0; s < segments_; ++s) {
      const int64_t count = counts_[size_t(r * segments_ + s)];
      std::memcpy(blocks + (r * padded_ + at) * width_,
                  in + gathered_offsets_[size_t(s * p + r)] * width_, size_t(count) * row_bytes);
      at += count;
    }
    // The padding is summed too; it is never read back.
    std::fill(blocks + (r * padded_ + at) * width_, blocks + (r + 1) * padded_ * width_, 0.f);
  }
  SYM_TRY(group_->reduce_scatter(blocks, send_.view().raw(), padded_ * width_, CommDType::kF32,
                                 ReduceOp::kSum));
  if (rows.dim(0) > 0) std::memcpy(rows.raw(), send_.view().raw(), size_t(rows.dim(0)) * row_bytes);
  return Status::ok();
}

}  // namespace symphony
