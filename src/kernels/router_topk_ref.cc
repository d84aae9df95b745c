#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "kernels/router_topk.h"

namespace symphony::ref {
namespace {

// The best `count` entries of `score` among those with allowed[i], by `count` passes of a
// strict-greater scan in index order (ties go to the lower index), into `out` in order.
void pick_best(const std::vector<double>& score, const std::vector<bool>& allowed, int64_t count,
               int32_t* out) {
  std::vector<bool> taken(score.size(), false);
  for (int64_t j = 0; j < count; ++j) {
    int64_t best = -1;
    for (size_t i = 0; i < score.size(); ++i)
      if (allowed[i] && !taken[i] && (best < 0 || score[i] > score[size_t(best)])) best = int64_t(i);
    taken[size_t(best)] = true;
    out[j] = int32_t(best);
  }
}

template <typename T>
void forward(ConstView logits_v, ConstView bias_v, const RouterSpec& spec, View scores_v,
             std::span<int32_t> idx, View weights_v) {
  const int64_t n_rows = logits_v.dim(0), n_experts = logits_v.dim(1), k = weights_v.dim(1);
  const int64_t group_size = n_experts / spec.groups;
  const T* logits = logits_v.data<T>();
  const T* bias = bias_v.empty() ? nullptr : bias_v.data<T>();
  T* scores = scores_v.data<T>();
  T* weights = weights_v.data<T>();
  std::vector<double> s(static_cast<size_t>(n_experts)), choice(s.size());
  std::vector<double> group_score(static_cast<size_t>(spec.groups));
  std::vector<bool> allowed(s.size()), all_groups(group_score.size(), true);
  std::vector<int32_t> best_groups(static_cast<size_t>(spec.topk_groups));
  for (int64_t n = 0; n < n_rows; ++n) {
    const T* l = logits + n * n_experts;
    if (spec.scoring == RouterScoring::kSoftmax) {
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t e = 0; e < n_experts; ++e) max = std::max(max, double(l[e]));
      double sum = 0;
      for (int64_t e = 0; e < n_experts; ++e) sum += s[size_t(e)] = std::exp(double(l[e]) - max);
      for (int64_t e = 0; e < n_experts; ++e) s[size_t(e)] /= sum;
    } else {
      for (int64_t e = 0; e < n_experts; ++e) s[size_t(e)] = 1.0 / (1.0 + std::exp(-double(l[e])));
    }
    for (int64_t e = 0; e < n_experts; ++e) {
      scores[n * n_experts + e] = T(s[size_t(e)]);
      choice[size_t(e)] = s[size_t(e)] + (bias ? double(bias[e]) : 0.0);
      allowed[size_t(e)] = true;
    }
    if (spec.groups > 1) {
      for (int64_t g = 0; g < spec.groups; ++g) {
        std::vector<double> members(choice.begin() + g * group_size,
                                    choice.begin() + (g + 1) * group_size);
        std::sort(members.begin(), members.end(), std::greater<>());
        group_score[size_t(g)] = spec.scoring == RouterScoring::kSoftmax || group_size == 1
                                     ? members[0]
                                     : members[0] + members[1];
      }
      pick_best(group_score, all_groups, spec.topk_groups, best_groups.data());
      for (int64_t e = 0; e < n_experts; ++e)
        allowed[size_t(e)] = std::find(best_groups.begin(), best_groups.end(),
                                       int32_t(e / group_size)) != best_groups.end();
    }
    int32_t* row_idx = idx.data() + n * k;
    pick_best(choice, allowed, k, row_idx);
    double selected_sum = 0;
    for (int64_t j = 0; j < k; ++j) selected_sum += s[size_t(row_idx[j])];
    const double denom = spec.norm == TopkNorm::kNormalize ? selected_sum : 1.0;
    for (int64_t j = 0; j < k; ++j)
      weights[n * k + j] = T(spec.scale * s[size_t(row_idx[j])] / denom);
  }
}

// ds = dscores_extra + the scatter of dweights through w_j = a * s_{idx_j} / S (S = 1 without
// normalisation): ds_{idx_j} += a * (dw_j - sum_i dw_i s_{idx_i} / S) / S. Then through the
// scoring: softmax dlogits = s * (ds - <s, ds>); sigmoid dlogits = ds * s * (1 - s).
template <typename T>
void backward(ConstView scores_v, std::span<const int32_t> idx, const RouterSpec& spec,
              ConstView dweights_v, ConstView dscores_extra_v, View dlogits_v) {
  const int64_t n_rows = scores_v.dim(0), n_experts = scores_v.dim(1), k = dweights_v.dim(1);
  const T* scores = scores_v.data<T>();
  const T* dweights = dweights_v.data<T>();
  const T* extra = dscores_extra_v.empty() ? nullptr : dscores_extra_v.data<T>();
  T* dlogits = dlogits_v.data<T>();
  std::vector<double> ds(static_cast<size_t>(n_experts));
  for (int64_t n = 0; n < n_rows; ++n) {
    const T* s = scores + n * n_experts;
    const T* dw = dweights + n * k;
    const int32_t* row_idx = idx.data() + n * k;
    for (int64_t e = 0; e < n_experts; ++e)
      ds[size_t(e)] = extra ? double(extra[n * n_experts + e]) : 0.0;
    if (spec.norm == TopkNorm::kNormalize) {
      double sum = 0, dot = 0;
      for (int64_t j = 0; j < k; ++j) sum += double(s[row_idx[j]]);
      for (int64_t j = 0; j < k; ++j) dot += double(dw[j]) * double(s[row_idx[j]]) / sum;
      for (int64_t j = 0; j < k; ++j)
        ds[size_t(row_idx[j])] += spec.scale * (double(dw[j]) - dot) / sum;
    } else {
      for (int64_t j = 0; j < k; ++j) ds[size_t(row_idx[j])] += spec.scale * double(dw[j]);
    }
    if (spec.scoring == RouterScoring::kSoftmax) {
      double dot = 0;
      for (int64_t e = 0; e < n_experts; ++e) dot += double(s[e]) * ds[size_t(e)];
      for (int64_t e = 0; e < n_experts; ++e)
        dlogits[n * n_experts + e] = T(double(s[e]) * (ds[size_t(e)] - dot));
    } else {
      for (int64_t e = 0; e < n_experts; ++e)
        dlogits[n * n_experts + e] = T(ds[size_t(e)] * double(s[e]) * (1.0 - double(s[e])));
    }
  }
}

}  // namespace

void router_topk_forward(ConstView logits, ConstView bias, const RouterSpec& spec, View scores,
                         std::span<int32_t> idx, View weights) {
  if (logits.dtype() == DType::kF64)
    return forward<double>(logits, bias, spec, scores, idx, weights);
  forward<float>(logits, bias, spec, scores, idx, weights);
}

void router_topk_backward(ConstView scores, std::span<const int32_t> idx, const RouterSpec& spec,
                          ConstView dweights, ConstView dscores_extra, View dlogits) {
  if (scores.dtype() == DType::kF64)
    return backward<double>(scores, idx, spec, dweights, dscores_extra, dlogits);
  backward<float>(scores, idx, spec, dweights, dscores_extra, dlogits);
}

}  // namespace symphony::ref
