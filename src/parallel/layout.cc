#include "parallel/layout.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "core/checked_math.h"

namespace symphony {

namespace {
constexpr std::string_view kAxisNames[kNumAxes] = {"pp", "dp", "cp", "tp", "ep", "etp", "edp"};
constexpr Axis kDenseAxes[] = {Axis::kPipeline, Axis::kData, Axis::kContext, Axis::kTensor};

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string_view part = s.substr(start, comma == std::string_view::npos ? s.npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    parts.push_back(part);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}
}  // namespace

std::string_view axis_name(Axis axis) {
  return axis == Axis::kNone ? "none" : kAxisNames[int(axis)];
}

bool is_expert_axis(Axis axis) {
  return axis == Axis::kExpert || axis == Axis::kExpertTensor || axis == Axis::kExpertData;
}

Result<ParallelLayout> ParallelLayout::create(const ParallelConfig& config, int world_size) {
  if (world_size < 1) return Error::invalid("world size {} is not positive", world_size);
  const std::pair<const char*, int64_t> fixed[] = {
      {"pp", config.pp}, {"cp", config.cp}, {"tp", config.tp}, {"ep", config.ep},
      {"etp", config.etp}};
  for (auto [name, value] : fixed)
    if (value < 1) return Error::invalid("parallel.{} = {} must be at least 1", name, value);
  if (config.dp < 0) return Error::invalid("parallel.dp = {} is negative", config.dp);
  // No size fits beyond the world; bounded by it, the products below stay inside int64 (ep and
  // etp are bounded by the stage's ranks before they are multiplied).
  for (auto [name, value] : {std::pair{"pp", config.pp}, {"cp", config.cp}, {"tp", config.tp}})
    if (value > world_size)
      return Error::invalid("parallel.{} = {} exceeds the world of {} ranks", name, value,
                            world_size);
  if (config.dp > world_size)
    return Error::invalid("parallel.dp = {} exceeds the world of {} ranks", config.dp, world_size);
  const std::optional<int64_t> pp_cp_tp = checked_product({config.pp, config.cp, config.tp});
  if (!pp_cp_tp || *pp_cp_tp > world_size)
    return Error::invalid("parallel: pp*cp*tp = {}*{}*{} is more than the world's {} ranks",
                          config.pp, config.cp, config.tp, world_size);
  const int64_t others = *pp_cp_tp;
  int64_t dp = config.dp;
  if (dp == 0) {
    if (world_size % others != 0)
      return Error::invalid("the world has {} ranks, not a multiple of pp*cp*tp = {}", world_size,
                            others);
    dp = world_size / others;
  }
  if (dp * others != world_size)
    return Error::invalid(
        "parallel: pp*dp*cp*tp = {}*{}*{}*{} = {} but the world has {} ranks; set the sizes so "
        "their product is the number of ranks (parallel.dp = 0 takes what is left)",
        config.pp, dp, config.cp, config.tp, dp * others, world_size);
  const int64_t stage_ranks = dp * config.cp * config.tp;
  if (config.ep > stage_ranks || config.etp > stage_ranks ||
      stage_ranks % (config.ep * config.etp) != 0)
    return Error::invalid(
        "parallel.ep = {} (with parallel.etp = {}): expert parallelism is carved out of the "
        "dp*cp*tp = {} ranks of each pipeline stage, so ep * etp must divide {}",
        config.ep, config.etp, stage_ranks, stage_ranks);

  ParallelLayout layout;
  layout.world_size_ = world_size;
  layout.zero_ = config.zero_stage;
  layout.sizes_[int(Axis::kPipeline)] = int(config.pp);
  layout.sizes_[int(Axis::kData)] = int(dp);
  layout.sizes_[int(Axis::kContext)] = int(config.cp);
  layout.sizes_[int(Axis::kTensor)] = int(config.tp);
  layout.sizes_[int(Axis::kExpert)] = int(config.ep);
  layout.sizes_[int(Axis::kExpertTensor)] = int(config.etp);
  layout.sizes_[int(Axis::kExpertData)] = int(stage_ranks / (config.ep * config.etp));

  std::vector<std::string_view> names = split_commas(config.order);
  std::array<bool, kNumAxes> seen{};
  if (std::find(names.begin(), names.end(), "ep") != names.end())
    return Error::invalid("parallel.order = '{}' names ep: expert parallelism is not a separate "
                          "world axis but folded over dp, cp and tp (docs/parallel.md); list the "
                          "dense axes pp, dp, cp, tp, innermost first, e.g. 'tp,cp,dp,pp'",
                          config.order);
  if (names.size() != 4)
    return Error::invalid("parallel.order = '{}' must list the four axes pp, dp, cp, tp, "
                          "innermost first, e.g. 'tp,cp,dp,pp'", config.order);
  int stride = 1, stage_stride = 1;
  for (std::string_view name : names) {
    auto it = std::find(std::begin(kAxisNames), std::begin(kAxisNames) + 4, name);
    if (it == std::begin(kAxisNames) + 4)
      return Error::invalid("parallel.order = '{}': unknown axis '{}'; axes are pp, dp, cp, tp",
                            config.order, name);
    const int a = int(it - std::begin(kAxisNames));
    if (seen[a])
      return Error::invalid("parallel.order = '{}' names axis '{}' twice", config.order, name);
    seen[a] = true;
    layout.strides_[a] = stride;
    stride *= layout.sizes_[a];
    if (Axis(a) != Axis::kPipeline) {
      layout.stage_strides_[a] = stage_stride;
      stage_stride *= layout.sizes_[a];
    }
  }
  return layout;
}

int ParallelLayout::stage_position(const std::array<int, kNumAxes>& c) const {
  int position = 0;
  for (Axis a : kDenseAxes)
    if (a != Axis::kPipeline) position += c[int(a)] * stage_strides_[int(a)];
  return position;
}

std::array<int, kNumAxes> ParallelLayout::coords(int rank) const {
  std::array<int, kNumAxes> c{};
  for (Axis a : kDenseAxes) c[int(a)] = (rank / strides_[int(a)]) % sizes_[int(a)];
  // Expert axes over the stage's ranks: etp fastest, then ep, then edp.
  const int inner = stage_position(c);
  const int etp = sizes_[int(Axis::kExpertTensor)], ep = sizes_[int(Axis::kExpert)];
  c[int(Axis::kExpertTensor)] = inner % etp;
  c[int(Axis::kExpert)] = (inner / etp) % ep;
  c[int(Axis::kExpertData)] = inner / (etp * ep);
  return c;
}

int ParallelLayout::rank_of_dense(const std::array<int, kNumAxes>& c) const {
  int rank = 0;
  for (Axis a : kDenseAxes) rank += c[int(a)] * strides_[int(a)];
  return rank;
}

std::vector<int> ParallelLayout::group_ranks(std::span<const Axis> axes, int rank) const {
  bool dense = false, expert = false;
  for (Axis axis : axes) {
    SYM_CHECK(axis != Axis::kNone, "group over axis none");
    if (is_expert_axis(axis)) expert = true;
    else if (axis != Axis::kPipeline) dense = true;
  }
  SYM_CHECK(!(dense && expert), "a group mixes dense and expert axes");
  std::array<int, kNumAxes> base = coords(rank);
  int group_size = 1;
  for (Axis axis : axes) group_size *= sizes_[int(axis)];
  std::vector<int> ranks;
  ranks.reserve(size_t(group_size));
  const int etp = sizes_[int(Axis::kExpertTensor)], ep = sizes_[int(Axis::kExpert)];
  for (int g = 0; g < group_size; ++g) {
    std::array<int, kNumAxes> c = base;
    int rest = g;
    for (Axis axis : axes) {
      c[int(axis)] = rest % sizes_[int(axis)];
      rest /= sizes_[int(axis)];
    }
    if (expert) {
      // Back from expert coordinates to the stage position, then to the dense coordinates.
      const int inner = c[int(Axis::kExpertTensor)] +
                        etp * (c[int(Axis::kExpert)] + ep * c[int(Axis::kExpertData)]);
      for (Axis a : kDenseAxes)
        if (a != Axis::kPipeline) c[int(a)] = (inner / stage_strides_[int(a)]) % sizes_[int(a)];
    }
    ranks.push_back(rank_of_dense(c));
  }
  return ranks;
}

int ParallelLayout::group_rank(std::span<const Axis> axes, int rank) const {
  const std::array<int, kNumAxes> c = coords(rank);
  int position = 0, scale = 1;
  for (Axis axis : axes) {
    position += c[int(axis)] * scale;
    scale *= sizes_[int(axis)];
  }
  return position;
}

std::string ParallelLayout::describe() const {
  std::string out;
  for (int a = 0; a < kNumAxes; ++a) {
    if (sizes_[a] == 1 || Axis(a) == Axis::kExpertData) continue;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", kAxisNames[a], sizes_[a]);
  }
  if (out.empty()) out = "single process";
  if (zero_ != ZeroStage::kNone) out += fmt::format(" zero={}", int(zero_));
  return out;
}

}  // namespace symphony
