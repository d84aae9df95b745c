#include "model/moe/load_balance.h"

#include <algorithm>
#include <cmath>

namespace symphony {
namespace {

template <typename T>
void prob_sums_typed(ConstView pv, std::span<double> sums) {
  const int64_t n = pv.dim(0), e_count = pv.dim(1);
  const T* p = pv.data<T>();
  for (int64_t e = 0; e < e_count; ++e) {
    double sum = 0;
    for (int64_t t = 0; t < n; ++t) sum += double(p[t * e_count + e]);
    sums[size_t(e)] = sum;
  }
}

template <typename T>
double aux_typed(std::span<const double> prob_sums, std::span<const int64_t> routed, int64_t n,
                 int64_t top_k, double coef, double scale, View dpv) {
  const int64_t rows = dpv.dim(0), e_count = dpv.dim(1);
  T* dp = dpv.data<T>();
  double loss = 0;
  for (int64_t e = 0; e < e_count; ++e) {
    double f = double(routed[size_t(e)]) / double(n * top_k);
    loss += f * (prob_sums[size_t(e)] / double(n));
    T g = T(scale * coef * double(e_count) * f / double(n));
    for (int64_t t = 0; t < rows; ++t) dp[t * e_count + e] = coef == 0 ? T(0) : g;
  }
  return coef * double(e_count) * loss;
}

template <typename T>
double z_typed(ConstView lv, double coef, double scale, View dlv, int64_t total_rows) {
  const int64_t rows = lv.dim(0), e_count = lv.dim(1), n = total_rows > 0 ? total_rows : rows;
  const T* l = lv.data<T>();
  double total = 0;
  for (int64_t t = 0; t < rows; ++t) {
    const T* row = l + t * e_count;
    double mx = double(*std::max_element(row, row + e_count));
    double sum = 0;
    for (int64_t e = 0; e < e_count; ++e) sum += std::exp(double(row[e]) - mx);
    double lse = mx + std::log(sum);
    total += lse * lse;
    if (!dlv.empty()) {
      T* d = dlv.data<T>() + t * e_count;
      for (int64_t e = 0; e < e_count; ++e) {
        double softmax = std::exp(double(row[e]) - lse);
        d[e] = T(double(d[e]) + scale * coef * 2.0 * lse * softmax / double(n));
      }
    }
  }
  return coef * total / double(n);
}

}  // namespace

void router_prob_sums(ConstView probs, std::span<double> sums) {
  if (probs.dtype() == DType::kF64)
    prob_sums_typed<double>(probs, sums);
  else
    prob_sums_typed<float>(probs, sums);
}

double aux_loss_from_sums(std::span<const double> prob_sums, std::span<const int64_t> routed,
                          int64_t total_rows, int64_t top_k, double coef, double scale,
                          View dprobs) {
  if (dprobs.dtype() == DType::kF64)
    return aux_typed<double>(prob_sums, routed, total_rows, top_k, coef, scale, dprobs);
  return aux_typed<float>(prob_sums, routed, total_rows, top_k, coef, scale, dprobs);
}

double z_loss_forward_backward(ConstView logits, double coef, double scale, View dlogits,
                               int64_t total_rows) {
  if (coef == 0) return 0;
  if (logits.dtype() == DType::kF64)
    return z_typed<double>(logits, coef, scale, dlogits, total_rows);
  return z_typed<float>(logits, coef, scale, dlogits, total_rows);
}

void update_balance_bias(std::span<const int64_t> load, double rate, View bias) {
  double mean = 0;
  for (int64_t l : load) mean += double(l);
  mean /= double(load.size());
  for (size_t e = 0; e < load.size(); ++e) {
    double err = mean - double(load[e]);
    double step = err > 0 ? rate : (err < 0 ? -rate : 0.0);
    if (bias.dtype() == DType::kF64)
      bias.data<double>()[e] += step;
    else
      bias.data<float>()[e] += float(step);
  }
}

}  // namespace symphony
