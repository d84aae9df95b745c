#include "model/fp8_gemm.h"

#include <algorithm>

#include "kernels/fp8_quant.h"

namespace symphony {
namespace {

Fp8QuantStats quantize_operand(const Exec& ex, const Fp8Recipe& recipe, Fp8Operand role,
                               Fp8Side side, Trans trans, Fp8AmaxHistory& history, ConstView x,
                               View q, Fp8GemmWorkspace& workspace) {
  SYM_CHECK(x.ndim() == 2 && x.dtype() == DType::kF32, "fp8_gemm: operands must be 2-d f32");
  const Fp8Format format = fp8_operand_format(recipe, role);
  switch (recipe.scaling) {
    case Fp8Scaling::kTensor:
      return fp8_quantize_current(ex, format, recipe.scale_rounding, x, q).stats;
    case Fp8Scaling::kDelayed:
      return fp8_quantize_delayed(ex, format, recipe.scale_rounding, history, x, q).stats;
    case Fp8Scaling::kBlock: {
      const Fp8BlockShape block = fp8_operand_blocks(recipe, role, side, trans);
      const int64_t count = fp8_block_count(x.dim(0), x.dim(1), block);
      const std::span<float> scales =
          side == Fp8Side::kA ? workspace.scales_a(count) : workspace.scales_b(count);
      return fp8_quantize_blocks(ex, format, recipe.scale_rounding, block, x, q, scales);
    }
  }
  fatal("fp8_gemm: unknown scaling");
}

}  // namespace

void Fp8GemmWorkspaceSize::include(const Fp8GemmWorkspaceSize& other) {
  operand_a = std::max(operand_a, other.operand_a);
  operand_b = std::max(operand_b, other.operand_b);
  scales_a = std::max(scales_a, other.scales_a);
  scales_b = std::max(scales_b, other.scales_b);
  output = std::max(output, other.output);
}

int64_t Fp8GemmWorkspaceSize::bytes() const {
  return (operand_a + operand_b + scales_a + scales_b + 2 * output) * int64_t(sizeof(float));
}

Fp8BlockShape fp8_operand_blocks(const Fp8Recipe& recipe, Fp8Operand role, Fp8Side side,
                                 Trans trans) {
  const int64_t bs = recipe.block_size;
  if (role == Fp8Operand::kWeight) return {bs, bs};
  // The reduction dim is the storage columns of an untransposed A and of a transposed B.
  const bool reduction_along_columns = (side == Fp8Side::kA) == (trans == Trans::kNo);
  return reduction_along_columns ? Fp8BlockShape{1, bs} : Fp8BlockShape{bs, 1};
}

Fp8Format fp8_operand_format(const Fp8Recipe& recipe, Fp8Operand role) {
  return role == Fp8Operand::kGradient ? recipe.gradient_format : Fp8Format::kE4M3;
}

Fp8GemmWorkspaceSize fp8_gemm_workspace_size(const Fp8Recipe& recipe, Fp8Operand role_a,
                                             Fp8Operand role_b, Trans trans_a, Trans trans_b,
                                             Shape a, Shape b) {
  SYM_CHECK(a.ndim == 2 && b.ndim == 2, "fp8_gemm_workspace_size: 2-d shapes");
  const int64_t m = trans_a == Trans::kNo ? a[0] : a[1];
  const int64_t n = trans_b == Trans::kNo ? b[1] : b[0];
  Fp8GemmWorkspaceSize size;
  size.operand_a = a.numel();
  size.operand_b = b.numel();
  size.output = m * n;
  if (recipe.scaling == Fp8Scaling::kBlock) {
    size.scales_a =
        fp8_block_count(a[0], a[1], fp8_operand_blocks(recipe, role_a, Fp8Side::kA, trans_a));
    size.scales_b =
        fp8_block_count(b[0], b[1], fp8_operand_blocks(recipe, role_b, Fp8Side::kB, trans_b));
  }
  return size;
}

Fp8GemmWorkspace::Fp8GemmWorkspace(const Fp8GemmWorkspaceSize& size)
    : size_(size), memory_(DType::kF32, {size.bytes() / int64_t(sizeof(float))}) {}

View Fp8GemmWorkspace::region(int64_t offset, int64_t capacity, Shape shape, const char* what) {
  SYM_CHECK(shape.numel() <= capacity, "fp8 workspace: {} needs {} elements, holds {}", what,
            shape.numel(), capacity);
  return View(memory_.f32() + offset, DType::kF32, shape);
}

View Fp8GemmWorkspace::operand_a(Shape shape) {
  return region(0, size_.operand_a, shape, "operand A");
}

View Fp8GemmWorkspace::operand_b(Shape shape) {
  return region(size_.operand_a, size_.operand_b, shape, "operand B");
}

std::span<float> Fp8GemmWorkspace::scales_a(int64_t count) {
  const View v = region(size_.operand_a + size_.operand_b, size_.scales_a, {count}, "A's scales");
  return {v.f32(), size_t(count)};
}

std::span<float> Fp8GemmWorkspace::scales_b(int64_t count) {
  const View v = region(size_.operand_a + size_.operand_b + size_.scales_a, size_.scales_b, {count},
                        "B's scales");
  return {v.f32(), size_t(count)};
}

View Fp8GemmWorkspace::output(int which, Shape shape) {
  SYM_CHECK(which == 0 || which == 1, "fp8 workspace: output {}", which);
  const int64_t start = size_.operand_a + size_.operand_b + size_.scales_a + size_.scales_b;
  return region(start + which * size_.output, size_.output, shape, "error check output");
}

void fp8_gemm(const Exec& ex, Fp8SiteRegistry& sites, Fp8SiteId site, Fp8GemmWorkspace& workspace,
              Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
              View c) {
  Fp8SiteState& s = sites.mutable_site(site);
  if (s.fallen_back) return gemm(ex, trans_a, trans_b, alpha, a, b, beta, c);
  const Fp8Recipe& recipe = sites.recipe();
  const bool check = sites.error_check_due(site);
  const View aq = workspace.operand_a(a.shape());
  const View bq = workspace.operand_b(b.shape());
  const Fp8QuantStats stats_a =
      quantize_operand(ex, recipe, s.a, Fp8Side::kA, trans_a, s.history_a, a, aq, workspace);
  const Fp8QuantStats stats_b =
      quantize_operand(ex, recipe, s.b, Fp8Side::kB, trans_b, s.history_b, b, bq, workspace);
  sites.record_call(site, stats_a, stats_b);
  if (check) {
    // Both products without alpha and beta: the error is the quantization's alone, whatever C
    // accumulates into.
    const View c8 = workspace.output(0, c.shape());
    const View reference = workspace.output(1, c.shape());
    gemm(ex, trans_a, trans_b, 1.0, aq, bq, 0.0, c8);
    gemm(ex, trans_a, trans_b, 1.0, a, b, 0.0, reference);
    if (sites.record_error(site, fp8_gemm_error(c8, reference)))
      return gemm(ex, trans_a, trans_b, alpha, a, b, beta, c);
  }
  gemm(ex, trans_a, trans_b, alpha, aq, bq, beta, c);
}

}  // namespace symphony
