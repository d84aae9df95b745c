#pragma once
// Architectures of published training runs, as the planner's ModelConfig: the models of the
// validation table (plan/validation.h). Each follows its paper or released configuration; where
// a field does not change the cost model (position-embedding kind, biases, norm epsilon) it is
// left at its default. docs/plan.md cites the source of every shape.

#include <cstdint>

#include "model/model_config.h"

namespace symphony::plan::published {

// GPT-3-style models of Megatron-LM (Narayanan et al. 2021, Table 1): GELU MLP of width 4h, heads
// of h / heads, tied vocabulary of 51200 (GPT-2's 50257 padded), learned positions (not costed).
ModelConfig megatron_gpt(int64_t heads, int64_t hidden, int64_t layers);
ModelConfig gpt3_175b();     // NeMo's GPT-3 175B: 96 x 12288, 96 heads, GELU 49152
ModelConfig mt_nlg_530b();   // Megatron-Turing NLG: 105 x 20480, 128 heads, GELU 81920
ModelConfig bloom_176b();    // BLOOM: 70 x 14336, 112 heads, GELU 57344, vocabulary 250880
ModelConfig llama2_70b();    // 80 x 8192, 64 heads / 8 KV, SwiGLU 28672, vocabulary 32000
ModelConfig llama3_8b();     // 32 x 4096, 32 heads / 8 KV, SwiGLU 14336, vocabulary 128256
ModelConfig llama3_70b();    // 80 x 8192, 64 heads / 8 KV, SwiGLU 28672
ModelConfig llama3_405b();   // 126 x 16384, 128 heads / 8 KV, SwiGLU 53248
ModelConfig nemotron4_15b();   // 32 x 6144, 48 heads / 8 KV, squared-ReLU 24576, vocab 256000
ModelConfig nemotron4_340b();  // 96 x 18432, 96 heads / 8 KV, squared-ReLU 73728
ModelConfig palm_540b();  // 118 x 18432, 48 heads of 256, multi-query, SwiGLU 73728, parallel
                          // attention and MLP, vocabulary 256000
// MoE.
ModelConfig grok1_314b();       // 64 x 6144, 48 heads / 8 KV, 8 GeGLU experts of 32768, top 2
ModelConfig gpt_oss_120b();     // 36 x 2880, 64 heads of 64 / 8 KV, 128 experts of 2880, top 4,
                                // 128-token sliding window on every other layer
ModelConfig qwen3_30b_a3b();    // 48 x 2048, 32 heads / 4 KV, 128 experts of 768, top 8
ModelConfig qwen3_235b_a22b();  // 94 x 4096, 64 heads / 4 KV, 128 experts of 1536, top 8
// As configs/deepseek-v3-671b.toml, with `mtp_modules` multi-token prediction modules (it was
// trained with one; benchmarks run it with or without).
ModelConfig deepseek_v3(int64_t mtp_modules);
ModelConfig mixtral_8x7b();     // 32 x 4096, 32 heads / 8 KV, 8 experts of 14336, top 2
ModelConfig mixtral_8x22b();    // 56 x 6144, 48 heads / 8 KV, 8 experts of 16384, top 2
ModelConfig llama4_scout();     // 48 x 5120, 40 heads / 8 KV, 16 experts of 8192, top 1, and a
                                // shared expert of 8192

}  // namespace symphony::plan::published
