#include "tensor/memory_stats.h"

#include <algorithm>
#include <atomic>

namespace symphony {
namespace {
struct Counters {
  std::array<std::atomic<int64_t>, kNumMemoryCategories> current{};
  std::array<std::atomic<int64_t>, kNumMemoryCategories> peak{};
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> total_peak{0};
};
Counters& counters() {
  static Counters c;
  return c;
}
void raise_to(std::atomic<int64_t>& peak, int64_t value) {
  int64_t old = peak.load();
  while (value > old && !peak.compare_exchange_weak(old, value)) {
  }
}
}  // namespace

std::string_view memory_category_name(MemoryCategory category) {
  switch (category) {
    case MemoryCategory::kWeights: return "weights";
    case MemoryCategory::kGrads: return "grads";
    case MemoryCategory::kOptimizer: return "optimizer";
    case MemoryCategory::kActivations: return "activations";
    case MemoryCategory::kCommunication: return "communication";
    case MemoryCategory::kOther: return "other";
  }
  return "other";
}

void memory_stats_add(MemoryCategory category, int64_t bytes) {
  Counters& c = counters();
  auto i = static_cast<size_t>(category);
  raise_to(c.peak[i], c.current[i].fetch_add(bytes) + bytes);
  raise_to(c.total_peak, c.total.fetch_add(bytes) + bytes);
}

MemorySnapshot memory_stats_snapshot() {
  Counters& c = counters();
  MemorySnapshot s;
  for (int i = 0; i < kNumMemoryCategories; ++i) {
    s.current_bytes[i] = c.current[i].load();
    s.peak_bytes[i] = c.peak[i].load();
  }
  s.total_current_bytes = c.total.load();
  s.total_peak_bytes = c.total_peak.load();
  return s;
}

}  // namespace symphony
