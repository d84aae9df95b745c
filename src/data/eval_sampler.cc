#include "data/eval_sampler.h"

#include "core/check.h"

namespace symphony {

Result<EvalSampler> EvalSampler::create(const TokenDataset& dataset, int64_t seq_len,
                                        int64_t micro_batch_size) {
  SYM_CHECK(seq_len >= 1 && micro_batch_size >= 1, "seq_len {} micro_batch_size {}", seq_len,
            micro_batch_size);
  if (dataset.size() < seq_len + 1)
    return Error::invalid("{}: {} tokens, too short for one window of seq_len + 1 = {} tokens",
                          dataset.name(), dataset.size(), seq_len + 1);
  return EvalSampler(dataset, seq_len, micro_batch_size);
}

EvalSampler::EvalSampler(const TokenDataset& dataset, int64_t seq_len, int64_t micro_batch_size)
    : dataset_(&dataset),
      seq_len_(seq_len),
      micro_batch_size_(micro_batch_size),
      num_windows_((dataset.size() - 1) / seq_len) {}

int64_t EvalSampler::num_batches() const {
  const int64_t full = num_windows_ / micro_batch_size_;
  return full > 0 ? full : 1;
}

void EvalSampler::next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  const size_t row = static_cast<size_t>(seq_len_);
  SYM_CHECK(inputs.size() == row * static_cast<size_t>(micro_batch_size_) &&
                targets.size() == inputs.size(),
            "batch spans of {} and {} tokens, expected {} x {}", inputs.size(), targets.size(),
            micro_batch_size_, seq_len_);
  for (int64_t b = 0; b < micro_batch_size_; ++b) {
    const size_t offset = static_cast<size_t>(b) * row;
    dataset_->read(position_ * seq_len_, inputs.subspan(offset, row));
    dataset_->read(position_ * seq_len_ + 1, targets.subspan(offset, row));
    if (++position_ == num_windows_) position_ = 0;
  }
}

}  // namespace symphony
