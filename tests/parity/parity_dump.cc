// parity_dump CONFIG OUT_DIR: runs one forward and backward of a tiny f32 Transformer and writes
// OUT_DIR/CONFIG.safetensors for tests/parity/torch_parity.py, which recomputes the loss and
// every gradient in PyTorch. The file holds
//   <param name>        every parameter (F32, Hugging Face name and layout)
//   grad.<param name>   its gradient of the total loss
//   tokens, targets     (B, T) I32; a negative target is ignored
// and metadata: "config" (the ModelConfig as JSON), "batch", "seq_len", "loss" (mean CE over
// counted targets), "aux_loss" and "z_loss" (summed over MoE layers), "total_loss".
// CONFIG is "dense" (GQA, qk_norm, untied) or "moe" (1 dense + 2 MoE layers, 8 experts top-2,
// one shared expert, every router loss on).

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "core/rng.h"
#include "model/init.h"
#include "model/transformer.h"

namespace symphony {
namespace {

constexpr uint64_t kInitSeed = 1234;
constexpr uint64_t kDataSeed = 5678;
constexpr BatchShape kShape{2, 24};

ModelConfig base_config() {
  ModelConfig c;
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.qk_norm = true;
  c.tie_word_embeddings = false;
  // Larger than the training default so attention, routing and every norm are far from their
  // near-identity regime and each term moves the gradients visibly.
  c.initializer_range = 0.1;
  c.intermediate_size = 96;
  return c;
}

bool make_config(const std::string& name, ModelConfig& c) {
  c = base_config();
  if (name == "dense") {
    c.num_hidden_layers = 2;
    c.num_experts = 0;
    c.router_aux_loss_coef = 0.0;
    return true;
  }
  if (name == "moe") {
    c.num_hidden_layers = 3;
    c.first_k_dense_replace = 1;
    c.num_experts = 8;
    c.num_experts_per_tok = 2;
    c.moe_intermediate_size = 32;
    c.n_shared_experts = 1;
    c.norm_topk_prob = true;
    c.router_aux_loss_coef = 0.01;
    c.router_z_loss_coef = 0.001;
    return true;
  }
  return false;
}

nlohmann::json config_json(const ModelConfig& c) {
  return {
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rope_theta", c.rope_theta},
      {"rms_norm_eps", c.rms_norm_eps},
      {"qk_norm", c.qk_norm},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"initializer_range", c.initializer_range},
      {"intermediate_size", c.intermediate_size},
      {"first_k_dense_replace", c.first_k_dense_replace},
      {"num_experts", c.num_experts},
      {"num_experts_per_tok", c.num_experts_per_tok},
      {"moe_intermediate_size", c.moe_intermediate_size},
      {"n_shared_experts", c.n_shared_experts},
      {"norm_topk_prob", c.norm_topk_prob},
      {"router_aux_loss_coef", c.router_aux_loss_coef},
      {"router_z_loss_coef", c.router_z_loss_coef},
      {"bias_update_rate", c.bias_update_rate},
      {"capacity_factor", c.capacity_factor},
  };
}

std::vector<int64_t> dims_of(const Shape& s) { return {s.dims.begin(), s.dims.begin() + s.ndim}; }

// Doubles as the shortest decimal that reads back exactly.
std::string exact(double x) { return fmt::format("{}", x); }

int run(const std::string& name, const std::filesystem::path& out_dir) {
  ModelConfig config;
  if (!make_config(name, config)) {
    fmt::print(stderr, "parity_dump: unknown config \"{}\" (dense, moe)\n", name);
    return 2;
  }
  if (Status s = config.validate(); !s.is_ok()) {
    fmt::print(stderr, "parity_dump: {}\n", s.message());
    return 2;
  }
  Transformer model(config, DType::kF32, kShape, Recompute::kNone);
  init_params(config, kInitSeed, model.params());

  const int64_t rows = kShape.rows();
  std::vector<int32_t> tokens(static_cast<size_t>(rows)), targets(static_cast<size_t>(rows));
  Rng rng(kDataSeed);
  int64_t counted = 0;
  for (int64_t i = 0; i < rows; ++i) {
    tokens[size_t(i)] = int32_t(rng.next_u64() % uint64_t(config.vocab_size));
    targets[size_t(i)] = int32_t(rng.next_u64() % uint64_t(config.vocab_size));
    if (i % 11 == 3) targets[size_t(i)] = -1;  // a few ignored positions in both sequences
    counted += targets[size_t(i)] >= 0;
  }

  const LossScales scales{1.0 / double(counted), 1.0};
  model.params().zero_grads();
  model.reset_moe_stats();
  CrossEntropyResult ce = model.forward_backward(Exec::cpu(), kShape, tokens, targets, scales);
  const double loss = ce.loss_sum / double(ce.count);
  double aux = 0, z = 0;
  for (const MoeStats& s : model.moe_stats()) aux += s.aux_loss, z += s.z_loss;

  std::vector<TensorRecord> records;
  const ParamStore& params = model.params();
  for (ParamId id = 0; id < ParamId(params.infos().size()); ++id) {
    const ParamInfo& info = params.info(id);
    ConstView w = params.param(id), g = params.grad(id);
    records.push_back({info.name, "F32", dims_of(info.shape), w.raw(), w.bytes()});
    records.push_back({"grad." + info.name, "F32", dims_of(info.shape), g.raw(), g.bytes()});
  }
  const int64_t token_bytes = rows * int64_t(sizeof(int32_t));
  records.push_back({"tokens", "I32", {kShape.batch, kShape.seq_len}, tokens.data(), token_bytes});
  records.push_back(
      {"targets", "I32", {kShape.batch, kShape.seq_len}, targets.data(), token_bytes});
  const std::map<std::string, std::string> metadata = {
      {"config", config_json(config).dump()},
      {"batch", std::to_string(kShape.batch)},
      {"seq_len", std::to_string(kShape.seq_len)},
      {"loss", exact(loss)},
      {"aux_loss", exact(aux)},
      {"z_loss", exact(z)},
      {"total_loss", exact(loss + aux + z)},
  };

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::filesystem::path path = out_dir / (name + ".safetensors");
  if (Status s = write_safetensors(path, records, metadata); !s.is_ok()) {
    fmt::print(stderr, "parity_dump: {}\n", s.message());
    return 1;
  }
  fmt::print("parity_dump: {}: {} tensors, loss {:.6f} aux {:.6g} z {:.6g} -> {}\n", name,
             params.infos().size(), loss, aux, z, path.string());
  return 0;
}

}  // namespace
}  // namespace symphony

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: parity_dump dense|moe OUT_DIR\n");
    return 2;
  }
  return symphony::run(argv[1], argv[2]);
}
