#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/router_topk.h"

namespace symphony::ref {
namespace {

template <typename T>
void forward(ConstView logits_v, ConstView bias_v, TopkNorm norm, View probs_v,
             std::span<int32_t> idx, View weights_v) {
  const int64_t n_rows = logits_v.dim(0), n_experts = logits_v.dim(1), k = weights_v.dim(1);
  const T* logits = logits_v.data<T>();
  const T* bias = bias_v.empty() ? nullptr : bias_v.data<T>();
  T* probs = probs_v.data<T>();
  T* weights = weights_v.data<T>();
  std::vector<double> p(n_experts), score(n_experts);
  std::vector<bool> taken(n_experts);
  for (int64_t n = 0; n < n_rows; ++n) {
    const T* l = logits + n * n_experts;
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t e = 0; e < n_experts; ++e) max = std::max(max, double(l[e]));
    double sum = 0;
    for (int64_t e = 0; e < n_experts; ++e) sum += p[e] = std::exp(double(l[e]) - max);
    for (int64_t e = 0; e < n_experts; ++e) {
      p[e] /= sum;
      probs[n * n_experts + e] = T(p[e]);
      score[e] = p[e] + (bias ? double(bias[e]) : 0.0);
      taken[e] = false;
    }
    // K passes of a strict-greater scan in index order: ties go to the lower index.
    int32_t* row_idx = idx.data() + n * k;
    double selected_sum = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t best = -1;
      for (int64_t e = 0; e < n_experts; ++e)
        if (!taken[e] && (best < 0 || score[e] > score[best])) best = e;
      taken[best] = true;
      row_idx[j] = int32_t(best);
      selected_sum += p[best];
    }
    const double denom = norm == TopkNorm::kNormalize ? selected_sum : 1.0;
    for (int64_t j = 0; j < k; ++j) weights[n * k + j] = T(p[row_idx[j]] / denom);
  }
}

// dp = dprobs_extra + scatter of dweights through w_j = p_{idx_j} / S (S = 1 without
// normalisation): dp_{idx_j} += (dw_j - sum_i dw_i w_i) / S. Then dlogits = p * (dp - <p, dp>).
template <typename T>
void backward(ConstView probs_v, std::span<const int32_t> idx, TopkNorm norm, ConstView dweights_v,
              ConstView dprobs_extra_v, View dlogits_v) {
  const int64_t n_rows = probs_v.dim(0), n_experts = probs_v.dim(1), k = dweights_v.dim(1);
  const T* probs = probs_v.data<T>();
  const T* dweights = dweights_v.data<T>();
  const T* extra = dprobs_extra_v.empty() ? nullptr : dprobs_extra_v.data<T>();
  T* dlogits = dlogits_v.data<T>();
  std::vector<double> dp(n_experts);
  for (int64_t n = 0; n < n_rows; ++n) {
    const T* p = probs + n * n_experts;
    const T* dw = dweights + n * k;
    const int32_t* row_idx = idx.data() + n * k;
    for (int64_t e = 0; e < n_experts; ++e) dp[e] = extra ? double(extra[n * n_experts + e]) : 0.0;
    if (norm == TopkNorm::kNormalize) {
      double s = 0, dot = 0;
      for (int64_t j = 0; j < k; ++j) s += double(p[row_idx[j]]);
      for (int64_t j = 0; j < k; ++j) dot += double(dw[j]) * double(p[row_idx[j]]) / s;
      for (int64_t j = 0; j < k; ++j) dp[row_idx[j]] += (double(dw[j]) - dot) / s;
    } else {
      for (int64_t j = 0; j < k; ++j) dp[row_idx[j]] += double(dw[j]);
    }
    double dot = 0;
    for (int64_t e = 0; e < n_experts; ++e) dot += double(p[e]) * dp[e];
    for (int64_t e = 0; e < n_experts; ++e)
      dlogits[n * n_experts + e] = T(double(p[e]) * (dp[e] - dot));
  }
}

}  // namespace

void router_topk_forward(ConstView logits, ConstView bias, TopkNorm norm, View probs,
                         std::span<int32_t> idx, View weights) {
  if (logits.dtype() == DType::kF64)
    return forward<double>(logits, bias, norm, probs, idx, weights);
  forward<float>(logits, bias, norm, probs, idx, weights);
}

void router_topk_backward(ConstView probs, std::span<const int32_t> idx, TopkNorm norm,
                          ConstView dweights, ConstView dprobs_extra, View dlogits) {
  if (probs.dtype() == DType::kF64)
    return backward<double>(probs, idx, norm, dweights, dprobs_extra, dlogits);
  backward<float>(probs, idx, norm, dweights, dprobs_extra, dlogits);
}

}  // namespace symphony::ref
