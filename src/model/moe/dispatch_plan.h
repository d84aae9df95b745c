#pragma once
// DispatchPlan: where each (token, slot) assignment of the router goes. Assignments are grouped
// by expert (stable: token order within an expert) so each expert runs one GEMM over a
// contiguous block of rows. With a capacity, an expert keeps its first `capacity` assignments in
// token order and drops the rest (their slot contributes nothing to the output).
//
// Vectors are reused across steps: build() resizes without shrinking, so a steady-state step
// does not allocate.

#include <cstdint>
#include <span>
#include <vector>

namespace symphony {

struct DispatchPlan {
  int64_t num_tokens = 0;
  int64_t num_experts = 0;
  int64_t top_k = 0;
  int64_t capacity = 0;                  // 0 = dropless
  std::vector<int64_t> routed;           // [expert] assignments before dropping
  std::vector<int64_t> offsets;          // [expert + 1] first grouped row of each expert
  std::vector<int32_t> row_of_slot;      // [token * K + slot] grouped row, or -1 if dropped
  std::vector<int32_t> token_of_row;     // [grouped row] source token
  std::vector<int32_t> slot_of_row;      // [grouped row] token * K + slot
  int64_t dropped = 0;
  std::vector<int64_t> cursor;           // [expert] scratch of build_dispatch_plan

  int64_t kept_rows() const { return offsets.empty() ? 0 : offsets.back(); }
  int64_t rows_of(int64_t expert) const { return offsets[expert + 1] - offsets[expert]; }
};

// idx: num_tokens * top_k expert ids (router_topk output). capacity 0 = dropless.
void build_dispatch_plan(std::span<const int32_t> idx, int64_t num_tokens, int64_t num_experts,
                         int64_t top_k, int64_t capacity, DispatchPlan& plan);

// ceil(capacity_factor * tokens * K / E), or 0 (dropless) when capacity_factor is 0.
int64_t expert_capacity(double capacity_factor, int64_t num_tokens, int64_t top_k,
                        int64_t num_experts);

}  // namespace symphony
