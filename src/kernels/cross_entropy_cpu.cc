#include <algorithm>
#include <cmath>
#include <cstdint>
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

}  // namespace

CrossEntropyResult lm_head_cross_entropy(Precision matmul, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View scratch, View dh, View dw, HeadGradSink* sink) {
  const int64_t n_rows = h.dim(0), vocab = w.dim(0), chunk = scratch.dim(0);
  const bool grad = !dh.empty();
  thread_local std::vector<double> row_losses;
  row_losses.resize(static_cast<size_t>(std::min(chunk, std::max<int64_t>(n_rows, 1))));
  double* losses = row_losses.data();  // the caller's thread_local, shared with the team
  CrossEntropyResult result;
  for (int64_t begin = 0; begin < n_rows; begin += chunk) {
    const int64_t end = std::min(begin + chunk, n_rows), rows = end - begin;
    ConstView h_chunk = h.rows(begin, end);
    View logits = scratch.rows(0, rows);
    // The BLAS is multithreaded itself, so the GEMMs run between the parallel regions.
    gemm(matmul, Trans::kNo, Trans::kYes, 1.0, h_chunk, w, 0.0, logits);
    chunk_rows(logits.f32(), rows, vocab, targets.data() + begin, float(grad_scale), grad, losses);
    // Summed in row order: the loss does not depend on the thread count.
    for (int64_t r = 0; r < rows; ++r) {
      if (targets[begin + r] < 0) continue;
      result.loss_sum += losses[r];
      result.count += 1;
    }
    if (!grad) continue;
    gemm(matmul, Trans::kNo, Trans::kNo, 1.0, logits, w, 0.0, dh.rows(begin, end));
    if (sink) sink->add(h_chunk, logits);
    if (!dw.empty()) gemm(matmul, Trans::kYes, Trans::kNo, 1.0, logits, h_chunk, 1.0, dw);
  }
  return result;
}

}  // namespace symphony::cpu
