#include "train/fp8_training.h"

#include <algorithm>
#include <span>

#include "core/check.h"

namespace symphony {
namespace {

// Every rank's strings, in rank order, over one all_gather of lengths and one of the bytes.
Result<std::vector<std::string>> all_gather_strings(Comm& world, const std::string& mine) {
  const int n = world.size();
  const int64_t length = int64_t(mine.size());
  std::vector<int64_t> lengths(static_cast<size_t>(n));
  SYM_TRY(world.all_gather(std::span<const int64_t>(&length, 1), std::span<int64_t>(lengths)));
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<uint8_t> send(size_t(longest), 0), recv(size_t(longest) * size_t(n));
  std::copy(mine.begin(), mine.end(), send.begin());
  SYM_TRY(world.all_gather(std::span<const uint8_t>(send), std::span<uint8_t>(recv)));
  std::vector<std::string> out;
  for (int r = 0; r < n; ++r) {
    const auto* at = reinterpret_cast<const char*>(recv.data()) + size_t(r) * size_t(longest);
    out.emplace_back(at, size_t(lengths[size_t(r)]));
  }
  return out;
}

}  // namespace

Fp8Training::Fp8Training(const Fp8Recipe& recipe, const ParamStore& store, Comm& world)
    : linears_(recipe, store), world_(world) {}

Result<std::unique_ptr<Fp8Training>> Fp8Training::create(const Fp8Recipe& recipe,
                                                         const ParamStore& store, Comm& world) {
  std::unique_ptr<Fp8Training> t(new Fp8Training(recipe, store, world));
  const Fp8SiteRegistry& sites = t->linears_.sites();
  std::string mine;
  for (Fp8SiteId i = 0; i < sites.size(); ++i) mine += sites.site(i).name + '\n';
  SYM_TRY_ASSIGN(const std::vector<std::string> all, all_gather_strings(world, mine));
  for (const std::string& rank_names : all) {
    size_t begin = 0;
    for (size_t end; (end = rank_names.find('\n', begin)) != std::string::npos; begin = end + 1)
      t->names_.push_back(rank_names.substr(begin, end - begin));
  }
  std::sort(t->names_.begin(), t->names_.end());
  t->names_.erase(std::unique(t->names_.begin(), t->names_.end()), t->names_.end());
  for (Fp8SiteId i = 0; i < sites.size(); ++i) {
    const auto it = std::lower_bound(t->names_.begin(), t->names_.end(), sites.site(i).name);
    t->global_of_.push_back(int64_t(it - t->names_.begin()));
  }
  SYM_TRY(t->end_step());
  return t;
}

Exec Fp8Training::exec(const Exec& base) {
  Exec ex = base;
  ex.matmul = Precision::kBf16;
  ex.fp8 = &linears_;
  return ex;
}

Status Fp8Training::end_step() {
  const int64_t width = linears_.site_state_width();
  agreed_.assign(names_.size() * size_t(width), 0.0);
  const Fp8SiteRegistry& sites = linears_.sites();
  std::span<double> all(agreed_);
  for (Fp8SiteId i = 0; i < sites.size(); ++i)
    linears_.pack_site(i, all.subspan(size_t(global_of_[size_t(i)] * width), size_t(width)));
  if (world_.size() > 1) SYM_TRY(world_.all_reduce(all, ReduceOp::kMax));
  for (Fp8SiteId i = 0; i < sites.size(); ++i)
    linears_.unpack_site(i, all.subspan(size_t(global_of_[size_t(i)] * width), size_t(width)));
  return Status::ok();
}

nlohmann::json Fp8Training::state_json() const {
  return Fp8Linears::state_json(names_, agreed_, linears_.site_state_width());
}

Status Fp8Training::restore(const nlohmann::json& state, std::string_view source) {
  SYM_TRY(linears_.from_json(state, source));
  return end_step();
}

nlohmann::json Fp8Training::step_metrics() const {
  const Fp8Linears::Totals t = linears_.totals();
  return {{"fp8_sites_active", t.active},
          {"fp8_sites_fallen_back", t.fallen_back},
          {"fp8_max_underflow", t.max_underflow},
          {"fp8_max_error", t.max_error}};
}

}  // namespace symphony
