#pragma once
// Process-wide accounting of tensor bytes by category: current and peak. The dry-run prediction
// (model/memory_plan.h) and a real run's measured figures are reported with the same categories.

#include <array>
#include <cstdint>
#include <string_view>

namespace symphony {

enum class MemoryCategory : uint8_t {
  kWeights,
  kGrads,
  kOptimizer,
  kActivations,
  kCommunication,
  kOther,
};
constexpr int kNumMemoryCategories = 6;
std::string_view memory_category_name(MemoryCategory category);

struct MemorySnapshot {
  std::array<int64_t, kNumMemoryCategories> current_bytes{};  // [category]
  std::array<int64_t, kNumMemoryCategories> peak_bytes{};     // [category]
  int64_t total_current_bytes = 0;
  int64_t total_peak_bytes = 0;
};

void memory_stats_add(MemoryCategory category, int64_t bytes);
MemorySnapshot memory_stats_snapshot();

}  // namespace symphony
