#include "model/moe/dispatch_plan.h"

#include <cmath>

#include "core/check.h"

namespace symphony {

int64_t expert_capacity(double capacity_factor, int64_t num_tokens, int64_t top_k,
                        int64_t num_experts) {
  if (capacity_factor <= 0) return 0;
  return int64_t(std::ceil(capacity_factor * double(num_tokens * top_k) / double(num_experts)));
}

void build_dispatch_plan(std::span<const int32_t> idx, int64_t num_tokens, int64_t num_experts,
                         int64_t top_k, int64_t capacity, DispatchPlan& plan) {
  const int64_t slots = num_tokens * top_k;
  SYM_CHECK(int64_t(idx.size()) >= slots, "dispatch: {} ids for {} slots", idx.size(), slots);
  plan.num_tokens = num_tokens;
  plan.num_experts = num_experts;
  plan.top_k = top_k;
  plan.capacity = capacity;
  plan.routed.assign(size_t(num_experts), 0);
  plan.offsets.assign(size_t(num_experts + 1), 0);
  plan.row_of_slot.resize(size_t(slots));
  for (int64_t s = 0; s < slots; ++s) {
    int32_t e = idx[size_t(s)];
    SYM_CHECK(e >= 0 && e < num_experts, "dispatch: expert id {} out of [0, {})", e, num_experts);
    ++plan.routed[size_t(e)];
  }
  for (int64_t e = 0; e < num_experts; ++e) {
    int64_t kept = capacity > 0 ? std::min(plan.routed[size_t(e)], capacity) : plan.routed[size_t(e)];
    plan.offsets[size_t(e + 1)] = plan.offsets[size_t(e)] + kept;
  }
  const int64_t rows = plan.kept_rows();
  plan.dropped = slots - rows;
  plan.token_of_row.resize(size_t(rows));
  plan.slot_of_row.resize(size_t(rows));
  std::vector<int64_t>& cursor = plan.cursor;  // next free row of each expert
  cursor.assign(plan.offsets.begin(), plan.offsets.end() - 1);
  for (int64_t s = 0; s < slots; ++s) {
    size_t e = size_t(idx[size_t(s)]);
    if (cursor[e] < plan.offsets[e + 1]) {
      int64_t row = cursor[e]++;
      plan.row_of_slot[size_t(s)] = int32_t(row);
      plan.token_of_row[size_t(row)] = int32_t(s / top_k);
      plan.slot_of_row[size_t(row)] = int32_t(s);
    } else {
      plan.row_of_slot[size_t(s)] = -1;
    }
  }
}

}  // namespace symphony
