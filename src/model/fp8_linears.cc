#include "model/fp8_linears.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "core/check.h"

namespace symphony {
namespace {

// The unquantized GEMMs of a site that has fallen back, and of GEMMs outside the sites, run as
// the caller's Exec says (BF16 under train.precision = "fp8"); the GEMM of quantized operands
// runs in fp32, which holds their products exactly as an FP8 tensor core does.
Exec plain_exec(const Exec& ex) { return ex.with_matmul(ex.matmul); }
Exec quantized_exec(const Exec& ex) { return ex.with_matmul(Precision::kFp32); }

}  // namespace

Fp8Linears::Fp8Linears(const Fp8Recipe& recipe, const ParamStore& store)
    : store_(store), sites_(recipe), first_site_(store.infos().size(), -1) {
  for (size_t id = 0; id < store.infos().size(); ++id) {
    const ParamInfo& p = store.infos()[id];
    if (p.shape.ndim < 2) continue;
    first_site_[id] = sites_.add(p.name + " fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
    sites_.add(p.name + " dgrad", Fp8Operand::kGradient, Fp8Operand::kWeight);
    sites_.add(p.name + " wgrad", Fp8Operand::kGradient, Fp8Operand::kActivation);
  }
}

Fp8SiteId Fp8Linears::site_of(ParamId id, Kind kind) const {
  if (id < 0 || first_site_[size_t(id)] < 0) return -1;
  return first_site_[size_t(id)] + kind;
}

void Fp8Linears::run(const Exec& ex, Fp8SiteId site, Trans ta, Trans tb, ConstView a,
                     ConstView b, double beta, View c) {
  if (site < 0 || sites_.site(site).fallen_back)
    return gemm(plain_exec(ex), ta, tb, 1.0, a, b, beta, c);
  const Fp8SiteState& s = sites_.site(site);
  const Fp8GemmWorkspaceSize need =
      fp8_gemm_workspace_size(sites_.recipe(), s.a, s.b, ta, tb, a.shape(), b.shape());
  Fp8GemmWorkspaceSize size = workspace_ ? workspace_->size() : Fp8GemmWorkspaceSize{};
  size.include(need);
  if (!workspace_ || size.bytes() != workspace_->size().bytes())
    workspace_ = std::make_unique<Fp8GemmWorkspace>(size);
  fp8_gemm(quantized_exec(ex), sites_, site, *workspace_, ta, tb, 1.0, a, b, beta, c);
}

void Fp8Linears::reserve_workspace(const Fp8GemmWorkspaceSize& size) {
  workspace_ = std::make_unique<Fp8GemmWorkspace>(size);
}

void Fp8Linears::forward(const Exec& ex, ConstView x, ConstView w, View y) {
  run(ex, site_of(store_.weight_at(w.raw()), kFwd), Trans::kNo, Trans::kYes, x, w, 0.0, y);
}

void Fp8Linears::backward_input(const Exec& ex, ConstView w, ConstView dy, View dx, double beta) {
  run(ex, site_of(store_.weight_at(w.raw()), kDgrad), Trans::kNo, Trans::kNo, dy, w, beta, dx);
}

void Fp8Linears::backward_weight(const Exec& ex, ConstView x, ConstView dy, View dw) {
  run(ex, site_of(store_.grad_at(dw.raw()), kWgrad), Trans::kYes, Trans::kNo, dy, x, 1.0, dw);
}

std::vector<Fp8Fallback> Fp8Linears::take_new_fallbacks() {
  const std::vector<Fp8Fallback>& all = sites_.fallbacks();
  std::vector<Fp8Fallback> fresh(all.begin() + long(fallbacks_seen_), all.end());
  fallbacks_seen_ = all.size();
  return fresh;
}

int64_t Fp8Linears::site_state_width() const {
  return 6 + 2 * int64_t(sites_.recipe().amax_history_length);
}

void Fp8Linears::pack_site(Fp8SiteId id, std::span<double> out) const {
  SYM_CHECK(int64_t(out.size()) == site_state_width(), "fp8 site state of {} numbers",
            out.size());
  const Fp8SiteState& s = sites_.site(id);
  out[0] = s.fallen_back ? 1 : 0;
  out[1] = double(s.calls);
  size_t at = 2;
  for (const Fp8AmaxHistory* h : {&s.history_a, &s.history_b}) {
    out[at++] = h->next();
    out[at++] = h->size();
    for (float v : h->slots()) out[at++] = v;
  }
}

void Fp8Linears::unpack_site(Fp8SiteId id, std::span<const double> in) {
  SYM_CHECK(int64_t(in.size()) == site_state_width(), "fp8 site state of {} numbers", in.size());
  if (in[0] != 0) sites_.adopt_fallback(id);
  Fp8SiteState& s = sites_.mutable_site(id);
  s.calls = int64_t(in[1]);
  size_t at = 2;
  for (Fp8AmaxHistory* h : {&s.history_a, &s.history_b}) {
    const int next = int(in[at]), size = int(in[at + 1]);
    at += 2;
    std::vector<float> slots(size_t(h->length()));
    for (float& v : slots) v = float(in[at++]);
    h->restore(slots, next, size);
  }
}

nlohmann::json Fp8Linears::state_json(std::span<const std::string> names,
                                      std::span<const double> packed, int64_t width) {
  SYM_CHECK(int64_t(packed.size()) == int64_t(names.size()) * width,
            "fp8 state: {} numbers for {} sites of {}", packed.size(), names.size(), width);
  const int64_t length = (width - 6) / 2;
  nlohmann::json sites = nlohmann::json::object();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::span<const double> s = packed.subspan(i * size_t(width), size_t(width));
    if (s[0] == 0 && s[1] == 0) continue;
    nlohmann::json histories = nlohmann::json::array();
    for (int64_t k = 0; k < 2; ++k) {
      const size_t at = 2 + size_t(k * (2 + length));
      std::vector<float> slots;
      for (int64_t j = 0; j < length; ++j) slots.push_back(float(s[at + 2 + size_t(j)]));
      histories.push_back(
          {{"slots", slots}, {"next", int64_t(s[at])}, {"size", int64_t(s[at + 1])}});
    }
    sites[names[i]] = {
        {"calls", int64_t(s[1])}, {"fallen_back", s[0] != 0}, {"amax", histories}};
  }
  return {{"sites", sites}};
}

nlohmann::json Fp8Linears::to_json() const {
  std::vector<std::string> names;
  std::vector<double> packed;
  const int64_t width = site_state_width();
  for (Fp8SiteId i = 0; i < sites_.size(); ++i) {
    names.push_back(sites_.site(i).name);
    packed.resize(packed.size() + size_t(width));
    pack_site(i, std::span<double>(packed).last(size_t(width)));
  }
  return state_json(names, packed, width);
}

Status Fp8Linears::from_json(const nlohmann::json& state, std::string_view source) {
  auto bad = [&](const std::string& site, const std::string& what) {
    return Error::corrupt("{}: fp8 state{}: {}", source,
                          site.empty() ? "" : fmt::format(" of site `{}`", site), what);
  };
  if (!state.is_object() || !state.contains("sites") || !state["sites"].is_object())
    return bad("", "expected an object with `sites`");
  for (const auto& item : state["sites"].items()) {
    const std::string name = item.key();
    const nlohmann::json& v = item.value();
    const std::optional<Fp8SiteId> id = sites_.find(name);
    if (!id) continue;
    auto integer = [&](const nlohmann::json& obj, const char* key, int64_t lo,
                       int64_t hi) -> Result<int64_t> {
      if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer() ||
          obj[key].get<int64_t>() < lo || obj[key].get<int64_t>() > hi)
        return bad(name, fmt::format("`{}` must be an integer in [{}, {}]", key, lo, hi));
      return obj[key].get<int64_t>();
    };
    SYM_TRY_ASSIGN(const int64_t calls, integer(v, "calls", 0, int64_t(1) << 53));
    if (!v.contains("fallen_back") || !v["fallen_back"].is_boolean())
      return bad(name, "`fallen_back` must be true or false");
    if (!v.contains("amax") || !v["amax"].is_array() || v["amax"].size() != 2)
      return bad(name, "`amax` must hold 2 windows");
    Fp8SiteState& s = sites_.mutable_site(*id);
    Fp8AmaxHistory* histories[] = {&s.history_a, &s.history_b};
    for (size_t k = 0; k < 2; ++k) {
      const nlohmann::json& h = v["amax"][k];
      const int length = histories[k]->length();
      SYM_TRY_ASSIGN(const int64_t next, integer(h, "next", 0, length - 1));
      SYM_TRY_ASSIGN(const int64_t size, integer(h, "size", 0, length));
      std::vector<float> slots;
      const bool slots_ok = h.contains("slots") && h["slots"].is_array() &&
                            int64_t(h["slots"].size()) == length &&
                            std::all_of(h["slots"].begin(), h["slots"].end(), [](const auto& x) {
                              return x.is_number() && x.template get<double>() >= 0 &&
                                     std::isfinite(x.template get<double>());
                            });
      if (!slots_ok)
        return bad(name, fmt::format("amax window {} must hold {} finite non-negative values", k,
                                     length));
      for (const auto& x : h["slots"]) slots.push_back(x.get<float>());
      histories[k]->restore(slots, int(next), int(size));
    }
    s.calls = calls;
    if (v["fallen_back"].get<bool>()) s.fallen_back = true;
  }
  return Status::ok();
}

