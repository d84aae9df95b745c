#pragma once
// Precision of a run's matrix multiplies. Weights, gradients, optimizer state and every other op
// (norms, softmax, loss, router scores, attention's own products) stay fp32 in all three; below
// fp32 the activations saved for the backward pass (attention, SwiGLU, MoE rows) are kept in
// bf16 (saved_activations_for, model/act_stash.h):
//   kFp32  fp32 GEMMs
//   kBf16  GEMM inputs rounded to bf16 (round to nearest even), fp32 accumulation and output
//   kFp8   fp8 GEMM inputs with per-tensor scales, fp32 accumulation and output (planner-modelled)

#include <cstdint>
#include <optional>
#include <string_view>

namespace symphony {

enum class Precision : uint8_t { kFp32, kBf16, kFp8 };

// "fp32", "bf16", "fp8": the names configs and reports use.
constexpr std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kBf16: return "bf16";
    case Precision::kFp8: return "fp8";
  }
  return "?";
}

// The precision named `name` (exactly as precision_name() writes it), or nullopt.
constexpr std::optional<Precision> parse_precision(std::string_view name) {
  for (Precision p : {Precision::kFp32, Precision::kBf16, Precision::kFp8})
    if (precision_name(p) == name) return p;
  return std::nullopt;
}

// The precision a run of `training` keeps its saved activations in: bf16 when its GEMMs run
// below fp32 (they read bf16-rounded inputs anyway), else fp32.
constexpr Precision saved_activations_for(Precision training) {
  return training == Precision::kFp32 ? Precision::kFp32 : Precision::kBf16;
}

}  // namespace symphony
