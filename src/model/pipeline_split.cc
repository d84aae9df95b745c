#include "model/pipeline_split.h"

#include "parallel/pipeline_stages.h"

namespace symphony {

std::vector<int64_t> pipeline_layer_split(const ModelConfig& model, const ParallelConfig& parallel,
                                          int64_t seq_len) {
  if (!parallel.pp_layers.empty()) return parallel.pp_layers;
  const int count = int(parallel.pp * parallel.vpp);
  if (count <= 1) return {};
  std::vector<double> cost;
  const double attention = 6.0 * double(model.q_dim()) * double(seq_len + 1);
  for (int64_t l = 0; l < model.num_hidden_layers; ++l)
    cost.push_back(6.0 * double(model.layer_matmul_params(l)) + attention);
  const double head = 6.0 * double(model.vocab_size) * double(model.hidden_size);
  const double embedding = double(model.hidden_size);
  return balance_pipeline_layers(cost, count, embedding, head);
}

}  // namespace symphony
