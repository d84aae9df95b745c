#pragma once
// Fp8Linears: the linear layers of one model replica (model/linear.h) as simulated FP8 GEMMs
// (model/fp8_gemm.h), for train.precision = "fp8". Every matrix parameter has three GEMM sites:
//   "<name> fwd"    y = x W^T      activation x weight
//   "<name> dgrad"  dx = dy W      gradient x weight
//   "<name> wgrad"  dW += dy^T x   gradient x activation
// A linear finds its parameter from the address of the weight (or weight-gradient) view it is
// given (ParamStore::weight_at / grad_at), so modules call linear_forward & co. unchanged under
// every ZeRO stage. GEMMs that are not a parameter's linear layer (attention scores and values,
// the LM head's fused loss, the router's scores) never come here and run in BF16, as in
// DeepSeek-V3's FP8 recipe; so does every GEMM of a site that has fallen back.
//
// Ranks running a site (data-parallel replicas, tensor-parallel shards, expert shards) agree on
// its state after every step (pack_site / unpack_site, train/fp8_training.h): a site falls back
// on all of them when it fell back on one, and delayed scaling's amax windows take their
// element-wise max, as Transformer Engine reduces amaxes over its groups. The state a resume
// needs (fallbacks, call counts, amax windows) goes into checkpoints as JSON.
// Thread-safety: none; one per model replica, used by its training thread.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/fp8_gemm.h"
#include "model/fp8_sites.h"
#include "model/param_store.h"

namespace symphony {

class Fp8Linears {
 public:
  // Registers the sites of every parameter of 2 or more dims, in id order (so replicas holding
  // the same parameters have the same sites). `store` must outlive this.
  Fp8Linears(const Fp8Recipe& recipe, const ParamStore& store);

  // model/linear.h's three maps. `ex` runs the unquantized GEMMs; ex.fp8 is ignored.
  void forward(const Exec& ex, ConstView x, ConstView w, View y);
  void backward_input(const Exec& ex, ConstView w, ConstView dy, View dx, double beta);
  void backward_weight(const Exec& ex, ConstView x, ConstView dy, View dw);

  // Allocates the GEMM workspace at `size` (memory_plan.h: fp8_gemm_workspace_plan), so that no
  // step allocates; a GEMM needing more grows it (the plan would then be wrong).
  void reserve_workspace(const Fp8GemmWorkspaceSize& size);
  // The workspace's regions as held now (zero before the first quantized GEMM or reservation).
  Fp8GemmWorkspaceSize workspace_size() const {
    return workspace_ ? workspace_->size() : Fp8GemmWorkspaceSize{};
  }

  Fp8SiteRegistry& sites() { return sites_; }
  const Fp8SiteRegistry& sites() const { return sites_; }
  // Stamped on fallbacks from now on (steps completed before the current one + 1).
  void set_step(int64_t step) { sites_.set_step(step); }
  // Fallbacks recorded since the last call, for the log and metrics.
  std::vector<Fp8Fallback> take_new_fallbacks();

  // A site's state as numbers, for ranks to agree on it: an element-wise max over the ranks
  // running the site (model/fp8_gemm.h records the same calls on each) gives the state every one
  // of them adopts. Layout: fallen back (0/1), calls, then per operand (A, B) the amax window's
  // next slot, values held and slots.
  int64_t site_state_width() const;
  void pack_site(Fp8SiteId id, std::span<double> out) const;
  // A site that falls back here through the state is recorded as a replica's fallback.
  void unpack_site(Fp8SiteId id, std::span<const double> in);

  // {"sites": {name: {calls, fallen_back, amax: [{slots, next, size}, {...}]}}} for sites that
  // ran or fell back; state_json() builds the same from packed states of any sites.
  nlohmann::json to_json() const;
  // Restores the sites named in `state`; names this replica has no site for (another pipeline
  // stage's) are skipped. Failure: kCorrupt naming `source` and the site for a wrong window
  // length or a malformed value.
  Status from_json(const nlohmann::json& state, std::string_view source);

  // The JSON of to_json() for sites `names`, each with `width` = site_state_width() numbers in
  // `packed` (names.size() * width).
  static nlohmann::json state_json(std::span<const std::string> names,
                                   std::span<const double> packed, int64_t width);

  // Per-site figures for metrics: {site, calls, amax_a, amax_b, underflow_a, underflow_b,
  // max_error, fallen_back} for every site that ran.
  nlohmann::json summary() const;
  // Sites that ran quantized, have fallen back, the largest underflow fraction of any operand's
  // last call and the largest error measured last, over the sites still quantized.
  struct Totals {
    int active = 0, fallen_back = 0;
    double max_underflow = 0, max_error = 0;
  };
  Totals totals() const;

 private:
  enum Kind : int { kFwd = 0, kDgrad = 1, kWgrad = 2 };
  // The site of `kind` for the parameter holding `p`, or -1 when `p` is no matrix parameter's.
  Fp8SiteId site_of(ParamId id, Kind kind) const;
  void run(const Exec& ex, Fp8SiteId site, Trans ta, Trans tb, ConstView a, ConstView b,
           double beta, View c);

  const ParamStore& store_;
  Fp8SiteRegistry sites_;
  std::vector<Fp8SiteId> first_site_;  // [ParamId] -> its fwd site, or -1
  std::unique_ptr<Fp8GemmWorkspace> workspace_;
  size_t fallbacks_seen_ = 0;
};

}  // namespace symphony
