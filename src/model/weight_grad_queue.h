#pragma once
// WeightGradQueue: the weight-gradient GEMMs of a backward pass, held back for a later pass.
// Zero-bubble pipeline schedules (parallel/pipeline_schedule.h, ZB-H1) split a backward into B,
// the input gradients the previous stage waits for, and W, the weight gradients, which fill the
// pipeline's idle time. The model's linear layers call linear_weight() for dW += dy^T x; while
// the queue defers a pass it copies x and dy (the pass's activation slot and scratch are reused
// before W runs) and records where dW lies within its parameter, so W finds it again even when
// ZeRO binds the gradients to another buffer by then. The LM head's weight gradient is recorded
// the same way, one record per row chunk of the fused loss (kernels/cross_entropy.h,
// HeadGradSink), when the model allows it (Transformer::backward_chunk). Everything else (norms,
// router, the embedding, gradients summed over tensor-parallel ranks right after a block) runs
// in B.
// Records run in the order they were made, so the sums equal those of an undivided backward.
// Consecutive records with the same input (q, k and v of one normed input; gate and up) share
// one copy of it.
// Memory: each pending pass keeps one arena, reused by later passes: reserve() allocates them up
// front (model/memory_plan.h weight_grad_pass_elems); an arena found too small grows.
// Thread-safety: none.

#include <cstdint>
#include <vector>

#include "model/param_store.h"
#include "model/unit_hooks.h"
#include "tensor/buffer.h"
#include "tensor/exec.h"

namespace symphony {

class WeightGradQueue {
 public:
  explicit WeightGradQueue(ParamStore& store) : store_(store) {}

  // Gradients of `id` always run at once (those summed over a group right after their block).
  void keep_immediate(ParamId id);
  // Allocates `passes` arenas of `elems` floats each.
  void reserve(int passes, int64_t elems);
  // Floats the arenas hold (reserved or grown).
  int64_t capacity() const;
  // Between begin() and end() linear_weight() records for pass `key` (a micro-batch), the
  // gradients belonging to hook block `block` (set_block()).
  void begin(int key);
  void set_block(int block) { block_ = block; }
  void end() { key_ = -1; }
  bool deferring() const { return key_ >= 0; }
  // Whether the current pass recorded anything for `block`.
  bool recorded(int key, int block) const;

  // dw += dy^T x, now or recorded. dw must be (a contiguous part of) one parameter's gradient of
  // the current block; x: (rows, in), dy: (rows, out), dw: (out, in).
  void linear_weight(const Exec& ex, ConstView x, ConstView dy, View dw);

  // Runs pass `key`'s records in order, calling hooks->before_weight_grads(block) and
  // after_weight_grads(block) around each block's (hooks may be null), and frees its arena for
  // another pass.
  void run(const Exec& ex, int key, UnitHooks* hooks);
  bool pending(int key) const;

 private:
  struct Record {
    int block;
    ParamId id;
    int64_t offset;                 // of dw within the parameter's gradient
    int64_t rows, in, out;
    int64_t x_at, dy_at;            // in the arena
    const float* x_source;          // where x was copied from
  };
  struct Pass {
    int key = -1;
    Buffer arena;
    int64_t used = 0;
    std::vector<Record> records;
  };
  Pass& pass_for(int key);
  int64_t append(Pass& pass, ConstView v);

  ParamStore& store_;
  std::vector<bool> immediate_;  // [param]
  std::vector<Pass> passes_;     // key -1: free
  int key_ = -1, block_ = -1;
};

// dW += dy^T x through `queue` when there is one, else at once (model/linear.h).
void linear_backward_weight(const Exec& ex, ConstView x, ConstView dy, View dw,
                            WeightGradQueue* queue);

}  // namespace symphony
