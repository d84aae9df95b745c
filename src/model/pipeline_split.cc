#include "model/pipeline_split.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "parallel/pipeline_stages.h"

namespace symphony {

std::vector<int64_t> pipeline_layer_split(const ModelConfig& model, const ParallelConfig& parallel,
                                          int64_t seq_len, SplitUnit unit) {
  const bool halves = unit == SplitUnit::kSublayer;
  if (!parallel.pp_layers.empty()) {
    if (halves) return sublayer_counts(parallel.pp_layers);
    std::vector<int64_t> layers;
    for (double n : parallel.pp_layers) {
      SYM_CHECK(n == std::floor(n), "a whole-layer split of parallel.pp_layers entry {}", n);
      layers.push_back(int64_t(n));
    }
    return layers;
  }
  const int count = int(parallel.pp * parallel.vpp);
  if (count <= 1) return {};
  std::vector<double> cost;
  const double core = 3.0 * double(model.attention_core_dims()) * double(seq_len + 1);
  const double attention = 6.0 * double(model.attention_matmul_params()) + core;
  for (int64_t l = 0; l < model.num_hidden_layers; ++l) {
    const double whole = 6.0 * double(model.layer_matmul_params(l)) + core;
    if (halves) {
      cost.push_back(attention);
      cost.push_back(whole - attention);
    } else {
      cost.push_back(whole);
    }
  }
  const double vd = double(model.vocab_size) * double(model.hidden_size);
  double head = 6.0 * vd;
  // The MTP modules run on the last stage: each an eh_proj, a layer and the LM head again.
  for (int64_t l = model.num_hidden_layers; l < model.num_layers_with_mtp(); ++l)
    head += 6.0 * (2.0 * double(model.hidden_size) * double(model.hidden_size) +
                   double(model.layer_matmul_params(l)) + vd) +
            core;
  const double embedding = double(model.hidden_size);
  if (parallel.vpp <= 1) return balance_pipeline_layers(cost, count, embedding, head);
  // Interleaved: a rank runs all its chunks for every micro-batch, so its total is what must be
  // balanced. Each rank's count comes from the split over pp stages, then is spread over its
  // chunks, earlier chunks taking the remainder (virtual stage chunk * pp + stage).
  const int p = int(parallel.pp), v = int(parallel.vpp);
  const std::vector<int64_t> per_rank = balance_pipeline_layers(cost, p, embedding, head);
  if (*std::min_element(per_rank.begin(), per_rank.end()) < v)
    return balance_pipeline_layers(cost, count, embedding, head);
  std::vector<int64_t> units(static_cast<size_t>(count), 0);
  for (int r = 0; r < p; ++r)
    for (int c = 0; c < v; ++c)
      units[size_t(c * p + r)] = per_rank[size_t(r)] / v + (c < per_rank[size_t(r)] % v ? 1 : 0);
  return units;
}

}  // namespace symphony
