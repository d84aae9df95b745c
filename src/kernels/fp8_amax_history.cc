#include "kernels/fp8_amax_history.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace symphony {

Fp8AmaxHistory::Fp8AmaxHistory(int length) {
  SYM_CHECK(length >= 1, "amax history length {} < 1", length);
  window_.assign(static_cast<size_t>(length), 0.f);
}

void Fp8AmaxHistory::record(float amax) {
  SYM_CHECK(amax >= 0.f && std::isfinite(amax), "amax {} is not a finite non-negative value", amax);
  window_[static_cast<size_t>(next_)] = amax;
  next_ = (next_ + 1) % length();
  size_ = std::min(size_ + 1, length());
}

// Slots never written hold 0, which never exceeds a recorded value.
float Fp8AmaxHistory::max() const { return *std::max_element(window_.begin(), window_.end()); }

}  // namespace symphony
