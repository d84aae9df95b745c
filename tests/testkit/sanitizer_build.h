#pragma once
// Whether this test binary is the sanitizer build (tools/test.sh's second pass: clang with
// AddressSanitizer and UndefinedBehaviorSanitizer), where every step runs 5-20 times slower.
//
// The multi-rank equivalence tests train a layout and one process side by side for 16-32 steps.
// Every step runs the same code, so the steps after the first few check numerics (how far two
// summation orders drift), which the GCC pass checks in full; the sanitizer pass, there to find
// memory errors and undefined behaviour, runs the first few steps of each case and so still
// covers every layout, ZeRO stage, schedule and checkpoint path.

#include <algorithm>
#include <cstdint>

#include "core/sanitizers.h"

namespace symphony::testkit {

inline constexpr bool kSanitizerBuild = kAddressSanitizer;

// The steps of a multi-step equivalence run: `steps`, or at most `sanitizer_steps` in the
// sanitizer build.
constexpr int64_t steps_for_build(int64_t steps, int64_t sanitizer_steps = 4) {
  return kSanitizerBuild ? std::min(steps, sanitizer_steps) : steps;
}

}  // namespace symphony::testkit
