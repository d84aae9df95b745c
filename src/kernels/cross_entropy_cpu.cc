#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cross_entropy.h"
#include "kernels/cross_entropy_rows.h"
#include "kernels/gemm.h"

namespace symphony::cpu {
namespace {

// One row of logits: returns logsumexp(row) - row[t] and, when `grad`, overwrites the row with
// g * (softmax(row) - onehot(t)). Ignored rows (t < 0) return 0 and become zeros under `grad`.
double row_loss(float* row, int64_t vocab, int32_t t, float g, bool grad) {
  if (t < 0) {
    if (grad) std::fill(row, row + vocab, 0.f);
    return 0.0;
  }
  const float top = ce_row_max(row, vocab);
  const double target_logit = row[t];
  const double sum = ce_row_exp_sum(row, vocab, top, grad);
  if (grad) {
    ce_row_scale(row, vocab, float(double(g) / sum));
    row[t] -= g;
  }
  return double(top) + std::log(sum) - target_logit;
}

// The per-row pass over one chunk of logits, in parallel; row losses land in `losses`.
void chunk_rows(float* logits, int64_t rows, int64_t vocab, const int32_t* targets, float g,
                bool grad, double* losses) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    losses[r] = row_loss(logits + r * vocab, vocab, targets[r], g, grad);
}

// The loss of rows [begin, end): their logits into `logits` ((end - begin, V)), turned into their
// gradients under `grad`; the counted rows' losses are added to `result` in row order (the loss
// does not depend on the thread count).
void chunk_loss(Precision matmul, ConstView h, ConstView w, std::span<const int32_t> targets,
                double grad_scale, int64_t begin, int64_t end, bool grad, View logits,
                std::vector<double>& losses, CrossEntropyResult& result) {
  const int64_t rows = end - begin, vocab = w.dim(0);
  // The BLAS is multithreaded itself, so the GEMMs run between the parallel regions.
  gemm(matmul, Trans::kNo, Trans::kYes, 1.0, h.rows(begin, end), w, 0.0, logits);
  losses.resize(size_t(rows));
  chunk_rows(logits.f32(), rows, vocab, targets.data() + begin, float(grad_scale), grad,
             losses.data());
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[size_t(begin + r)] < 0) continue;
    result.loss_sum += losses[size_t(r)];
    result.count += 1;
  }
}

// The gradients of rows [begin, end) from their logit gradients `dlogits`.
void chunk_grads(Precision matmul, ConstView h, ConstView w, ConstView dlogits, int64_t begin,
                 int64_t end, View dh, View dw, HeadGradSink* sink) {
  const Bf16SharedOperand shared(dlogits);
  gemm(matmul, Trans::kNo, Trans::kNo, 1.0, dlogits, w, 0.0, dh.rows(begin, end));
  if (sink) sink->add(h.rows(begin, end), dlogits);
  if (!dw.empty()) gemm(matmul, Trans::kYes, Trans::kNo, 1.0, dlogits, h.rows(begin, end), 1.0, dw);
}

}  // namespace

CrossEntropyResult lm_head_cross_entropy(Precision matmul, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View scratch, View dh, View dw, HeadGradSink* sink) {
  const int64_t n_rows = h.dim(0), chunk = scratch.dim(0);
  const bool grad = !dh.empty();
  thread_local std::vector<double> losses;  // the caller's thread_local, shared with the team
  CrossEntropyResult result;
  for (int64_t begin = 0; begin < n_rows; begin += chunk) {
    const int64_t end = std::min(begin + chunk, n_rows);
    View logits = scratch.rows(0, end - begin);
    chunk_loss(matmul, h, w, targets, grad_scale, begin, end, grad, logits, losses, result);
    if (grad) chunk_grads(matmul, h, w, logits, begin, end, dh, dw, sink);
  }
  return result;
}

CrossEntropyResult lm_head_logit_grads(Precision matmul, ConstView h, ConstView w,
                                       std::span<const int32_t> targets, double grad_scale,
                                       int64_t chunk, View dlogits) {
  thread_local std::vector<double> losses;
  CrossEntropyResult result;
  for (int64_t begin = 0; begin < h.dim(0); begin += chunk) {
    const int64_t end = std::min(begin + chunk, h.dim(0));
    chunk_loss(matmul, h, w, targets, grad_scale, begin, end, true, dlogits.rows(begin, end),
               losses, result);
  }
  return result;
}

void lm_head_grads(Precision matmul, ConstView h, ConstView w, ConstView dlogits, int64_t chunk,
                   View dh, View dw) {
  for (int64_t begin = 0; begin < h.dim(0); begin += chunk) {
    const int64_t end = std::min(begin + chunk, h.dim(0));
    chunk_grads(matmul, h, w, dlogits.rows(begin, end), begin, end, dh, dw, nullptr);
  }
}

}  // namespace symphony::cpu
