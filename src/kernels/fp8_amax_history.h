#pragma once
// A window of the most recent amax values (largest finite |x|) of one tensor, for delayed
// scaling: the scale of a call comes from the largest amax of earlier calls, and the call's own
// amax is recorded afterwards (Transformer Engine's DelayedScaling with amax_compute_algo "max").
// Thread-safety: none; one history per tensor per GEMM site.

#include <span>
#include <vector>

namespace symphony {

class Fp8AmaxHistory {
 public:
  // REQUIRES: length >= 1. Allocates the window here, never later.
  explicit Fp8AmaxHistory(int length);

  // Adds `amax` to the window, dropping the oldest value once `length` are held.
  // REQUIRES: amax >= 0 and finite.
  void record(float amax);
  // The largest value in the window; 0 before the first record.
  float max() const;
  // Values in the window: min(records so far, length).
  int size() const { return size_; }
  int length() const { return static_cast<int>(window_.size()); }

  // The ring's slots (oldest value at next()) and position. Replicas that recorded as many
  // values agree on a window by an element-wise max of their slots; a checkpoint saves all three.
  std::span<float> slots() { return window_; }
  std::span<const float> slots() const { return window_; }
  int next() const { return next_; }
  // REQUIRES: slots.size() == length(), 0 <= next < length(), 0 <= size <= length(), values
  // finite and non-negative.
  void restore(std::span<const float> slots, int next, int size);

 private:
  std::vector<float> window_;  // [slot], ring buffer
  int next_ = 0;
  int size_ = 0;
};

}  // namespace symphony
