#include <cmath>
#include <cstdint>
#include <vector>

#include "core/simd.h"
#include "kernels/router_topk.h"

namespace symphony::cpu {
namespace {

// Scores of one row: softmax over the row, or a sigmoid per expert.
SYM_VECTORIZED void score_row(const float* logits, int64_t n_experts, RouterScoring scoring,
                              float* scores) {
  if (scoring == RouterScoring::kSigmoid) {
    for (int64_t e = 0; e < n_experts; ++e) scores[e] = 1.f / (1.f + std::exp(-logits[e]));
    return;
  }
  float top = logits[0];
#pragma omp simd reduction(max : top)
  for (int64_t e = 0; e < n_experts; ++e) top = logits[e] > top ? logits[e] : top;
  float sum = 0.f;
  for (int64_t e = 0; e < n_experts; ++e) {
    scores[e] = std::exp(logits[e] - top);
    sum += scores[e];
  }
  const float inv = 1.f / sum;
#pragma omp simd
  for (int64_t e = 0; e < n_experts; ++e) scores[e] *= inv;
}

// Inserts (score, id) into the descending list of `count` entries (at most `size`), where an
// equal score never moves ahead of an earlier one, so ties go to the lower id when ids arrive in
// increasing order. Returns the new count.
int64_t insert_sorted(float score, int32_t id, int64_t count, int64_t size, float* list,
                      int32_t* ids) {
  int64_t pos;
  if (count < size)
    pos = count++;
  else if (score > list[size - 1])
    pos = size - 1;
  else
    return count;
  for (; pos > 0 && score > list[pos - 1]; --pos) {
    list[pos] = list[pos - 1];
    ids[pos] = ids[pos - 1];
  }
  list[pos] = score;
  ids[pos] = id;
  return count;
}

// Group-limited routing: marks in `allowed` (groups entries) the topk_groups best groups.
// `group_best` and `group_ids` are scratch of topk_groups entries.
void pick_groups(const float* scores, const float* bias, int64_t n_experts, const RouterSpec& spec,
                 float* group_best, int32_t* group_ids, char* allowed) {
  const int64_t size = n_experts / spec.groups;
  int64_t count = 0;
  for (int64_t g = 0; g < spec.groups; ++g) {
    // The group's two largest choice scores.
    float first = -INFINITY, second = -INFINITY;
    for (int64_t e = g * size; e < (g + 1) * size; ++e) {
      const float c = scores[e] + (bias ? bias[e] : 0.f);
      if (c > first) {
        second = first;
        first = c;
      } else if (c > second) {
        second = c;
      }
    }
    const float score =
        spec.scoring == RouterScoring::kSoftmax || size == 1 ? first : first + second;
    count = insert_sorted(score, int32_t(g), count, spec.topk_groups, group_best, group_ids);
    allowed[g] = 0;
  }
  for (int64_t j = 0; j < spec.topk_groups; ++j) allowed[group_ids[j]] = 1;
}

// The top k allowed experts of scores + bias by insertion into a sorted list of k (E is small),
// kept in `weights` while selecting, then the weights.
void select_row(const float* scores, const float* bias, int64_t n_experts, int64_t k,
                const RouterSpec& spec, const char* allowed, int32_t* idx, float* weights) {
  const int64_t size = n_experts / spec.groups;
  int64_t count = 0;
  for (int64_t g = 0; g < spec.groups; ++g) {
    if (allowed && !allowed[g]) continue;
    for (int64_t e = g * size; e < (g + 1) * size; ++e)
      count = insert_sorted(scores[e] + (bias ? bias[e] : 0.f), int32_t(e), count, k, weights, idx);
  }
  float selected_sum = 0.f;
  for (int64_t j = 0; j < k; ++j) selected_sum += scores[idx[j]];
  const float denom = spec.norm == TopkNorm::kNormalize ? selected_sum : 1.f;
  const float scale = float(spec.scale);
  for (int64_t j = 0; j < k; ++j) weights[j] = scores[idx[j]] / denom * scale;
}

// ds = extra (or 0) plus dweights through w_j = a * s_{idx_j} / S, then through the scoring.
// ds is built in `dlogits` itself, so dlogits may alias extra.
SYM_VECTORIZED void backward_row(const float* s, const int32_t* idx, int64_t n_experts, int64_t k,
                                 const RouterSpec& spec, const float* dw, const float* extra,
                                 float* dlogits) {
  if (extra) {
#pragma omp simd
    for (int64_t e = 0; e < n_experts; ++e) dlogits[e] = extra[e];
  } else {
#pragma omp simd
    for (int64_t e = 0; e < n_experts; ++e) dlogits[e] = 0.f;
  }
  const float scale = float(spec.scale);
  if (spec.norm == TopkNorm::kNormalize) {
    float sum = 0.f, dot = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      sum += s[idx[j]];
      dot += dw[j] * s[idx[j]];
    }
    dot /= sum;
    const float factor = scale / sum;
    for (int64_t j = 0; j < k; ++j) dlogits[idx[j]] += (dw[j] - dot) * factor;
  } else {
    for (int64_t j = 0; j < k; ++j) dlogits[idx[j]] += dw[j] * scale;
  }
  if (spec.scoring == RouterScoring::kSigmoid) {
#pragma omp simd
    for (int64_t e = 0; e < n_experts; ++e) dlogits[e] *= s[e] * (1.f - s[e]);
    return;
  }
  float dot = 0.f;
#pragma omp simd reduction(+ : dot)
  for (int64_t e = 0; e < n_experts; ++e) dot += s[e] * dlogits[e];
#pragma omp simd
  for (int64_t e = 0; e < n_experts; ++e) dlogits[e] = s[e] * (dlogits[e] - dot);
}

}  // namespace

