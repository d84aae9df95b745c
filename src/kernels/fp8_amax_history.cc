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

void Fp8AmaxHistory::restore(std::span<const float> slots, int next, int size) {
  SYM_CHECK(slots.size() == window_.size() && next >= 0 && next < length() && size >= 0 &&
                size <= length(),
            "amax history restore: {} slots at {} ({} held) into a window of {}", slots.size(),
            next, size, length());
  for (float v : slots) SYM_CHECK(v >= 0.f && std::isfinite(v), "amax {} in a saved window", v);
  std::copy(slots.begin(), slots.end(), window_.begin());
  next_ = next;
  size_ = size;
}

// Slots never written hold 0, which never exceeds a recorded value.
float Fp8AmaxHistory::max() const { return *std::max_element(window_.begin(), window_.end()); }

}  // namespace symphony
