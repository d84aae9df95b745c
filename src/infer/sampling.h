#pragma once
// Picks the next token from logits: temperature, then top-k, then top-p (nucleus) truncation,
// then a draw from the renormalised distribution. temperature 0 = greedy (argmax, ties to the
// lower id).

#include <cstdint>
#include <span>
#include <vector>

#include "core/rng.h"

namespace symphony {

struct SamplingOptions {
  double temperature = 0.8;
  int64_t top_k = 0;   // 0 = no top-k truncation
  double top_p = 1.0;  // 1 = no nucleus truncation
};

// Buffers reused between calls so that sampling a token does not allocate.
struct SamplingScratch {
  std::vector<std::pair<float, int32_t>> ranked;  // (logit, id), best first
  std::vector<double> probs;
};

int32_t sample_token(std::span<const float> logits, const SamplingOptions& options, Rng& rng,
                     SamplingScratch& scratch);

}  // namespace symphony
