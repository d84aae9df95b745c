#pragma once
// An FP8 GEMM, simulated on fp32 hardware:
//   C = alpha * op(Q(A)) * op(Q(B)) + beta * C
// with gemm()'s argument meaning (kernels/gemm.h), where Q fake-quantizes an operand to FP8
// (kernels/fp8_quant.h) by the registry's recipe and the operand's role at the site:
//   format: E4M3 for activations and weights, recipe.gradient_format for gradients;
//   scales: per tensor (kTensor, or kDelayed from the site's amax histories), or blockwise:
//           weights in block_size x block_size blocks, activations and gradients in tiles of
//           block_size along the reduction dim (1 x block_size of op(A)'s rows, block_size x 1
//           of op(B)'s columns), so each output element sums products whose scales are constant
//           over each run of block_size terms, as an FP8 GEMM with per-tile scales requires.
// The quantized operands are exactly what an FP8 tensor-core GEMM consumes (times its scales);
// the products and their sums are fp32 here. docs/fp8.md lists what this does and does not
// reproduce of an H100/H800 FP8 GEMM.
//
// Per call the site records its operand statistics. On the site's first call and every
// recipe.error_check_interval calls after, it also measures the FP8 output against the
// unquantized product (model/fp8_gemm_error.h; two more GEMMs into the workspace); when the
// error exceeds recipe.error_threshold the site falls back: this call and every later one run
// the unquantized gemm(), and the registry records the fallback with its step and error.
//
// REQUIRES: a, b, c 2-d f32 views (kernels/gemm.h's shape rules); c aliases neither a nor b;
// the workspace holds the sizes fp8_gemm_workspace_size gives for these shapes.
// Thread-safety: one call at a time per registry and per workspace.

#include <cstdint>

#include "kernels/gemm.h"
#include "model/fp8_sites.h"
#include "tensor/buffer.h"

namespace symphony {

// Elements fp8_gemm needs for one site's call shapes; include() keeps the largest of each.
struct Fp8GemmWorkspaceSize {
  int64_t operand_a = 0;  // quantized copy of A
  int64_t operand_b = 0;
  int64_t scales_a = 0;  // kBlock: A's block scales
  int64_t scales_b = 0;
  int64_t output = 0;  // each of the two outputs of an error check
  void include(const Fp8GemmWorkspaceSize& other);
  int64_t bytes() const;  // all of it, f32
};

Fp8GemmWorkspaceSize fp8_gemm_workspace_size(const Fp8Recipe& recipe, Fp8Operand role_a,
                                             Fp8Operand role_b, Trans trans_a, Trans trans_b,
                                             Shape a, Shape b);

// Owns the scratch memory of fp8_gemm, allocated once at construction.
class Fp8GemmWorkspace {
 public:
  explicit Fp8GemmWorkspace(const Fp8GemmWorkspaceSize& size);
  const Fp8GemmWorkspaceSize& size() const { return size_; }
  // Views of the scratch regions, checked against the capacity.
  View operand_a(Shape shape);
  View operand_b(Shape shape);
  std::span<float> scales_a(int64_t count);
  std::span<float> scales_b(int64_t count);
  View output(int which, Shape shape);  // which: 0 or 1

 private:
  View region(int64_t offset, int64_t capacity, Shape shape, const char* what);
  Fp8GemmWorkspaceSize size_;
  Buffer memory_;
};

// The block shape of one operand's scales under a kBlock recipe, in the storage layout of the
// operand (side: which of gemm's operands it is). Other scalings use one per-tensor scale.
enum class Fp8Side : uint8_t { kA, kB };
Fp8BlockShape fp8_operand_blocks(const Fp8Recipe& recipe, Fp8Operand role, Fp8Side side,
                                 Trans trans);
Fp8Format fp8_operand_format(const Fp8Recipe& recipe, Fp8Operand role);

void fp8_gemm(const Exec& ex, Fp8SiteRegistry& sites, Fp8SiteId site, Fp8GemmWorkspace& workspace,
              Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
              View c);

}  // namespace symphony
