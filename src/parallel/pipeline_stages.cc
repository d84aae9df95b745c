#include "parallel/pipeline_stages.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <limits>

#include "core/check.h"

namespace symphony {

LayerRange PipelineStages::chunk_layers(int chunk, int64_t num_layers) const {
  if (layers.empty()) return {0, num_layers};
  const int vs = virtual_stage(chunk);
  SYM_CHECK(int(layers.size()) == num_virtual() && vs < num_virtual(),
            "pipeline split of {} virtual stages for {} x {}", layers.size(), stages,
            virtual_stages);
  int64_t begin = 0;
  for (int i = 0; i < vs; ++i) begin += layers[size_t(i)];
  return {begin, begin + layers[size_t(vs)]};
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

Status check_pipeline_layers(std::span<const int64_t> layers, int count, int64_t num_layers) {
  if (int64_t(layers.size()) != count)
    return Error::invalid("parallel.pp_layers = [{}] has {} entries; it needs one per virtual "
                          "stage, parallel.pp * parallel.vpp = {}",
                          fmt::join(layers, ", "), layers.size(), count);
  int64_t sum = 0;
  for (int64_t n : layers) {
    if (n < 0)
      return Error::invalid("parallel.pp_layers = [{}]: layer counts must not be negative",
                            fmt::join(layers, ", "));
    sum += n;
  }
  if (sum != num_layers)
    return Error::invalid("parallel.pp_layers = [{}] sums to {} layers, but "
                          "model.num_hidden_layers = {}",
                          fmt::join(layers, ", "), sum, num_layers);
  return Status::ok();
}

}  // namespace symphony
