#include "parallel/pipeline_stages.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"

namespace symphony {

int64_t PipelineStages::remote_head_rows(int64_t n) const {
  if (!split_head() || n < 1) return 0;
  return std::clamp(int64_t(std::llround(head_share * double(n))), int64_t(1),
                    std::max<int64_t>(n - 1, 1));
}

LayerPart layer_part(LayerRange sublayers, int64_t layer) {
  const bool attention = sublayers.contains(2 * layer);
  const bool feed_forward = sublayers.contains(2 * layer + 1);
  SYM_CHECK(attention || feed_forward, "layer {} is not in sub-layers [{}, {})", layer,
            sublayers.begin, sublayers.end);
  if (attention && feed_forward) return LayerPart::kWhole;
  return attention ? LayerPart::kAttention : LayerPart::kFeedForward;
}

LayerRange PipelineStages::chunk_sublayers(int chunk, int64_t num_layers) const {
  if (sublayers.empty()) return {0, 2 * num_layers};
  const int vs = virtual_stage(chunk);
  SYM_CHECK(int(sublayers.size()) == num_virtual() && vs < num_virtual(),
            "pipeline split of {} virtual stages for {} x {}", sublayers.size(), stages,
            virtual_stages);
  int64_t begin = 0;
  for (int i = 0; i < vs; ++i) begin += sublayers[size_t(i)];
  return {begin, begin + sublayers[size_t(vs)]};
}

LayerRange PipelineStages::chunk_layers(int chunk, int64_t num_layers) const {
  const LayerRange s = chunk_sublayers(chunk, num_layers);
  if (s.size() == 0) return {s.begin / 2, s.begin / 2};
  return {s.begin / 2, (s.end + 1) / 2};
}

std::vector<int64_t> balance_pipeline_layers(std::span<const double> layer_cost, int count,
                                             double first_cost, double last_cost) {
  const int64_t n = int64_t(layer_cost.size());
  SYM_CHECK(count >= 1 && count <= n, "{} virtual stages for {} layers", count, n);
  // best[k][i]: the least possible maximum over the first k stages holding layers [0, i);
  // a classic linear-partition dynamic programme, O(count * n^2), n is at most a few hundred.
  std::vector<double> prefix(size_t(n + 1), 0.0);
  for (int64_t i = 0; i < n; ++i) prefix[size_t(i + 1)] = prefix[size_t(i)] + layer_cost[size_t(i)];
  constexpr double kInf = std::numeric_limits<double>::infinity();
  auto cost = [&](int k, int64_t a, int64_t b) {  // stage k (0-based) holding [a, b)
    double c = prefix[size_t(b)] - prefix[size_t(a)];
    if (k == 0) c += first_cost;
    if (k == count - 1) c += last_cost;
    return c;
  };
  std::vector<std::vector<double>> best(size_t(count + 1), std::vector<double>(size_t(n + 1), kInf));
  std::vector<std::vector<int64_t>> cut(size_t(count + 1), std::vector<int64_t>(size_t(n + 1), 0));
  best[0][0] = 0;
  for (int k = 1; k <= count; ++k)
    for (int64_t i = k; i <= n - (count - k); ++i)
      for (int64_t j = i - 1; j >= k - 1; --j) {  // stage k-1 holds [j, i); later j first wins
        const double v = std::max(best[size_t(k - 1)][size_t(j)], cost(k - 1, j, i));
        if (v < best[size_t(k)][size_t(i)] - 1e-12 * std::abs(v)) {
          best[size_t(k)][size_t(i)] = v;
          cut[size_t(k)][size_t(i)] = j;
        }
      }
  std::vector<int64_t> layers(static_cast<size_t>(count), 0);
  int64_t end = n;
  for (int k = count; k >= 1; --k) {
    const int64_t begin = cut[size_t(k)][size_t(end)];
    layers[size_t(k - 1)] = end - begin;
    end = begin;
  }
  return layers;
}

Status check_pipeline_layers(std::span<const double> layers, int count, int64_t num_layers) {
  if (int64_t(layers.size()) != count)
    return Error::invalid("parallel.pp_layers = [{}] has {} entries; it needs one per virtual "
                          "stage, parallel.pp * parallel.vpp = {}",
                          fmt::join(layers, ", "), layers.size(), count);
  for (double n : layers)
    if (!(n >= 0))
      return Error::invalid("parallel.pp_layers = [{}]: layer counts must not be negative",
                            fmt::join(layers, ", "));
  int64_t halves = 0;
  for (double n : layers) {
    if (n > double(num_layers) || 2 * n != std::floor(2 * n))
      return Error::invalid("parallel.pp_layers = [{}]: {} is not a whole or half number of "
                            "the model's {} layers (a half splits a layer between its "
                            "attention and its feed-forward)",
                            fmt::join(layers, ", "), n, num_layers);
    halves += int64_t(2 * n);
  }
  if (halves != 2 * num_layers)
    return Error::invalid("parallel.pp_layers = [{}] sums to {} layers, but "
                          "model.num_hidden_layers = {}",
                          fmt::join(layers, ", "), double(halves) / 2, num_layers);
  return Status::ok();
}

std::vector<int64_t> sublayer_counts(std::span<const double> layers) {
  std::vector<int64_t> counts;
  for (double n : layers) counts.push_back(int64_t(std::llround(2 * n)));
  return counts;
}

}  // namespace symphony
