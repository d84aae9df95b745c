#pragma once
// Autoregressive generation with a KV cache: the prompt is fed in one pass (prefill), then one
// token per step. The model must be built for batch 1 with seq_len >= prompt + new tokens.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "infer/sampling.h"
#include "model/transformer.h"

namespace symphony {

struct GenerateOptions {
  int64_t max_new_tokens = 200;
  SamplingOptions sampling;
  uint64_t seed = 1;
  int32_t stop_token = -1;  // generation ends after this token; -1 = never
};

// Returns the generated tokens (not the prompt). `on_token` (optional) sees each one as it comes.
std::vector<int32_t> generate(const Exec& ex, Transformer& model, std::span<const int32_t> prompt,
                              const GenerateOptions& options,
                              const std::function<void(int32_t)>& on_token = {});

}  // namespace symphony
