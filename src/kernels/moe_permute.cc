#include "kernels/moe_permute.h"

namespace symphony {
namespace {
bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}
}  // namespace

void moe_gather(const Exec& ex, ConstView x, std::span<const int32_t> token_of_row, View xg) {
  SYM_CHECK(xg.dim(0) == int64_t(token_of_row.size()) && xg.dim(1) == x.dim(1), "moe_gather shapes");
  if (use_ref(ex, x)) return ref::moe_gather(x, token_of_row, xg);
  cpu::moe_gather(x, token_of_row, xg);
}

void moe_combine(const Exec& ex, ConstView yg, ConstView w, std::span<const int32_t> row_of_slot,
                 View y) {
  SYM_CHECK(w.numel() == int64_t(row_of_slot.size()) && w.dim(0) == y.dim(0), "moe_combine shapes");
  if (use_ref(ex, yg)) return ref::moe_combine(yg, w, row_of_slot, y);
  cpu::moe_combine(yg, w, row_of_slot, y);
}

void moe_combine_backward(const Exec& ex, ConstView dy, ConstView yg, ConstView w,
                          std::span<const int32_t> row_of_slot, View dw, View dyg) {
  SYM_CHECK(same_shape(w, dw) && w.numel() == int64_t(row_of_slot.size()),
            "moe_combine_backward shapes");
  if (use_ref(ex, dy)) return ref::moe_combine_backward(dy, yg, w, row_of_slot, dw, dyg);
  cpu::moe_combine_backward(dy, yg, w, row_of_slot, dw, dyg);
}

void moe_scatter_add(const Exec& ex, ConstView dxg, std::span<const int32_t> row_of_slot,
                     View dx) {
  SYM_CHECK(int64_t(row_of_slot.size()) % dx.dim(0) == 0, "moe_scatter_add shapes");
  if (use_ref(ex, dx)) return ref::moe_scatter_add(dxg, row_of_slot, dx);
  cpu::moe_scatter_add(dxg, row_of_slot, dx);
}

}  // namespace symphony
