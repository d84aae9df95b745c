#pragma once
// Fp8Training: train.precision = "fp8" on one rank. It owns the rank's FP8 linear layers
// (model/fp8_linears.h) and makes the ranks agree on them: at construction every rank learns the
// names of all sites of the job (its own and other pipeline stages'), and after every step one
// all-reduce (max) over the world of every site's packed state leaves each site with the same
// fallbacks, call counts and amax windows on every rank that runs it. Ranks running a site on
// other data or other shards (data, tensor, expert parallelism) thus fall back together, and any
// rank holds the state of the whole job for a checkpoint.
// Thread-safety: none; the training thread's.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/fp8_linears.h"
#include "parallel/comm.h"
#include "tensor/exec.h"

namespace symphony {

class Fp8Training {
 public:
  // Collective over `world`. `store` must outlive the result.
  static Result<std::unique_ptr<Fp8Training>> create(const Fp8Recipe& recipe,
                                                     const ParamStore& store, Comm& world);

  // `base` with its linear layers in FP8 and its other GEMMs in BF16.
  Exec exec(const Exec& base);
  // Stamps fallbacks with `step` (the step being trained, counted from 1).
  void begin_step(int64_t step) { linears_.set_step(step); }
  // Fp8Linears::reserve_workspace.
  void reserve_workspace(const Fp8GemmWorkspaceSize& size) { linears_.reserve_workspace(size); }
  // Collective: the ranks agree on every site's state.
  Status end_step();
  // Fallbacks since the last call (this rank's sites, its own or adopted).
  std::vector<Fp8Fallback> take_new_fallbacks() { return linears_.take_new_fallbacks(); }
  // The job's state at the last agreement, for a checkpoint manifest (the same on every rank).
  nlohmann::json state_json() const;
  // Restores this rank's sites from a checkpoint's state (sites it lacks are skipped), then
  // agrees with the other ranks. Collective. Failure: kCorrupt naming `source`.
  Status restore(const nlohmann::json& state, std::string_view source);
  // {fp8_sites_active, fp8_sites_fallen_back, fp8_max_underflow, fp8_max_error} of this rank.
  nlohmann::json step_metrics() const;
  // Per-site figures of this rank (Fp8Linears::summary).
  nlohmann::json sites_summary() const { return linears_.summary(); }

 private:
  Fp8Training(const Fp8Recipe& recipe, const ParamStore& store, Comm& world);

  Fp8Linears linears_;
  Comm& world_;
  std::vector<std::string> names_;       // every site of the job, sorted
  std::vector<int64_t> global_of_;       // [local site] -> index in names_
  std::vector<double> agreed_;           // names_.size() * width, after the last end_step
};

}  // namespace symphony
