#pragma once
// Activations a block keeps between its forward and its backward pass, in fp32 or in bf16.
//
// ActStash holds tensors 0..k-1, each (rows, width_i) for a capacity of rows, in one of two modes:
//  - kept as computed (the model's dtype): each tensor has storage of its own; view() gives it and
//    save()/restore() do nothing.
//  - bf16 (train.precision = "bf16" or "fp8" without recomputation, core/precision.h): the
//    block computes on an fp32 working set the model's blocks share (ActScratch; blocks run one at
//    a time), save() rounds the first `stored` tensors to bf16 (round to nearest even,
//    kernels/bf16_convert.h) into storage of their own, and restore() widens them back onto the
//    working set for the backward pass. The other tensors are working space only: the block
//    recomputes them from the restored ones (SwigluActBuffers, model/mlp.h: a = silu(g) * u).
// A block calls view() in its forward pass, then save(rows); restore(rows) before its backward
// pass, which then reads view(). Rows [0, rows) travel.
// Thread-safety: none; the working set is one block's at a time.

#include <cstdint>
#include <span>
#include <vector>

#include "core/checked_math.h"
#include "tensor/buffer.h"
#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

// The fp32 working set the bf16 ActStashes of a model share, sized for the largest
// (ActStash::working_elems).
class ActScratch {
 public:
  ActScratch() = default;
  explicit ActScratch(int64_t elems) : buf_(DType::kF32, {elems}, MemoryCategory::kActivations) {}
  float* data() { return buf_.f32(); }
  int64_t elems() const { return buf_.numel(); }

 private:
  Buffer buf_;
};

class ActStash {
 public:
  ActStash() = default;
  // Kept as computed: one buffer in `dtype` for all tensors.
  ActStash(DType dtype, int64_t rows, std::vector<int64_t> widths);
  // bf16: the first `stored` tensors saved in bf16, all of them worked on in `scratch` from
  // element `at` on; the scratch must outlive this and hold at + working_elems(rows, widths).
  ActStash(ActScratch& scratch, int64_t rows, std::vector<int64_t> widths, size_t stored,
           int64_t at = 0);

  // Tensor i's first `rows` rows. REQUIRES: rows <= this->rows().
  View view(size_t i, int64_t rows);
  void save(const Exec& ex, int64_t rows);
  void restore(const Exec& ex, int64_t rows);

  bool bf16() const { return scratch_ != nullptr; }
  int64_t rows() const { return rows_; }

  // Elements of all tensors together: the storage kept as computed, or the working set.
  static int64_t working_elems(int64_t rows, std::span<const int64_t> widths);
  // fp32 elements the bf16 storage of the first `stored` tensors takes (two values per float).
  static int64_t bf16_elems(int64_t rows, std::span<const int64_t> widths, size_t stored);
  // The same for `values` bf16 values, in checked arithmetic (model/memory_plan.cc).
  static CheckedInt bf16_elems(CheckedInt values) {
    return values.overflowed() ? values : CheckedInt((*values.value() + 1) / 2);
  }

 private:
  int64_t offset(size_t i) const;  // of tensor i, in elements, laid out for the full capacity
  uint16_t* packed();

  Buffer own_;     // kept as computed
  Buffer packed_;  // bf16 storage, laid out as the working set's first `stored_` tensors
  ActScratch* scratch_ = nullptr;
  int64_t at_ = 0;  // of the working set in scratch_
  std::vector<int64_t> widths_;
  size_t stored_ = 0;
  int64_t rows_ = 0;
};

// The normed input of a pre-norm sub-layer (local rows, D): a buffer of its own, kept as computed,
// or (bf16) a view of `normed`, a working set the model's layers share, into which the sub-layer
// recomputes it before its backward pass (rmsnorm_apply).
class NormedInput {
 public:
  NormedInput() = default;
  NormedInput(DType dtype, int64_t local_rows, int64_t hidden)
      : own_(dtype, {local_rows, hidden}, MemoryCategory::kActivations) {}
  // REQUIRES: normed is (>= local_rows, hidden).
  NormedInput(View normed, int64_t local_rows, int64_t hidden);

  View rows(int64_t local_rows) {
    return (recomputed() ? normed_ : own_.view()).rows(0, local_rows);
  }
  bool recomputed() const { return own_.empty(); }

 private:
  Buffer own_;    // kept as computed
  View normed_;   // bf16: the shared working set it lives in
};

// What a pre-norm sub-layer (attention, MLA) keeps for its backward pass: an ActStash and its
// normed input h (NormedInput).
class SubLayerActs {
 public:
  SubLayerActs() = default;
  SubLayerActs(DType dtype, int64_t rows, int64_t local_rows, int64_t hidden,
               std::vector<int64_t> widths)
      : h_(dtype, local_rows, hidden), stash_(dtype, rows, std::move(widths)) {}
  // REQUIRES: normed is (>= local_rows, hidden).
  SubLayerActs(ActScratch& scratch, View normed, int64_t rows, int64_t local_rows, int64_t hidden,
               std::vector<int64_t> widths, size_t stored)
      : h_(normed, local_rows, hidden), stash_(scratch, rows, std::move(widths), stored) {}

  View h(int64_t local_rows) { return h_.rows(local_rows); }
  bool recomputes_h() const { return h_.recomputed(); }
  void save(const Exec& ex, int64_t rows) { stash_.save(ex, rows); }
  void restore(const Exec& ex, int64_t rows) { stash_.restore(ex, rows); }

 protected:
  View stashed(size_t i, int64_t rows) { return stash_.view(i, rows); }

 private:
  NormedInput h_;
  ActStash stash_;
};

}  // namespace symphony
