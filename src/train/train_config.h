#pragma once
// Training, optimizer, data and checkpoint settings: the [train], [optim], [data] and
// [checkpoint] sections of a run config.

#include <cstdint>
#include <string>
#include <vector>

#include "model/recompute.h"

namespace symphony {

enum class LrDecay : uint8_t { kCosine, kLinear, kConstant };

struct OptimConfig {
  double lr = 3e-4;            // peak learning rate, reached after warmup_steps
  double min_lr_ratio = 0.1;   // final lr = lr * min_lr_ratio
  int64_t warmup_steps = 100;  // linear warmup from 0
  LrDecay decay = LrDecay::kCosine;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;   // decoupled (AdamW); never applied to norms
  double grad_clip = 1.0;      // global L2 norm clip; 0 disables
};

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
  int64_t eval_every = 100;          // 0 disables eval
  int64_t eval_batches = 8;
  int64_t log_every = 1;
  std::string run_dir = "runs/default";
};

// Training data: either prepared dataset directories (`symphony data prepare`,
// docs/dataset_format.md), blended by weight, or the single token files train_path / val_path.
struct DataConfig {
  std::vector<std::string> datasets;  // prepared dataset directories; their train splits are
                                      // blended and the first one's val split is evaluated
  std::vector<double> weights;        // [dataset] relative sampling weights; empty: all equal
  int64_t prefetch_depth = 2;         // micro-batches the loader prepares ahead; 0: none
  std::string train_path;          // token file (see docs/token_file_format.md), when no datasets
  std::string val_path;            // token file for evaluation, when no datasets
  double val_fraction = 0.05;
  std::string tokenizer_path;      // tokenizer used to decode samples and prompts; when set, the
                                   // trainer refuses datasets prepared with another tokenizer
};

// Checkpoints (docs/checkpoints.md): the [checkpoint] section.
struct CheckpointConfig {
  std::string dir;         // "": <train.run_dir>/checkpoints
  int64_t every = 0;       // save every N steps and at the end; 0: only on SIGTERM/SIGINT
  int64_t keep_last = 3;   // newest checkpoints kept
  int64_t keep_every = 0;  // also keep steps that are multiples of this; 0: none
  bool async = true;       // write in a background thread while training goes on
};

}  // namespace symphony
