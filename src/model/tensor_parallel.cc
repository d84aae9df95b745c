#include "model/tensor_parallel.h"

#include <algorithm>

#include "model/linear.h"
#include "model/weight_grad_queue.h"

namespace symphony {
namespace {

CommDType comm_dtype(DType dtype) {
  SYM_CHECK(dtype == DType::kF32 || dtype == DType::kF64, "tensor parallelism of {} tensors",
            dtype_name(dtype));
  return dtype == DType::kF64 ? CommDType::kF64 : CommDType::kF32;
}

}  // namespace

TensorParallel::TensorParallel(Comm* group, bool sequence_parallel, int64_t max_rows,
                               int64_t width, DType dtype)
    : group_(group),
      size_(group ? group->size() : 1),
      rank_(group ? group->rank() : 0),
      sequence_parallel_(sequence_parallel) {
  if (size_ == 1 || max_rows == 0) return;
  full_[0] = Buffer(dtype, {max_rows, width}, MemoryCategory::kActivations);
  partial_ = Buffer(dtype, {max_rows, width}, MemoryCategory::kActivations);
  if (sequence_parallel_) full_[1] = Buffer(dtype, {max_rows, width}, MemoryCategory::kActivations);
}

void TensorParallel::note(Status s) {
  if (!s.is_ok() && status_.is_ok()) status_ = std::move(s);
}

ConstView TensorParallel::gather(ConstView local, int which) {
  if (!sequence_parallel()) return local;
  const int64_t n = local.dim(0) * size_;
  View whole = full_[which].view().rows(0, n);
  const double start = steady_seconds();
  note(group_->all_gather(local.raw(), whole.raw(), local.numel(), comm_dtype(local.dtype())));
  blocked(start);
  return whole;
}

template <typename Fn>
void TensorParallel::for_each_gathered_block(ConstView local_rows, const Fn& fn) {
  // Chunk c of the gathered rows holds, for every rank r, rows [c*h, (c+1)*h) of r's local rows
  // (h = local / chunks), rank-major; chunk c + 1 is gathered while fn runs on chunk c's blocks.
  const int64_t local = local_rows.dim(0), chunks = chunks_for(local), h = local / chunks;
  const CommDType type = comm_dtype(local_rows.dtype());
  Pending pending[kChunks];
  auto start = [&](int64_t c) {
    View gathered = full_[0].view().rows(c * h * size_, (c + 1) * h * size_);
    pending[c].start = steady_seconds();
    pending[c].handle = group_->all_gather_async(local_rows.rows(c * h, (c + 1) * h).raw(),
                                                 gathered.raw(), h * local_rows.dim(1), type);
    pending[c].active = true;
  };
  start(0);
  for (int64_t c = 0; c < chunks; ++c) {
    if (c + 1 < chunks) start(c + 1);
    wait(pending[c]);
    ConstView gathered = full_[0].view().rows(c * h * size_, (c + 1) * h * size_);
    for (int r = 0; r < size_; ++r)
      fn(gathered.rows(r * h, (r + 1) * h), r * local + c * h, r * local + (c + 1) * h);
  }
}

void TensorParallel::column_parallel_forward(const Exec& ex, ConstView x,
                                             std::span<const ConstView> w,
                                             std::span<const View> y) {
  if (!sequence_parallel()) {
    const Bf16SharedOperand shared(x);
    for (size_t i = 0; i < w.size(); ++i) linear_forward(ex, x, w[i], y[i]);
    return;
  }
  for_each_gathered_block(x, [&](ConstView rows, int64_t begin, int64_t end) {
    const Bf16SharedOperand shared(rows);
    for (size_t i = 0; i < w.size(); ++i)
      linear_forward(ex, rows, w[i], y[i].rows(begin, end));
  });
}

void TensorParallel::row_parallel_forward(const Exec& ex, ConstView x, ConstView w, View out) {
  if (size_ == 1) {
    linear_forward(ex, x, w, out);
    return;
  }
  const int64_t local = out.dim(0), chunks = chunks_for(local), h = local / chunks;
  const int64_t width = out.dim(1);
  const CommDType type = comm_dtype(out.dtype());
  Pending pending[kChunks];
  for (int64_t c = 0; c < chunks; ++c) {
    if (sequence_parallel()) {
      // The partial sums of chunk c, block r holding rank r's rows [c*h, (c+1)*h).
      View block = partial_.view().rows(c * h * size_, (c + 1) * h * size_);
      for (int r = 0; r < size_; ++r)
        linear_forward(ex, x.rows(r * local + c * h, r * local + (c + 1) * h), w,
                       block.rows(r * h, (r + 1) * h));
      pending[c].start = steady_seconds();
      pending[c].handle = group_->reduce_scatter_async(
          block.raw(), out.rows(c * h, (c + 1) * h).raw(), h * width, type, ReduceOp::kSum);
    } else {
      View rows = out.rows(c * h, (c + 1) * h);
      linear_forward(ex, x.rows(c * h, (c + 1) * h), w, rows);
      pending[c].start = steady_seconds();
      pending[c].handle = group_->all_reduce_async(rows.raw(), rows.numel(), type, ReduceOp::kSum);
    }
    pending[c].active = true;
  }
  for (int64_t c = 0; c < chunks; ++c) wait(pending[c]);
}

void TensorParallel::row_parallel_backward(const Exec& ex, ConstView x, ConstView w,
                                           ConstView dy_local, View dx, View dw,
                                           WeightGradQueue* queue) {
  auto block = [&](ConstView dy, int64_t begin, int64_t end) {
    const Bf16SharedOperand shared(dy);
    linear_backward_weight(ex, x.rows(begin, end), dy, dw, queue);
    linear_backward_input(ex, w, dy, dx.rows(begin, end), Accumulate::kNo);
  };
  if (sequence_parallel())
    for_each_gathered_block(dy_local, block);
  else
    block(dy_local, 0, dy_local.dim(0));
}

ConstView TensorParallel::gather_start(ConstView local, int which) {
  if (!sequence_parallel()) return local;
  SYM_CHECK(!gather_.active, "a tensor-parallel gather is already in flight");
  const int64_t n = local.dim(0) * size_;
  View whole = full_[which].view().rows(0, n);
  gather_.start = steady_seconds();
  gather_.handle =
      group_->all_gather_async(local.raw(), whole.raw(), local.numel(), comm_dtype(local.dtype()));
  gather_.active = true;
  return whole;
}

void TensorParallel::gather_wait() { wait(gather_); }

void TensorParallel::reduce_start(View partial, View out) {
  if (size_ == 1) return;
  SYM_CHECK(!reduce_.active, "a tensor-parallel reduction is already in flight");
  reduce_.start = steady_seconds();
  if (sequence_parallel())
    reduce_.handle = group_->reduce_scatter_async(partial.raw(), out.raw(), out.numel(),
                                                  comm_dtype(out.dtype()), ReduceOp::kSum);
  else
    reduce_.handle = group_->all_reduce_async(out.raw(), out.numel(), comm_dtype(out.dtype()),
                                              ReduceOp::kSum);
  reduce_.active = true;
}

void TensorParallel::reduce_wait() { wait(reduce_); }

void TensorParallel::wait(Pending& p) {
  if (!p.active) return;
  const double waited = steady_seconds();
  note(p.handle.wait());
  const double done = std::max(p.handle.completed_s(), p.start);
  times_.in_flight_s += done - p.start;
  times_.exposed_s += steady_seconds() - waited;
  p.active = false;
}

void TensorParallel::blocked(double start) {
  const double s = steady_seconds() - start;
  times_.in_flight_s += s;
  times_.exposed_s += s;
}

View TensorParallel::partial_for(View out, int64_t n) {
  return sequence_parallel() ? partial_.view().rows(0, n) : out;
}

void TensorParallel::reduce(View partial, View out) {
  if (size_ == 1) return;
  const double start = steady_seconds();
  if (sequence_parallel())
    note(group_->reduce_scatter(partial.raw(), out.raw(), out.numel(), comm_dtype(out.dtype()),
                                ReduceOp::kSum));
  else
    note(group_->all_reduce(out.raw(), out.numel(), comm_dtype(out.dtype()), ReduceOp::kSum));
  blocked(start);
}

void TensorParallel::all_gather_shards(ConstView shard, View whole) {
  SYM_CHECK(!sequence_parallel(), "all_gather_shards under sequence parallelism");
  if (size_ == 1) return;
  const double start = steady_seconds();
  // The shard may be a view into `whole` (the rows it will occupy): gather from a copy.
  View copy = partial_.view().rows(0, shard.dim(0));
  std::copy_n(static_cast<const char*>(shard.raw()), shard.bytes(), static_cast<char*>(copy.raw()));
  note(group_->all_gather(copy.raw(), whole.raw(), copy.numel(), comm_dtype(copy.dtype())));
  blocked(start);
}

void TensorParallel::all_reduce(View v) {
  if (size_ == 1 || v.numel() == 0) return;
  const double start = steady_seconds();
  note(group_->all_reduce(v.raw(), v.numel(), comm_dtype(v.dtype()), ReduceOp::kSum));
  blocked(start);
}

void TensorParallel::all_reduce(std::span<double> v) {
  if (size_ == 1 || v.empty()) return;
  const double start = steady_seconds();
  note(group_->all_reduce(v));
  blocked(start);
}

ExchangeTimes TensorParallel::take_times() {
  const ExchangeTimes t = times_;
  times_ = ExchangeTimes{};
  return t;
}

}  // namespace symphony
