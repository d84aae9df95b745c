#pragma once
// Fp8SiteRegistry: the state of every FP8 GEMM site of a model. A site is one named GEMM of one
// layer ("layers.3.mlp.gate_proj fwd", "... dgrad", "... wgrad"), registered once at
// construction with the roles of its two operands. Per site it keeps the amax histories of
// delayed scaling, statistics of the quantized operands, the measured FP8 output error, and
// whether the site has fallen back to unquantized GEMMs. Fallbacks are also kept in order,
// with the step they happened at, for the caller to log and report as metrics.
//
// model/fp8_gemm.h runs GEMMs through a site; callers read the statistics from here.
// Thread-safety: none; one registry per model replica, used by one thread at a time.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/fp8_amax_history.h"
#include "kernels/fp8_quant.h"
#include "model/fp8_gemm_error.h"
#include "model/fp8_recipe.h"

namespace symphony {

using Fp8SiteId = int32_t;

// Statistics of one operand of a site, over its quantized calls.
struct Fp8OperandStats {
  float last_amax = 0.f;
  float max_amax = 0.f;
  double last_underflow_fraction = 0.0;  // underflow / nonzero of the last call
  int64_t nonzero = 0;                   // totals over all calls (kernels/fp8_quant.h)
  int64_t underflow = 0;
  int64_t saturated = 0;
  int64_t nan = 0;
  // underflow / nonzero over all calls; 0 without non-zero inputs.
  double underflow_fraction() const;
  void add(const Fp8QuantStats& call);
};

struct Fp8SiteState {
  Fp8SiteState(std::string site_name, Fp8Operand role_a, Fp8Operand role_b, int history_length);

  std::string name;
  Fp8Operand a;  // roles of gemm's A and B
  Fp8Operand b;
  Fp8AmaxHistory history_a;  // kDelayed only
  Fp8AmaxHistory history_b;
  Fp8OperandStats stats_a;
  Fp8OperandStats stats_b;
  int64_t calls = 0;   // quantized calls so far
  int64_t checks = 0;  // calls whose error was measured
  Fp8GemmError last_error;
  double max_error = 0.0;  // largest Fp8GemmError::worst measured
  bool fallen_back = false;
};

struct Fp8Fallback {
  std::string site;
  int64_t step = 0;  // the registry's step when it happened
  Fp8GemmError error;
  bool from_replica = false;  // measured on another replica (adopt_fallback); error unknown here
};

class Fp8SiteRegistry {
 public:
  // REQUIRES: the recipe's fields within the ranges documented in model/fp8_recipe.h.
  explicit Fp8SiteRegistry(const Fp8Recipe& recipe);

  // REQUIRES: `name` not registered yet.
  Fp8SiteId add(std::string name, Fp8Operand a, Fp8Operand b);
  std::optional<Fp8SiteId> find(std::string_view name) const;
  int size() const { return static_cast<int>(sites_.size()); }
  const Fp8SiteState& site(Fp8SiteId id) const;
  const Fp8Recipe& recipe() const { return recipe_; }

  // The training step stamped on fallbacks from now on.
  void set_step(int64_t step) { step_ = step; }
  int64_t step() const { return step_; }

  // Every fallback so far, oldest first. A caller logging them remembers how many it has seen.
  const std::vector<Fp8Fallback>& fallbacks() const { return fallbacks_; }

  // For model/fp8_gemm.h. Per quantized call: error_check_due (asked before the call is
  // recorded: true on a site's first call and every error_check_interval calls after), then
  // record_call, then, when due, record_error, which returns true when the site falls back:
  // its error's worst() exceeds the recipe's threshold (a NaN error does not).
  Fp8SiteState& mutable_site(Fp8SiteId id);
  bool error_check_due(Fp8SiteId id) const;
  void record_call(Fp8SiteId id, const Fp8QuantStats& a, const Fp8QuantStats& b);
  bool record_error(Fp8SiteId id, const Fp8GemmError& error);
  // Falls site `id` back because a replica running the same GEMM on other data did (replicas
  // must agree), recorded as such. No-op when it has fallen back already; returns whether it
  // changed anything.
  bool adopt_fallback(Fp8SiteId id);

 private:
  Fp8Recipe recipe_;
  int64_t step_ = 0;
  std::vector<Fp8SiteState> sites_;  // [site id]
  std::unordered_map<std::string, Fp8SiteId> ids_;
  std::vector<Fp8Fallback> fallbacks_;
};

}  // namespace symphony
