#pragma once
// Activation recomputation: which forward activations a layer keeps for its backward and which
// the backward computes again. One enum for the run config (train.recompute), the model and the
// planner; its TOML and --layout spellings are those of recompute_name().

#include <cstdint>
#include <optional>
#include <string_view>

namespace symphony {

enum class Recompute : uint8_t {
  kNone,       // every layer keeps all its saved activations
  kSelective,  // norms and activation functions are recomputed; their outputs are not saved.
               // Planned by `symphony plan`; the CPU engine trains with kNone or kFull only.
  kFull,       // only each layer's input is saved; the forward runs again in the backward
};

inline constexpr Recompute kRecomputeValues[] = {Recompute::kNone, Recompute::kSelective,
                                                 Recompute::kFull};

// "none", "selective", "full".
constexpr std::string_view recompute_name(Recompute recompute) {
  switch (recompute) {
    case Recompute::kNone: return "none";
    case Recompute::kSelective: return "selective";
    case Recompute::kFull: return "full";
  }
  return "?";
}

// The inverse of recompute_name; std::nullopt for any other text.
constexpr std::optional<Recompute> parse_recompute(std::string_view name) {
  for (Recompute r : kRecomputeValues)
    if (recompute_name(r) == name) return r;
  return std::nullopt;
}

}  // namespace symphony