void router_topk_forward(ConstView logits_v, ConstView bias_v, const RouterSpec& spec,
                         View scores_v, std::span<int32_t> idx, View weights_v) {
  const int64_t n_rows = logits_v.dim(0), n_experts = logits_v.dim(1), k = weights_v.dim(1);
  const float* logits = logits_v.f32();
  const float* bias = bias_v.empty() ? nullptr : bias_v.f32();
  float* scores = scores_v.f32();
  int32_t* ids = idx.data();
  float* weights = weights_v.f32();
  const bool grouped = spec.groups > 1;
#pragma omp parallel
  {
    // Group scratch per thread, grown once: the best groups and the allowed flags.
    thread_local std::vector<float> group_best;
    thread_local std::vector<int32_t> group_ids;
    thread_local std::vector<char> allowed;
    if (grouped) {
      group_best.resize(size_t(spec.topk_groups));
      group_ids.resize(size_t(spec.topk_groups));
      allowed.resize(size_t(spec.groups));
    }
#pragma omp for schedule(static)
    for (int64_t n = 0; n < n_rows; ++n) {
      float* s = scores + n * n_experts;
      score_row(logits + n * n_experts, n_experts, spec.scoring, s);
      if (grouped)
        pick_groups(s, bias, n_experts, spec, group_best.data(), group_ids.data(), allowed.data());
      select_row(s, bias, n_experts, k, spec, grouped ? allowed.data() : nullptr, ids + n * k,
                 weights + n * k);
    }
  }
}

void router_topk_backward(ConstView scores_v, std::span<const int32_t> idx, const RouterSpec& spec,
                          ConstView dweights_v, ConstView dscores_extra_v, View dlogits_v) {
  const int64_t n_rows = scores_v.dim(0), n_experts = scores_v.dim(1), k = dweights_v.dim(1);
  const float* scores = scores_v.f32();
  const int32_t* ids = idx.data();
  const float* dweights = dweights_v.f32();
  const float* extra = dscores_extra_v.empty() ? nullptr : dscores_extra_v.f32();
  float* dlogits = dlogits_v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < n_rows; ++n)
    backward_row(scores + n * n_experts, ids + n * k, n_experts, k, spec, dweights + n * k,
                 extra ? extra + n * n_experts : nullptr, dlogits + n * n_experts);
}

}  // namespace symphony::cpu
