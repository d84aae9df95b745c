#pragma once
// How GEMMs run in (simulated) FP8: the scaling recipe, and when a GEMM site gives FP8 up.
// docs/fp8.md explains each choice; kernels/fp8_quant.h defines the formats and scalings.

#include <cstdint>

#include "kernels/fp8_format.h"
#include "kernels/fp8_quant.h"

namespace symphony {

enum class Fp8Scaling : uint8_t {
  kTensor,   // per-tensor current scaling: scale from this tensor's amax
  kDelayed,  // per-tensor delayed scaling: scale from the site's amax history
  kBlock,    // blockwise (DeepSeek-V3): 1 x block_size tiles along the reduction dim for
             // activations and gradients, block_size x block_size blocks for weights
};

// The role of a GEMM operand, which picks its format and block shape.
enum class Fp8Operand : uint8_t {
  kActivation,  // E4M3, tiles along the reduction dim
  kWeight,      // E4M3, square blocks
  kGradient,    // Fp8Recipe::gradient_format, tiles along the reduction dim
};

struct Fp8Recipe {
  Fp8Scaling scaling = Fp8Scaling::kBlock;
  int64_t block_size = 128;      // kBlock: tile length and block side, >= 1
  int amax_history_length = 16;  // kDelayed: calls in each operand's amax window, >= 1
  // Gradients take E5M2's range over E4M3's precision (Transformer Engine's HYBRID recipe);
  // DeepSeek-V3 keeps E4M3 for them too, relying on its fine-grained scales.
  Fp8Format gradient_format = Fp8Format::kE5M2;
  Fp8ScaleRounding scale_rounding = Fp8ScaleRounding::kExact;
  // A site whose measured output error (model/fp8_gemm.h: Fp8GemmError::worst) exceeds this
  // runs unquantized from then on. FP8 rounding alone gives about 0.035 (E4M3 x E4M3) to 0.06
  // (an E5M2 gradient) on well-scaled operands; lost operands (underflow) approach 1. > 0.
  double error_threshold = 0.25;
  // A site's error is measured on its first call and every error_check_interval calls after;
  // a measured call costs two extra GEMMs. >= 1.
  int error_check_interval = 16;
};

}  // namespace symphony