nlohmann::json Fp8Linears::summary() const {
  nlohmann::json rows = nlohmann::json::array();
  for (Fp8SiteId i = 0; i < sites_.size(); ++i) {
    const Fp8SiteState& s = sites_.site(i);
    if (s.calls == 0) continue;
    rows.push_back({{"site", s.name},
                    {"calls", s.calls},
                    {"amax_a", s.stats_a.max_amax},
                    {"amax_b", s.stats_b.max_amax},
                    {"underflow_a", s.stats_a.underflow_fraction()},
                    {"underflow_b", s.stats_b.underflow_fraction()},
                    {"max_error", s.max_error},
                    {"fallen_back", s.fallen_back}});
  }
  return rows;
}

Fp8Linears::Totals Fp8Linears::totals() const {
  Totals t;
  for (Fp8SiteId i = 0; i < sites_.size(); ++i) {
    const Fp8SiteState& s = sites_.site(i);
    if (s.fallen_back) {
      ++t.fallen_back;
      continue;
    }
    if (s.calls == 0) continue;
    ++t.active;
    t.max_underflow = std::max({t.max_underflow, s.stats_a.last_underflow_fraction,
                                s.stats_b.last_underflow_fraction});
    if (s.checks > 0) t.max_error = std::max(t.max_error, s.last_error.worst());
  }
  return t;
}

}  // namespace symphony
