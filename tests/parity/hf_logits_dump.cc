// hf_logits_dump CONFIG OUT_DIR: builds a tiny f32 model of the named config with random weights
// and writes
//   OUT_DIR/CONFIG/model.safetensors   a Symphony model file (save_model_file), the input of
//                                      `symphony ckpt export-hf`
//   OUT_DIR/CONFIG/logits.safetensors  the engine's results, decoded one token at a time with the
//                                      KV cache (the path `symphony generate` runs):
//     "tokens"  I32 (T)     random tokens
//     "logits"  F32 (T, V)  the logits at every position of "tokens"
//     "greedy"  I32 (G)     the greedy continuation of the first kPromptTokens tokens
//                           (metadata "greedy_prompt": their count)
//   and with MTP modules, from a training forward over "tokens" (targets: the next token):
//     "mtp_loss" F32 (D)    each depth's mean cross-entropy
//     "mtp_count" I32 (D)   the positions it averages
// tests/parity/hf_reference.py recomputes them from the exported Hugging Face directory.
// CONFIG names the Hugging Face architecture the model maps to:
//   qwen3        dense, QK-norm, GQA, untied
//   llama        dense, no QK-norm, tied, rope_theta 5e5
//   qwen3_moe    QK-norm, one dense layer then MoE (8 experts, top-2, no renormalisation), untied
//   mixtral      no QK-norm, MoE in every layer (4 experts, top-2, renormalised), tied
//   deepseek_v3  the deepseek-v3-tiny preset (MLA with q_lora_rank, one dense layer, sigmoid
//                routing over 4 groups of which 2 are kept, routed scaling 2.5, a shared expert,
//                one MTP module, untied) with a non-zero selection bias in every MoE layer
// and two models export must refuse:
//   shared     qwen3_moe with a shared expert
//   bias       qwen3_moe with a non-zero aux-loss-free selection bias

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "config/run_config.h"
#include "core/rng.h"
#include "model/init.h"
#include "model/transformer.h"
#include "train/model_file.h"

namespace symphony {
namespace {

constexpr uint64_t kInitSeed = 4321;
constexpr uint64_t kDataSeed = 8765;
constexpr int64_t kTokens = 20;
constexpr int64_t kPromptTokens = 8;  // the greedy continuation runs to kTokens positions

ModelConfig base_config() {
  ModelConfig c;
  c.vocab_size = 320;  // the byte tokenizer's, so export writes its tokenizer.json
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.initializer_range = 0.1;  // far from the near-identity regime, so every tensor matters
  c.intermediate_size = 96;
  c.moe_intermediate_size = 32;
  c.router_aux_loss_coef = 0.01;
  return c;
}

bool make_config(const std::string& name, ModelConfig& c) {
  if (name == "deepseek_v3") {
    Result<RunConfig> preset = load_run_config("deepseek-v3-tiny", {});
    if (!preset.has_value()) return false;
    c = preset->model;
    c.initializer_range = 0.1;  // as base_config(): far from the near-identity regime
    return true;
  }
  c = base_config();
  if (name == "qwen3") {
    c.qk_norm = true;
    c.tie_word_embeddings = false;
    return true;
  }
  if (name == "llama") {
    c.qk_norm = false;
    c.tie_word_embeddings = true;
    c.rope_theta = 500000.0;
    c.rms_norm_eps = 1e-5;
    return true;
  }
  if (name == "qwen3_moe" || name == "shared" || name == "bias") {
    c.qk_norm = true;
    c.tie_word_embeddings = false;
    c.num_hidden_layers = 3;
    c.first_k_dense_replace = 1;
    c.num_experts = 8;
    c.num_experts_per_tok = 2;
    c.norm_topk_prob = false;
    if (name == "shared") c.n_shared_experts = 1;
    if (name == "bias") c.bias_update_rate = 0.001;
    return true;
  }
  if (name == "mixtral") {
    c.qk_norm = false;
    c.tie_word_embeddings = true;
    c.num_experts = 4;
    c.num_experts_per_tok = 2;
    c.norm_topk_prob = true;
    return true;
  }
  return false;
}

int run(const std::string& name, const std::filesystem::path& out_root) {
  RunConfig config;
  if (!make_config(name, config.model)) {
    fmt::print(stderr,
               "hf_logits_dump: unknown config \"{}\" (qwen3, llama, qwen3_moe, mixtral, "
               "deepseek_v3, shared, bias)\n",
               name);
    return 2;
  }
  config.train.seq_len = 32;
  config.train.run_dir = (out_root / name).string();
  config.source = "hf_logits_dump " + name;
  if (Status s = config.model.validate(); !s.is_ok()) {
    fmt::print(stderr, "hf_logits_dump: {}\n", s.message());
    return 2;
  }
  const ModelConfig& c = config.model;
  Transformer model(c, DType::kF32, {1, kTokens}, Recompute::kFull);
  init_params(c, kInitSeed, model.params());
  Rng rng(kDataSeed);
  if (name == "bias") {
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      if (!c.is_moe_layer(l)) continue;
      View b = model.balance_bias(l);
      for (int64_t e = 0; e < b.numel(); ++e) b.f32()[e] = 0.01f * float(e % 3);
    }
  }
  // Large enough to change which experts are chosen (the sigmoid scores spread over about
  // [0.2, 0.8]), and non-negative, so every allowed expert's choice score stays positive: where
  // one is negative, transformers' deepseek_v3, which masks the experts of other groups with 0,
  // may choose differently from DeepSeek's reference code and Symphony, which exclude them.
  if (name == "deepseek_v3") {
    for (int64_t l = 0; l < c.num_layers_with_mtp(); ++l) {
      if (!c.is_moe_layer(l)) continue;
      View b = model.balance_bias(l);
      for (int64_t e = 0; e < b.numel(); ++e) b.f32()[e] = 0.1f * float((e + l) % 4);
    }
  }

