#include "model/vocab_parallel_loss.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/check.h"
#include "kernels/cross_entropy_rows.h"
#include "kernels/gemm.h"

namespace symphony {
namespace {

// The precise path (f64, or KernelImpl::kRef) uses exact exponentials and sums in double; the
// wrappers below pick a path per row.
template <typename T>
T row_max(const T* row, int64_t n, bool precise) {
  if constexpr (std::is_same_v<T, float>) {
    if (!precise) return cpu::ce_row_max(row, n);
  }
  T top = row[0];
  for (int64_t v = 1; v < n; ++v) top = std::max(top, row[v]);
  return top;
}

template <typename T>
double row_exp_sum(T* row, int64_t n, T top, bool store, bool precise) {
  if constexpr (std::is_same_v<T, float>) {
    if (!precise) return cpu::ce_row_exp_sum(row, n, top, store);
  }
  double sum = 0.0;
  for (int64_t v = 0; v < n; ++v) {
    const double e = std::exp(double(row[v]) - double(top));
    if (store) row[v] = T(e);
    sum += e;
  }
  return sum;
}

template <typename T>
void row_scale(T* row, int64_t n, double scale, bool precise) {
  if constexpr (std::is_same_v<T, float>) {
    if (!precise) return cpu::ce_row_scale(row, n, float(scale));
  }
  for (int64_t v = 0; v < n; ++v) row[v] = T(double(row[v]) * scale);
}

// Statistics of the rows of one chunk, as this rank sees them and then, after the reductions,
// over the whole vocabulary. Laid out [max | sum | target | owners], each `rows` long, so that
// the max is one reduction and the other three one more.
struct ChunkStats {
  double* max;     // largest logit of the row
  double* sum;     // sum of e^(logit - max)
  double* target;  // the target's logit; 0 on ranks whose block does not hold the target
  double* owners;  // 1 on the rank holding the target, else 0: the sum over ranks must be 1
};

bool fast_path(const Exec& ex, ConstView h) {
  return ex.impl != KernelImpl::kRef && h.dtype() == DType::kF32;
}

// Local row maxima of one chunk of logits (rows, vl); ignored rows get 0, the same on every rank.
template <typename T>
void chunk_local_max(const T* logits, int64_t rows, int64_t vl, const int32_t* targets,
                     bool precise, const ChunkStats& st) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = logits + r * vl;
    st.max[r] = targets[r] < 0 ? 0.0 : double(row_max(row, vl, precise));
  }
}

// Given the global maxima: the local sums of exponentials, the target logits this rank holds,
// and with `grad` the exponentials in place of the logits (zeros for ignored rows).
template <typename T>
void chunk_local_sums(T* logits, int64_t rows, int64_t vl, int64_t vocab_first,
                      const int32_t* targets, bool precise, bool grad, const ChunkStats& st) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    T* row = logits + r * vl;
    const int64_t t = targets[r];
    if (t < 0) {
      st.sum[r] = st.target[r] = st.owners[r] = 0.0;
      if (grad) std::fill(row, row + vl, T(0));
      continue;
    }
    const int64_t local = t - vocab_first;
    const bool owned = local >= 0 && local < vl;
    st.target[r] = owned ? double(row[local]) : 0.0;  // read before the exponentials replace it
    st.owners[r] = owned ? 1.0 : 0.0;
    // The max of floats converts back to float exactly.
    const T top = T(st.max[r]);
    st.sum[r] = row_exp_sum(row, vl, top, grad, precise);
  }
}

// Given the global sums: the exponentials in each row become g * (softmax - onehot). On the fast
// path g is a float, as in kernels/cross_entropy_cpu.cc.
template <typename T>
void chunk_softmax_grad(T* logits, int64_t rows, int64_t vl, int64_t vocab_first,
                        const int32_t* targets, bool precise, double g, const ChunkStats& st) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = targets[r];
    if (t < 0) continue;  // already zeros
    T* row = logits + r * vl;
    row_scale(row, vl, g / st.sum[r], precise);
    const int64_t local = t - vocab_first;
    if (local >= 0 && local < vl) row[local] -= T(g);
  }
}

