#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cross_entropy.h"

namespace symphony::ref {
namespace {

template <typename T>
CrossEntropyResult run(ConstView hv, ConstView wv, std::span<const int32_t> targets,
                       double grad_scale, View dhv, View dwv) {
  const int64_t n_rows = hv.dim(0), d_model = hv.dim(1), vocab = wv.dim(0);
  const T* h = hv.data<T>();
  const T* w = wv.data<T>();
  const bool grad = !dhv.empty();
  T* dh = grad ? dhv.data<T>() : nullptr;
  T* dw = dwv.empty() ? nullptr : dwv.data<T>();
  std::vector<double> logits(vocab);
  std::vector<double> dh_row(d_model);
  std::vector<double> dw_acc(dw ? vocab * d_model : 0, 0.0);
  CrossEntropyResult result;
  for (int64_t n = 0; n < n_rows; ++n) {
    const T* hn = h + n * d_model;
    const int32_t t = targets[n];
    if (t < 0) {
      if (grad) std::fill(dh + n * d_model, dh + (n + 1) * d_model, T(0));
      continue;
    }
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0; v < vocab; ++v) {
      double acc = 0;
      for (int64_t d = 0; d < d_model; ++d) acc += double(hn[d]) * double(w[v * d_model + d]);
      logits[v] = acc;
      max = std::max(max, acc);
    }
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(logits[v] - max);
    const double lse = max + std::log(sum);
    result.loss_sum += lse - logits[t];
    result.count += 1;
    if (!grad) continue;
    std::fill(dh_row.begin(), dh_row.end(), 0.0);
    for (int64_t v = 0; v < vocab; ++v) {
      double dl = grad_scale * (std::exp(logits[v] - lse) - (v == t ? 1.0 : 0.0));
      for (int64_t d = 0; d < d_model; ++d) {
        dh_row[d] += dl * double(w[v * d_model + d]);
        if (dw) dw_acc[v * d_model + d] += dl * double(hn[d]);
      }
    }
    for (int64_t d = 0; d < d_model; ++d) dh[n * d_model + d] = T(dh_row[d]);
  }
  if (dw)
    for (int64_t i = 0; i < vocab * d_model; ++i) dw[i] = T(double(dw[i]) + dw_acc[i]);
  return result;
}

}  // namespace

CrossEntropyResult lm_head_cross_entropy(ConstView h, ConstView w, std::span<const int32_t> targets,
                                         double grad_scale, View dh, View dw) {
  if (h.dtype() == DType::kF64) return run<double>(h, w, targets, grad_scale, dh, dw);
  return run<float>(h, w, targets, grad_scale, dh, dw);
}

}  // namespace symphony::ref
