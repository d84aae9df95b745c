#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/bf16_convert.h"
#include "kernels/cross_entropy.h"

namespace symphony::ref {
namespace {

float round_to_bf16(float x) {
  float y = 0;
  bf16_round_f32({&x, 1}, {&y, 1});
  return y;
}

// With bf16 GEMMs (fp32 views only) the GEMM inputs are rounded to bf16 as the fast kernel's
// GEMMs round them: h and W for the logits, and the fp32 logit gradients with W and h for dh and
// dW. Sums stay in double.
template <typename T>
CrossEntropyResult run(Precision matmul, ConstView hv, ConstView wv,
                       std::span<const int32_t> targets, double grad_scale, View dhv, View dwv) {
  const int64_t n_rows = hv.dim(0), d_model = hv.dim(1), vocab = wv.dim(0);
  const bool bf16 = matmul == Precision::kBf16 && std::is_same_v<T, float>;
  std::vector<T> h_bf16, w_bf16;
  if (bf16) {
    h_bf16.resize(size_t(hv.numel()));
    w_bf16.resize(size_t(wv.numel()));
    for (size_t i = 0; i < h_bf16.size(); ++i) h_bf16[i] = T(round_to_bf16(float(hv.data<T>()[i])));
    for (size_t i = 0; i < w_bf16.size(); ++i) w_bf16[i] = T(round_to_bf16(float(wv.data<T>()[i])));
  }
  const T* h = bf16 ? h_bf16.data() : hv.data<T>();
  const T* w = bf16 ? w_bf16.data() : wv.data<T>();
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
      if (bf16) dl = round_to_bf16(float(dl));
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

CrossEntropyResult lm_head_cross_entropy(Precision matmul, ConstView h, ConstView w,
                                         std::span<const int32_t> targets, double grad_scale,
                                         View dh, View dw) {
  SYM_CHECK(matmul != Precision::kFp8, "cross_entropy: fp8 GEMMs are not available");
  if (h.dtype() == DType::kF64) return run<double>(matmul, h, w, targets, grad_scale, dh, dw);
  return run<float>(matmul, h, w, targets, grad_scale, dh, dw);
}

}  // namespace symphony::ref