template <typename T>
CrossEntropyResult run(const Exec& ex, Comm& tp, ConstView h, ConstView w_block,
                       int64_t vocab_first, std::span<const int32_t> targets, double grad_scale,
                       View scratch, View dh, View dw, Status& status) {
  const int64_t n_rows = h.dim(0), vl = w_block.dim(0), chunk = scratch.dim(0);
  const bool grad = !dh.empty(), precise = !fast_path(ex, h);
  const double g = precise ? grad_scale : double(float(grad_scale));
  // The caller's thread_local, grown once to its largest chunk and shared with the team.
  thread_local std::vector<double> stats_storage;
  const int64_t stats_rows = std::min(chunk, std::max<int64_t>(n_rows, 1));
  stats_storage.resize(static_cast<size_t>(4 * stats_rows));
  double* stats = stats_storage.data();
  auto failed = [&](Status s) {
    if (s.is_ok()) return false;
    if (status.is_ok())
      status = s.with_context("vocab-parallel cross entropy over group '{}'", tp.name());
    return true;
  };

  CrossEntropyResult result;
  for (int64_t begin = 0; begin < n_rows; begin += chunk) {
    const int64_t end = std::min(begin + chunk, n_rows), rows = end - begin;
    const int32_t* chunk_targets = targets.data() + begin;
    ConstView h_chunk = h.rows(begin, end);
    View logits_v = scratch.rows(0, rows);
    T* logits = logits_v.data<T>();
    // The BLAS is multithreaded itself, so the GEMMs and the collectives run between the
    // parallel regions.
    gemm(ex, Trans::kNo, Trans::kYes, 1.0, h_chunk, w_block, 0.0, logits_v);
    const ChunkStats cs{stats, stats + rows, stats + 2 * rows, stats + 3 * rows};
    chunk_local_max(logits, rows, vl, chunk_targets, precise, cs);
    if (failed(tp.all_reduce(cs.max, rows, CommDType::kF64, ReduceOp::kMax))) return {};
    chunk_local_sums(logits, rows, vl, vocab_first, chunk_targets, precise, grad, cs);
    if (failed(tp.all_reduce(cs.sum, 3 * rows, CommDType::kF64, ReduceOp::kSum))) return {};
    // Summed in row order: the loss does not depend on the thread count.
    for (int64_t r = 0; r < rows; ++r) {
      if (chunk_targets[r] < 0) continue;
      SYM_CHECK(cs.owners[r] == 1.0,
                "vocab_parallel_cross_entropy: target {} of row {} lies in {} vocabulary blocks "
                "of group '{}' (this rank holds [{}, {}))",
                chunk_targets[r], begin + r, cs.owners[r], tp.name(), vocab_first,
                vocab_first + vl);
      result.loss_sum += cs.max[r] + std::log(cs.sum[r]) - cs.target[r];
      result.count += 1;
    }
    if (!grad) continue;
    chunk_softmax_grad(logits, rows, vl, vocab_first, chunk_targets, precise, g, cs);
    const Bf16SharedOperand shared(logits_v);
    gemm(ex, Trans::kNo, Trans::kNo, 1.0, logits_v, w_block, 0.0, dh.rows(begin, end));
    if (!dw.empty()) gemm(ex, Trans::kYes, Trans::kNo, 1.0, logits_v, h_chunk, 1.0, dw);
  }
  return result;
}

}  // namespace

CrossEntropyResult vocab_parallel_cross_entropy(const Exec& ex, Comm& tp, ConstView h,
                                                ConstView w_block, int64_t vocab_first,
                                                std::span<const int32_t> targets, double grad_scale,
                                                View scratch, View dh, View dw, Status& status) {
  SYM_CHECK(h.ndim() == 2 && w_block.ndim() == 2 && h.dim(1) == w_block.dim(1),
            "vocab_parallel_cross_entropy: h (N, D) and w_block (Vl, D) must share D");
  SYM_CHECK(h.dtype() == w_block.dtype() && (h.dtype() == DType::kF32 || h.dtype() == DType::kF64),
            "vocab_parallel_cross_entropy: h and w_block must both be f32 or both f64");
  const int64_t n = h.dim(0), vl = w_block.dim(0);
  SYM_CHECK(vl >= 1, "vocab_parallel_cross_entropy: empty vocabulary block");
  SYM_CHECK(vocab_first >= 0, "vocab_parallel_cross_entropy: vocab_first {} < 0", vocab_first);
  SYM_CHECK(int64_t(targets.size()) == n, "vocab_parallel_cross_entropy: {} targets for {} rows",
            targets.size(), n);
  // Gradients are produced only together with dh; a dw without dh would silently stay unchanged.
  SYM_CHECK(!(dh.empty() && !dw.empty()), "vocab_parallel_cross_entropy: dw given without dh");
  if (!dh.empty())
    SYM_CHECK(same_shape(dh, h) && dh.dtype() == h.dtype(),
              "vocab_parallel_cross_entropy: dh must match h");
  if (!dw.empty())
    SYM_CHECK(same_shape(dw, w_block) && dw.dtype() == w_block.dtype(),
              "vocab_parallel_cross_entropy: dw must match w_block");
  SYM_CHECK(scratch.ndim() == 2 && scratch.dim(0) >= 1 && scratch.dim(1) == vl &&
                scratch.dtype() == h.dtype(),
            "vocab_parallel_cross_entropy: scratch must be (chunk >= 1, Vl = {}) of h's dtype", vl);
  if (h.dtype() == DType::kF64)
    return run<double>(ex, tp, h, w_block, vocab_first, targets, grad_scale, scratch, dh, dw,
                       status);
  return run<float>(ex, tp, h, w_block, vocab_first, targets, grad_scale, scratch, dh, dw, status);
}

}  // namespace symphony
