#pragma once
// Moving token rows between token order and expert-grouped order (model/moe/dispatch_plan.h).
//   gather:            xg[r, :] = x[token_of_row[r], :]
//   combine:           y[t, :]  = sum_{slot j of t, kept} w[t, j] * yg[row_of_slot[t*K+j], :]
//                      (overwrites y; slots are summed in slot order: deterministic)
//   combine_backward:  dw[t, j] = <dy[t, :], yg[row, :]>  (0 for dropped slots)
//                      dyg[row, :] = w[t, j] * dy[t, :]    (dyg may alias yg)
//   scatter_add:       dx[t, :] += sum_{slot j of t, kept} dxg[row_of_slot[t*K+j], :]
// x, y, dy, dx: (N, D); xg, yg, dyg, dxg: (rows, D); w, dw: (N, K).

#include <cstdint>
#include <span>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

void moe_gather(const Exec& ex, ConstView x, std::span<const int32_t> token_of_row, View xg);
void moe_combine(const Exec& ex, ConstView yg, ConstView w, std::span<const int32_t> row_of_slot,
                 View y);
void moe_combine_backward(const Exec& ex, ConstView dy, ConstView yg, ConstView w,
                          std::span<const int32_t> row_of_slot, View dw, View dyg);
void moe_scatter_add(const Exec& ex, ConstView dxg, std::span<const int32_t> row_of_slot,
                     View dx);

namespace ref {
void moe_gather(ConstView x, std::span<const int32_t> token_of_row, View xg);
void moe_combine(ConstView yg, ConstView w, std::span<const int32_t> row_of_slot, View y);
void moe_combine_backward(ConstView dy, ConstView yg, ConstView w,
                          std::span<const int32_t> row_of_slot, View dw, View dyg);
void moe_scatter_add(ConstView dxg, std::span<const int32_t> row_of_slot, View dx);
}  // namespace ref
namespace cpu {
void moe_gather(ConstView x, std::span<const int32_t> token_of_row, View xg);
void moe_combine(ConstView yg, ConstView w, std::span<const int32_t> row_of_slot, View y);
void moe_combine_backward(ConstView dy, ConstView yg, ConstView w,
                          std::span<const int32_t> row_of_slot, View dw, View dyg);
void moe_scatter_add(ConstView dxg, std::span<const int32_t> row_of_slot, View dx);
}  // namespace cpu

}  // namespace symphony
