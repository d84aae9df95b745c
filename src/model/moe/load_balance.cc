#include "model/moe/load_balance.h"

#include <algorithm>
#include <cmath>
#include "core/check.h"

namespace symphony {
namespace {

// The divisor of row `scores` (E entries) that gives its balance probabilities p = s / divisor.
template <typename T>
double balance_divisor(const T* scores, int64_t e_count, RouterScoring scoring) {
  if (scoring == RouterScoring::kSoftmax) return 1.0;
  double sum = 0;
  for (int64_t e = 0; e < e_count; ++e) sum += double(scores[e]);
  return sum;
}

template <typename T>
void prob_sums_typed(ConstView sv, RouterScoring scoring, std::span<double> sums) {
  const int64_t n = sv.dim(0), e_count = sv.dim(1);
  const T* s = sv.data<T>();
  std::fill(sums.begin(), sums.begin() + e_count, 0.0);
  for (int64_t t = 0; t < n; ++t) {
    const T* row = s + t * e_count;
    const double divisor = balance_divisor(row, e_count, scoring);
    for (int64_t e = 0; e < e_count; ++e) sums[size_t(e)] += double(row[e]) / divisor;
  }
}

template <typename T>
void seq_sums_typed(ConstView sv, RouterScoring scoring, std::span<const int32_t> idx,
                    int64_t top_k, int64_t seq_len, int64_t row_offset, std::span<double> sums) {
  const int64_t n = sv.dim(0), e_count = sv.dim(1);
  const T* s = sv.data<T>();
  std::fill(sums.begin(), sums.end(), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    double* seq = sums.data() + (row_offset + t) / seq_len * 2 * e_count;
    const T* row = s + t * e_count;
    const double divisor = balance_divisor(row, e_count, scoring);
    for (int64_t e = 0; e < e_count; ++e) seq[e] += double(row[e]) / divisor;
    for (int64_t j = 0; j < top_k; ++j) seq[e_count + idx[size_t(t * top_k + j)]] += 1.0;
  }
}

template <typename T>
double seq_aux_typed(std::span<const double> sums, int64_t seq_len, int64_t top_k,
                     int64_t row_offset, double coef, double scale, View dpv) {
  const int64_t rows = dpv.dim(0), e_count = dpv.dim(1);
  const int64_t sequences = int64_t(sums.size()) / (2 * e_count);
  const double t = double(seq_len), f_per_count = double(e_count) / (double(top_k) * t);
  double loss = 0;
  for (int64_t b = 0; b < sequences; ++b) {
    const double* seq = sums.data() + b * 2 * e_count;
    for (int64_t e = 0; e < e_count; ++e) loss += f_per_count * seq[e_count + e] * (seq[e] / t);
  }
  T* dp = dpv.data<T>();
  const double g = scale * coef / (double(sequences) * t);
  for (int64_t r = 0; r < rows; ++r) {
    const double* seq = sums.data() + (row_offset + r) / seq_len * 2 * e_count;
    for (int64_t e = 0; e < e_count; ++e)
      dp[r * e_count + e] = T(double(dp[r * e_count + e]) + g * f_per_count * seq[e_count + e]);
  }
  return coef * loss / double(sequences);
}

// dL/ds_j = (g_j - sum_i g_i p_i) / S for p = s / S.
template <typename T>
void balance_backward_typed(ConstView sv, View dpv) {
  const int64_t rows = sv.dim(0), e_count = sv.dim(1);
  const T* s = sv.data<T>();
  T* g = dpv.data<T>();
  for (int64_t r = 0; r < rows; ++r) {
    const T* sr = s + r * e_count;
    T* gr = g + r * e_count;
    double sum = 0, dot = 0;
    for (int64_t e = 0; e < e_count; ++e) sum += double(sr[e]);
    for (int64_t e = 0; e < e_count; ++e) dot += double(gr[e]) * double(sr[e]) / sum;
    for (int64_t e = 0; e < e_count; ++e) gr[e] = T((double(gr[e]) - dot) / sum);
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

void router_prob_sums(ConstView scores, RouterScoring scoring, std::span<double> sums) {
  if (scores.dtype() == DType::kF64)
    prob_sums_typed<double>(scores, scoring, sums);
  else
    prob_sums_typed<float>(scores, scoring, sums);
}

void seq_balance_sums(ConstView scores, RouterScoring scoring, std::span<const int32_t> idx,
                      int64_t top_k, int64_t seq_len, int64_t row_offset, std::span<double> sums) {
  const int64_t e_count = scores.dim(1);
  SYM_CHECK(seq_len > 0 && int64_t(sums.size()) % (2 * e_count) == 0 &&
                (row_offset + scores.dim(0)) <= int64_t(sums.size()) / (2 * e_count) * seq_len &&
                int64_t(idx.size()) == scores.dim(0) * top_k,
            "seq_balance_sums: rows [{}, {}) of sequences of {} outside {} sums of E = {}",
            row_offset, row_offset + scores.dim(0), seq_len, sums.size(), e_count);
  if (scores.dtype() == DType::kF64)
    seq_sums_typed<double>(scores, scoring, idx, top_k, seq_len, row_offset, sums);
  else
    seq_sums_typed<float>(scores, scoring, idx, top_k, seq_len, row_offset, sums);
}

double seq_aux_loss_from_sums(std::span<const double> sums, int64_t seq_len, int64_t top_k,
                              int64_t row_offset, double coef, double scale, View dprobs) {
  if (dprobs.dtype() == DType::kF64)
    return seq_aux_typed<double>(sums, seq_len, top_k, row_offset, coef, scale, dprobs);
  return seq_aux_typed<float>(sums, seq_len, top_k, row_offset, coef, scale, dprobs);
}

void balance_probs_backward(ConstView scores, RouterScoring scoring, View dprobs) {
  if (scoring == RouterScoring::kSoftmax) return;
  if (scores.dtype() == DType::kF64)
    balance_backward_typed<double>(scores, dprobs);
  else
    balance_backward_typed<float>(scores, dprobs);
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
