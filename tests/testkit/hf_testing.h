#pragma once
// Tiny models for the Hugging Face export and import tests.

#include <filesystem>
#include <string>

#include "checkpoint/hf_arch.h"
#include "config/run_config.h"

namespace symphony::testkit {

// A tiny config that choose_hf_arch() maps to `arch` (vocabulary 320, the byte tokenizer's;
// MoE configs with 4 experts, qwen3_moe with one dense layer and untied, mixtral tied;
// deepseek_v3 with MLA (q_lora_rank 16), one dense layer, sigmoid routing over 2 groups of which
// 1 is kept, routed scaling 2.5, a shared expert and one MTP module, untied).
ModelConfig hf_test_config(HfArch arch);

// A RunConfig around `model` that validates (seq_len within max_position_embeddings).
RunConfig hf_test_run_config(const ModelConfig& model);

// Writes a Symphony model file at `path` with random weights from `seed` (save_model_file);
// selection biases are zero, or seed-dependent non-zero values when `nonzero_bias`.
enum class BiasInit : uint8_t { kZero, kNonZero };
void write_hf_test_model(const std::filesystem::path& path, const RunConfig& config, uint64_t seed,
                         BiasInit bias = BiasInit::kZero);

}  // namespace symphony::testkit
