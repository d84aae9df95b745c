#include "infer/sampling.h"

#include <algorithm>
#include <cmath>

namespace symphony {

int32_t sample_token(std::span<const float> logits, const SamplingOptions& options, Rng& rng,
                     SamplingScratch& scratch) {
  const int64_t v = int64_t(logits.size());
  if (options.temperature <= 0) {
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  auto& ranked = scratch.ranked;
  ranked.resize(size_t(v));
  for (int64_t i = 0; i < v; ++i) ranked[size_t(i)] = {logits[size_t(i)], int32_t(i)};
  // Descending by logit, ties by lower id, so truncation is deterministic.
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  int64_t keep = options.top_k > 0 ? std::min(options.top_k, v) : v;
  std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(), by_logit);
  const double max_logit = ranked[0].first;
  std::vector<double>& probs = scratch.probs;
  probs.resize(size_t(keep));
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) {
    probs[size_t(i)] = std::exp((double(ranked[size_t(i)].first) - max_logit) / options.temperature);
    total += probs[size_t(i)];
  }
  if (options.top_p < 1.0) {
    double cumulative = 0;
    int64_t cut = keep;
    for (int64_t i = 0; i < keep; ++i) {
      cumulative += probs[size_t(i)] / total;
      if (cumulative >= options.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = 0;
    for (int64_t i = 0; i < keep; ++i) total += probs[size_t(i)];
  }
  double r = rng.next_uniform() * total;
  for (int64_t i = 0; i < keep; ++i) {
    r -= probs[size_t(i)];
    if (r < 0) return ranked[size_t(i)].second;
  }
  return ranked[size_t(keep - 1)].second;
}

}  // namespace symphony
