#include "model/fp8_sites.h"

#include <algorithm>
#include <utility>

#include "core/check.h"

namespace symphony {

double Fp8OperandStats::underflow_fraction() const {
  return nonzero == 0 ? 0.0 : double(underflow) / double(nonzero);
}

void Fp8OperandStats::add(const Fp8QuantStats& call) {
  last_amax = call.amax;
  max_amax = std::max(max_amax, call.amax);
  last_underflow_fraction = call.nonzero == 0 ? 0.0 : double(call.underflow) / double(call.nonzero);
  nonzero += call.nonzero;
  underflow += call.underflow;
  saturated += call.saturated;
  nan += call.nan;
}

Fp8SiteState::Fp8SiteState(std::string site_name, Fp8Operand role_a, Fp8Operand role_b,
                           int history_length)
    : name(std::move(site_name)),
      a(role_a),
      b(role_b),
      history_a(history_length),
      history_b(history_length) {}

Fp8SiteRegistry::Fp8SiteRegistry(const Fp8Recipe& recipe) : recipe_(recipe) {
  SYM_CHECK(recipe.block_size >= 1, "fp8 recipe: block_size {} < 1", recipe.block_size);
  SYM_CHECK(recipe.amax_history_length >= 1, "fp8 recipe: amax_history_length {} < 1",
            recipe.amax_history_length);
  SYM_CHECK(recipe.error_threshold > 0.0, "fp8 recipe: error_threshold {} <= 0",
            recipe.error_threshold);
  SYM_CHECK(recipe.error_check_interval >= 1, "fp8 recipe: error_check_interval {} < 1",
            recipe.error_check_interval);
}

Fp8SiteId Fp8SiteRegistry::add(std::string name, Fp8Operand a, Fp8Operand b) {
  SYM_CHECK(!ids_.contains(name), "fp8 site '{}' registered twice", name);
  const Fp8SiteId id = static_cast<Fp8SiteId>(sites_.size());
  ids_.emplace(name, id);
  sites_.emplace_back(std::move(name), a, b, recipe_.amax_history_length);
  return id;
}

std::optional<Fp8SiteId> Fp8SiteRegistry::find(std::string_view name) const {
  const auto it = ids_.find(std::string(name));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const Fp8SiteState& Fp8SiteRegistry::site(Fp8SiteId id) const {
  SYM_CHECK(id >= 0 && id < size(), "fp8 site id {} of {}", id, size());
  return sites_[size_t(id)];
}

Fp8SiteState& Fp8SiteRegistry::mutable_site(Fp8SiteId id) {
  SYM_CHECK(id >= 0 && id < size(), "fp8 site id {} of {}", id, size());
  return sites_[size_t(id)];
}

bool Fp8SiteRegistry::error_check_due(Fp8SiteId id) const {
  return site(id).calls % recipe_.error_check_interval == 0;
}

void Fp8SiteRegistry::record_call(Fp8SiteId id, const Fp8QuantStats& a, const Fp8QuantStats& b) {
  Fp8SiteState& s = mutable_site(id);
  s.stats_a.add(a);
  s.stats_b.add(b);
  ++s.calls;
}

bool Fp8SiteRegistry::adopt_fallback(Fp8SiteId id) {
  Fp8SiteState& s = mutable_site(id);
  if (s.fallen_back) return false;
  s.fallen_back = true;
  fallbacks_.push_back({s.name, step_, {}, true});
  return true;
}

bool Fp8SiteRegistry::record_error(Fp8SiteId id, const Fp8GemmError& error) {
  Fp8SiteState& s = mutable_site(id);
  ++s.checks;
  s.last_error = error;
  const double worst = error.worst();
  if (worst > s.max_error) s.max_error = worst;
  // A NaN error comes from NaN inputs, which the unquantized GEMM would propagate as well:
  // falling back would not help, so only a measured excess counts.
  if (!(worst > recipe_.error_threshold) || s.fallen_back) return false;
  s.fallen_back = true;
  fallbacks_.push_back({s.name, step_, error});
  return true;
}

}  // namespace symphony
