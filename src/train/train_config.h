#pragma once
// Training settings: the [train] section of a run config.

#include <cstdint>
#include <string>

#include "core/precision.h"
#include "model/recompute.h"

namespace symphony {

// Tokens of one micro-batch at most (validated): with the model's bounds (model_config.h) every
// token count and byte count of a run stays computable in int64, dp ranks included.
inline constexpr int64_t kMaxMicroBatchTokens = int64_t(1) << 32;

struct TrainConfig {
  int64_t steps = 1000;
  int64_t seq_len = 256;
  int64_t micro_batch_size = 8;     // micro_batch_size * seq_len <= kMaxMicroBatchTokens
  int64_t global_batch_tokens = 0;  // 0 = one micro-batch; else a multiple of micro-batch tokens
  uint64_t seed = 1234;
  Recompute recompute = Recompute::kNone;  // kNone or kFull (kSelective is planner-only)
  // Precision of the matrix multiplies (core/precision.h): "fp32" or "bf16" (bf16 inputs, fp32
  // accumulation; weights, gradients, AdamW state and every other op stay fp32). The router's
  // scores stay fp32 in either.
  Precision precision = Precision::kFp32;
  int64_t eval_every = 100;          // 0 disables eval
  int64_t eval_batches = 8;
  int64_t log_every = 1;
  // Pipeline parallel: write the timeline of this many steps (after the first, which pays one-off
  // costs) as <run_dir>/pipeline_trace/step_<n>.json (Chrome/Perfetto trace) and .svg; 0: none.
  int64_t trace_steps = 0;
  std::string run_dir = "runs/default";
};

}  // namespace symphony
