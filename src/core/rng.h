#pragma once
// Counter-based random numbers (SplitMix64 over a key and counter): the value at (key, index)
// depends on nothing else, so initialisation is identical whatever the thread count or the
// parallel layout that later owns a slice of a tensor.

#include <cmath>
#include <cstdint>

namespace symphony {

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform_at(uint64_t key, uint64_t index) {
  return static_cast<double>(splitmix64(key ^ splitmix64(index)) >> 11) * 0x1.0p-53;
}

// Standard normal by Box-Muller over two counter draws.
inline double normal_at(uint64_t key, uint64_t index) {
  double u1 = uniform_at(key, 2 * index);
  double u2 = uniform_at(key, 2 * index + 1);
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// Derives a key for a named stream, e.g. key_for(seed, "layers.3.mlp.up").
inline uint64_t key_for(uint64_t seed, const char* name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char* p = name; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return splitmix64(seed ^ h);
}

// A sequential generator for sampling (generation, data order).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64() { return splitmix64(state_++); }
  double next_uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

}  // namespace symphony
