#pragma once
// The [fp8] section of a run config: how train.precision = "fp8" quantizes the linear layers'
// GEMMs (model/fp8_linears.h, docs/fp8.md). Ignored at other precisions.

#include <cstdint>

#include "kernels/fp8_format.h"
#include "model/fp8_recipe.h"

namespace symphony {

struct Fp8Config {
  Fp8Scaling scaling = Fp8Scaling::kBlock;      // "block" | "tensor" | "delayed"
  int64_t block_size = 128;                     // "block": must divide model.hidden_size
  int64_t amax_history = 16;                    // "delayed": calls in each amax window
  // "e4m3" | "e5m2". E4M3 with blockwise scales is DeepSeek-V3's recipe; E5M2's range for
  // gradients (Transformer Engine's HYBRID) suits per-tensor scaling.
  Fp8Format gradient_format = Fp8Format::kE4M3;
  // A site whose output error (model/fp8_gemm_error.h: the worst of the overall, per-row and
  // per-column relative errors) passes it falls back. FP8 rounding alone gives 0.03-0.07 overall
  // and up to about 0.3 in the columns of a GEMM over few rows; an operand flushed to zero, 1.
  double error_threshold = 0.5;
  int64_t check_every = 16;                     // a site's error is measured every this many calls

  Fp8Recipe recipe() const {
    Fp8Recipe r;
    r.scaling = scaling;
    r.block_size = block_size;
    r.amax_history_length = int(amax_history);
    r.gradient_format = gradient_format;
    r.error_threshold = error_threshold;
    r.error_check_interval = int(check_every);
    return r;
  }
};

}  // namespace symphony
