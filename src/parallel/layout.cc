#include "parallel/layout.h"

#include <fmt/format.h>

#include <algorithm>

namespace symphony {

namespace {
constexpr std::string_view kAxisNames[kNumAxes] = {"pp", "dp", "cp", "ep", "tp"};

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

std::string_view axis_name(Axis axis) { return kAxisNames[int(axis)]; }

Result<ParallelLayout> ParallelLayout::create(const ParallelConfig& config, int world_size) {
  if (world_size < 1) return Error::invalid("world size {} is not positive", world_size);
  const int64_t given[kNumAxes] = {config.pp, config.dp, config.cp, config.ep, config.tp};
  int64_t others = 1;
  for (int a = 0; a < kNumAxes; ++a) {
    if (Axis(a) == Axis::kData) {
      if (given[a] < 0) return Error::invalid("parallel.dp = {} is negative", given[a]);
      continue;
    }
    if (given[a] < 1)
      return Error::invalid("parallel.{} = {} must be at least 1", kAxisNames[a], given[a]);
    others *= given[a];
  }
  int64_t dp = config.dp;
  if (dp == 0) {
    if (world_size % others != 0)
      return Error::invalid("the world has {} ranks, not a multiple of pp*cp*ep*tp = {}",
                            world_size, others);
    dp = world_size / others;
  }
  if (dp * others != world_size)
    return Error::invalid(
        "parallel: pp*dp*cp*ep*tp = {}*{}*{}*{}*{} = {} but the world has {} ranks; set the "
        "sizes so their product is the number of ranks (parallel.dp = 0 takes what is left)",
        config.pp, dp, config.cp, config.ep, config.tp, dp * others, world_size);
  if (config.zero_stage < 0 || config.zero_stage > 3)
    return Error::invalid("parallel.zero_stage = {} is not one of 0, 1, 2, 3", config.zero_stage);

  ParallelLayout layout;
  layout.world_size_ = world_size;
  layout.zero_ = ZeroStage(config.zero_stage);
  for (int a = 0; a < kNumAxes; ++a) layout.sizes_[a] = int(Axis(a) == Axis::kData ? dp : given[a]);

  std::vector<std::string_view> names = split_commas(config.order);
  std::array<bool, kNumAxes> seen{};
  if (names.size() != size_t(kNumAxes))
    return Error::invalid("parallel.order = '{}' must list the five axes pp, dp, cp, ep, tp, "
                          "innermost first, e.g. 'tp,cp,ep,dp,pp'", config.order);
  int stride = 1;
  for (std::string_view name : names) {
    auto it = std::find(std::begin(kAxisNames), std::end(kAxisNames), name);
    if (it == std::end(kAxisNames))
      return Error::invalid("parallel.order = '{}': unknown axis '{}'; axes are pp, dp, cp, ep, tp",
                            config.order, name);
    const int a = int(it - std::begin(kAxisNames));
    if (seen[a])
      return Error::invalid("parallel.order = '{}' names axis '{}' twice", config.order, name);
    seen[a] = true;
    layout.strides_[a] = stride;
    stride *= layout.sizes_[a];
  }
  return layout;
}

std::array<int, kNumAxes> ParallelLayout::coords(int rank) const {
  std::array<int, kNumAxes> c{};
  for (int a = 0; a < kNumAxes; ++a) c[a] = (rank / strides_[a]) % sizes_[a];
  return c;
}

int ParallelLayout::rank_of(const std::array<int, kNumAxes>& c) const {
  int rank = 0;
  for (int a = 0; a < kNumAxes; ++a) rank += c[a] * strides_[a];
  return rank;
}

std::vector<int> ParallelLayout::group_ranks(std::span<const Axis> axes, int rank) const {
  std::array<int, kNumAxes> base = coords(rank);
  int group_size = 1;
  for (Axis axis : axes) {
    base[int(axis)] = 0;
    group_size *= sizes_[int(axis)];
  }
  std::vector<int> ranks;
  ranks.reserve(size_t(group_size));
  for (int g = 0; g < group_size; ++g) {
    std::array<int, kNumAxes> c = base;
    int rest = g;
    for (Axis axis : axes) {
      c[int(axis)] = rest % sizes_[int(axis)];
      rest /= sizes_[int(axis)];
    }
    ranks.push_back(rank_of(c));
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
    if (sizes_[a] == 1) continue;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", kAxisNames[a], sizes_[a]);
  }
  if (out.empty()) out = "single process";
  if (zero_ != ZeroStage::kNone) out += fmt::format(" zero={}", int(zero_));
  return out;
}

}  // namespace symphony
