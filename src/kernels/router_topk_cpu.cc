#include <cmath>
#include <cstdint>

#include "core/simd.h"
#include "kernels/router_topk.h"

namespace symphony::cpu {
namespace {

// Softmax of one row into `probs`, then the top k of probs + bias by insertion into a sorted list
// of k (E is small). `weights` holds the selection scores while selecting. An equal score never
// moves ahead of an earlier expert, so ties go to the lower index.
SYM_VECTORIZED void forward_row(const float* logits, const float* bias, int64_t n_experts,
                                int64_t k, bool normalize, float* probs, int32_t* idx,
                                float* weights) {
  float top = logits[0];
#pragma omp simd reduction(max : top)
  for (int64_t e = 0; e < n_experts; ++e) top = logits[e] > top ? logits[e] : top;
  float sum = 0.f;
  for (int64_t e = 0; e < n_experts; ++e) {
    probs[e] = std::exp(logits[e] - top);
    sum += probs[e];
  }
  const float inv = 1.f / sum;
#pragma omp simd
  for (int64_t e = 0; e < n_experts; ++e) probs[e] *= inv;

  int64_t count = 0;
  for (int64_t e = 0; e < n_experts; ++e) {
    const float s = probs[e] + (bias ? bias[e] : 0.f);
    int64_t pos;
    if (count < k)
      pos = count++;
    else if (s > weights[k - 1])
      pos = k - 1;
    else
      continue;
    for (; pos > 0 && s > weights[pos - 1]; --pos) {
      weights[pos] = weights[pos - 1];
      idx[pos] = idx[pos - 1];
    }
    weights[pos] = s;
    idx[pos] = int32_t(e);
  }
  float selected_sum = 0.f;
  for (int64_t j = 0; j < k; ++j) selected_sum += probs[idx[j]];
  const float denom = normalize ? selected_sum : 1.f;
  for (int64_t j = 0; j < k; ++j) weights[j] = probs[idx[j]] / denom;
}

// dp = extra (or 0) plus dweights through w_j = p_{idx_j} / S, then dlogits = p * (dp - <p, dp>).
// dp is built in `dlogits` itself, so dlogits may alias extra.
SYM_VECTORIZED void backward_row(const float* p, const int32_t* idx, int64_t n_experts, int64_t k,
                                 bool normalize, const float* dw, const float* extra,
                                 float* dlogits) {
  if (extra) {
#pragma omp simd
    for (int64_t e = 0; e < n_experts; ++e) dlogits[e] = extra[e];
  } else {
#pragma omp simd
    for (int64_t e = 0; e < n_experts; ++e) dlogits[e] = 0.f;
  }
  if (normalize) {
    float s = 0.f, dot = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      s += p[idx[j]];
      dot += dw[j] * p[idx[j]];
    }
    dot /= s;
    const float inv = 1.f / s;
    for (int64_t j = 0; j < k; ++j) dlogits[idx[j]] += (dw[j] - dot) * inv;
  } else {
    for (int64_t j = 0; j < k; ++j) dlogits[idx[j]] += dw[j];
  }
  float dot = 0.f;
#pragma omp simd reduction(+ : dot)
  for (int64_t e = 0; e < n_experts; ++e) dot += p[e] * dlogits[e];
#pragma omp simd
  for (int64_t e = 0; e < n_experts; ++e) dlogits[e] = p[e] * (dlogits[e] - dot);
}

}  // namespace

void router_topk_forward(ConstView logits_v, ConstView bias_v, TopkNorm norm, View probs_v,
                         std::span<int32_t> idx, View weights_v) {
  const int64_t n_rows = logits_v.dim(0), n_experts = logits_v.dim(1), k = weights_v.dim(1);
  const float* logits = logits_v.f32();
  const float* bias = bias_v.empty() ? nullptr : bias_v.f32();
  float* probs = probs_v.f32();
  int32_t* ids = idx.data();
  float* weights = weights_v.f32();
  const bool normalize = norm == TopkNorm::kNormalize;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < n_rows; ++n)
    forward_row(logits + n * n_experts, bias, n_experts, k, normalize, probs + n * n_experts,
                ids + n * k, weights + n * k);
}

void router_topk_backward(ConstView probs_v, std::span<const int32_t> idx, TopkNorm norm,
                          ConstView dweights_v, ConstView dprobs_extra_v, View dlogits_v) {
  const int64_t n_rows = probs_v.dim(0), n_experts = probs_v.dim(1), k = dweights_v.dim(1);
  const float* probs = probs_v.f32();
  const int32_t* ids = idx.data();
  const float* dweights = dweights_v.f32();
  const float* extra = dprobs_extra_v.empty() ? nullptr : dprobs_extra_v.f32();
  float* dlogits = dlogits_v.f32();
  const bool normalize = norm == TopkNorm::kNormalize;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < n_rows; ++n)
    backward_row(probs + n * n_experts, ids + n * k, n_experts, k, normalize, dweights + n * k,
                 extra ? extra + n * n_experts : nullptr, dlogits + n * n_experts);
}

}  // namespace symphony::cpu
