#include "data/batch_sampler.h"

#include "core/check.h"
#include "core/rng.h"

namespace symphony {
namespace {

Status check_file_fits(const TokenFile& file, int64_t seq_len, int64_t micro_batch_size) {
  SYM_CHECK(seq_len >= 1 && micro_batch_size >= 1, "seq_len {} micro_batch_size {}", seq_len,
            micro_batch_size);
  if (file.size() < seq_len + 1)
    return Error::invalid("{}: {} tokens, too short for one window of seq_len + 1 = {} tokens",
                          file.path().string(), file.size(), seq_len + 1);
  return Status::ok();
}

// Copies window `start` (T + 1 tokens) into one row of inputs and targets.
void fill_row(const TokenFile& file, int64_t start, int64_t seq_len, int64_t row,
              std::span<int32_t> inputs, std::span<int32_t> targets) {
  const size_t offset = static_cast<size_t>(row * seq_len);
  const size_t count = static_cast<size_t>(seq_len);
  file.read(start, inputs.subspan(offset, count));
  file.read(start + 1, targets.subspan(offset, count));
}

void check_batch_spans(std::span<int32_t> inputs, std::span<int32_t> targets, int64_t seq_len,
                       int64_t micro_batch_size) {
  const size_t expected = static_cast<size_t>(seq_len * micro_batch_size);
  SYM_CHECK(inputs.size() == expected && targets.size() == expected,
            "batch spans of {} and {} tokens, expected {} x {}", inputs.size(), targets.size(),
            micro_batch_size, seq_len);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// BatchSampler

Result<BatchSampler> BatchSampler::create(const TokenFile& file, int64_t seq_len,
                                          int64_t micro_batch_size, uint64_t seed) {
  SYM_TRY(check_file_fits(file, seq_len, micro_batch_size));
  return BatchSampler(file, seq_len, micro_batch_size, seed);
}

BatchSampler::BatchSampler(const TokenFile& file, int64_t seq_len, int64_t micro_batch_size,
                           uint64_t seed)
    : file_(&file),
      seq_len_(seq_len),
      micro_batch_size_(micro_batch_size),
      num_windows_((file.size() - 1) / seq_len),
      order_key_(key_for(seed, "data.window_order")),
      order_(order_for(0)) {}

KeyedPermutation BatchSampler::order_for(int64_t epoch) const {
  return KeyedPermutation(num_windows_, splitmix64(order_key_ ^ splitmix64(uint64_t(epoch))));
}

int64_t BatchSampler::window_start(int64_t epoch, int64_t position) const {
  SYM_CHECK(epoch >= 0 && position >= 0 && position < num_windows_,
            "window {} of epoch {} outside [0, {})", position, epoch, num_windows_);
  if (epoch == state_.epoch) return order_(position) * seq_len_;
  return order_for(epoch)(position) * seq_len_;
}

void BatchSampler::next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  check_batch_spans(inputs, targets, seq_len_, micro_batch_size_);
  for (int64_t row = 0; row < micro_batch_size_; ++row) {
    fill_row(*file_, order_(state_.position) * seq_len_, seq_len_, row, inputs, targets);
    if (++state_.position == num_windows_) {
      state_.position = 0;
      ++state_.epoch;
      order_ = order_for(state_.epoch);
    }
  }
}

Status BatchSampler::set_state(const SamplerState& state) {
  if (state.epoch < 0 || state.position < 0 || state.position >= num_windows_)
    return Error::invalid("{}: sampler state (epoch {}, position {}) does not fit {} windows",
                          file_->path().string(), state.epoch, state.position, num_windows_);
  state_ = state;
  order_ = order_for(state_.epoch);
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// EvalSampler

Result<EvalSampler> EvalSampler::create(const TokenFile& file, int64_t seq_len,
                                        int64_t micro_batch_size) {
  SYM_TRY(check_file_fits(file, seq_len, micro_batch_size));
  return EvalSampler(file, seq_len, micro_batch_size);
}

EvalSampler::EvalSampler(const TokenFile& file, int64_t seq_len, int64_t micro_batch_size)
    : file_(&file),
      seq_len_(seq_len),
      micro_batch_size_(micro_batch_size),
      num_windows_((file.size() - 1) / seq_len) {}

int64_t EvalSampler::num_batches() const {
  const int64_t full = num_windows_ / micro_batch_size_;
  return full > 0 ? full : 1;
}

void EvalSampler::next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  check_batch_spans(inputs, targets, seq_len_, micro_batch_size_);
  for (int64_t row = 0; row < micro_batch_size_; ++row) {
    fill_row(*file_, position_ * seq_len_, seq_len_, row, inputs, targets);
    if (++position_ == num_windows_) position_ = 0;
  }
}

}  // namespace symphony
