#include "model/act_stash.h"

#include <numeric>

#include "core/check.h"
#include "kernels/bf16_convert.h"

namespace symphony {

int64_t ActStash::working_elems(int64_t rows, std::span<const int64_t> widths) {
  return rows * std::accumulate(widths.begin(), widths.end(), int64_t(0));
}

int64_t ActStash::bf16_elems(int64_t rows, std::span<const int64_t> widths, size_t stored) {
  SYM_CHECK(stored <= widths.size(), "{} stored tensors of {}", stored, widths.size());
  return *bf16_elems(CheckedInt(working_elems(rows, widths.first(stored)))).value();
}

ActStash::ActStash(DType dtype, int64_t rows, std::vector<int64_t> widths)
    : own_(dtype, {working_elems(rows, widths)}, MemoryCategory::kActivations),
      widths_(std::move(widths)), rows_(rows) {}

ActStash::ActStash(ActScratch& scratch, int64_t rows, std::vector<int64_t> widths, size_t stored,
                   int64_t at)
    : packed_(DType::kF32, {bf16_elems(rows, widths, stored)}, MemoryCategory::kActivations),
      scratch_(&scratch), at_(at), widths_(std::move(widths)), stored_(stored), rows_(rows) {
  SYM_CHECK(at >= 0 && scratch.elems() - at >= working_elems(rows_, widths_),
            "activation scratch of {} elements is too small for {} rows of {} tensors",
            scratch.elems(), rows_, widths_.size());
}

int64_t ActStash::offset(size_t i) const {
  return rows_ * std::accumulate(widths_.begin(), widths_.begin() + ptrdiff_t(i), int64_t(0));
}

uint16_t* ActStash::packed() { return static_cast<uint16_t*>(static_cast<void*>(packed_.f32())); }

View ActStash::view(size_t i, int64_t rows) {
  SYM_CHECK(i < widths_.size(), "tensor {} of {}", i, widths_.size());
  SYM_CHECK(rows <= rows_, "saved activations of {} rows hold {}", rows_, rows);
  const Shape shape{rows, widths_[i]};
  if (scratch_) return View(scratch_->data() + at_ + offset(i), DType::kF32, shape);
  return own_.view().rows(offset(i), offset(i) + rows * widths_[i]).reshape(shape);
}

void ActStash::save(const Exec& ex, int64_t rows) {
  if (!scratch_) return;
  for (size_t i = 0; i < stored_; ++i) {
    const size_t n = size_t(rows * widths_[i]);
    bf16_from_f32(ex, {view(i, rows).f32(), n}, {packed() + offset(i), n});
  }
}

void ActStash::restore(const Exec& ex, int64_t rows) {
  if (!scratch_) return;
  for (size_t i = 0; i < stored_; ++i) {
    const size_t n = size_t(rows * widths_[i]);
    f32_from_bf16(ex, {packed() + offset(i), n}, {view(i, rows).f32(), n});
  }
}

NormedInput::NormedInput(View normed, int64_t local_rows, int64_t hidden) : normed_(normed) {
  SYM_CHECK(normed.ndim() == 2 && normed.dim(0) >= local_rows && normed.dim(1) == hidden,
            "the normed-input working set must hold {} x {}", local_rows, hidden);
}

}  // namespace symphony