  std::vector<int32_t> tokens(kTokens);
  for (int32_t& t : tokens) t = int32_t(rng.next_u64() % 257);  // bytes and <|endoftext|>
  std::vector<float> logits(size_t(kTokens * c.vocab_size));
  std::vector<KvCache> caches = model.make_kv_caches();
  for (int64_t t = 0; t < kTokens; ++t) {
    View row(logits.data() + t * c.vocab_size, DType::kF32, {c.vocab_size});
    model.decode(Exec::cpu(), std::span<const int32_t>(&tokens[size_t(t)], 1), caches, row);
  }

  // Greedy decoding from the prompt, as `symphony generate --temperature 0` does.
  std::vector<int32_t> greedy;
  {
    std::vector<KvCache> greedy_caches = model.make_kv_caches();
    std::vector<float> last(size_t(c.vocab_size));
    View row(last.data(), DType::kF32, {c.vocab_size});
    model.decode(Exec::cpu(), std::span<const int32_t>(tokens.data(), kPromptTokens),
                 greedy_caches, row);
    for (int64_t t = kPromptTokens; t < kTokens; ++t) {
      const int32_t next = int32_t(std::max_element(last.begin(), last.end()) - last.begin());
      greedy.push_back(next);
      if (t + 1 < kTokens)
        model.decode(Exec::cpu(), std::span<const int32_t>(&greedy.back(), 1), greedy_caches,
                     row);
    }
  }

  // The MTP modules' losses from a training forward (weights and selection biases unchanged).
  std::vector<float> mtp_loss;
  std::vector<int32_t> mtp_count;
  if (c.num_nextn_predict_layers > 0) {
    std::vector<int32_t> targets(tokens.begin() + 1, tokens.end());
    targets.push_back(-1);
    model.reset_mtp_losses();
    model.forward_backward(Exec::cpu(), {1, kTokens}, tokens, targets,
                           LossScales{1.0 / double(kTokens - 1), 1.0});
    for (const CrossEntropyResult& r : model.mtp_losses()) {
      mtp_loss.push_back(float(r.loss_sum / double(r.count)));
      mtp_count.push_back(int32_t(r.count));
    }
  }

  const std::filesystem::path dir = out_root / name;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (Status s = save_model_file(dir / "model.safetensors", config, model); !s.is_ok()) {
    fmt::print(stderr, "hf_logits_dump: {}\n", s.message());
    return 1;
  }
  const std::vector<TensorRecord> records = {
      {"tokens", "I32", {kTokens}, tokens.data(), int64_t(tokens.size() * sizeof(int32_t))},
      {"logits",
       "F32",
       {kTokens, c.vocab_size},
       logits.data(),
       int64_t(logits.size() * sizeof(float))},
      {"greedy",
       "I32",
       {int64_t(greedy.size())},
       greedy.data(),
       int64_t(greedy.size() * sizeof(int32_t))}};
  std::vector<TensorRecord> all = records;
  if (!mtp_loss.empty()) {
    const int64_t depths = int64_t(mtp_loss.size());
    all.push_back({"mtp_loss", "F32", {depths}, mtp_loss.data(), depths * int64_t(sizeof(float))});
    all.push_back(
        {"mtp_count", "I32", {depths}, mtp_count.data(), depths * int64_t(sizeof(int32_t))});
  }
  if (Status s = write_safetensors(dir / "logits.safetensors", all,
                                   {{"config", name},
                                    {"greedy_prompt", std::to_string(kPromptTokens)}});
      !s.is_ok()) {
    fmt::print(stderr, "hf_logits_dump: {}\n", s.message());
    return 1;
  }
  fmt::print("hf_logits_dump: {}: {} positions -> {}\n", name, kTokens, dir.string());
  return 0;
}

}  // namespace
}  // namespace symphony

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: hf_logits_dump CONFIG OUT_DIR\n");
    return 2;
  }
  return symphony::run(argv[1], argv[2]);
}
