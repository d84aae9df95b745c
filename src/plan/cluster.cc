#include "plan/cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "config/toml_loader.h"

namespace symphony::plan {
namespace {

// One key of the cluster format: where it lives, and how its value is stored (a scale turns the
// file's unit into the struct's: GB/s -> bytes/s, microseconds -> seconds).
struct Key {
  std::string_view section;
  std::string_view name;
  enum Kind { kReal, kCount, kText, kTopology } kind;
  double scale = 1.0;
  std::function<void*(Cluster&)> field;
};

// Keys a cluster file must give: the ones no default could stand for. The rest (num_gpus, which
// --gpus replaces; peak_fp8_tflops, 0 meaning no fp8; the network's kind; the topology and power
// sections) have the defaults docs/plan.md lists.
constexpr std::string_view kRequiredKeys[] = {
    "cluster.gpus_per_node",       "accelerator.name",         "accelerator.peak_bf16_tflops",
    "accelerator.peak_fp32_tflops", "accelerator.memory_gib",  "accelerator.memory_bw_tb_s",
    "accelerator.power_w",         "intra_node.bandwidth_gb_s", "intra_node.latency_us",
    "network.bandwidth_gb_s",      "network.latency_us",
};

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      {"cluster", "description", Key::kText, 1, [](Cluster& c) -> void* { return &c.description; }},
      {"cluster", "num_gpus", Key::kCount, 1, [](Cluster& c) -> void* { return &c.num_gpus; }},
      {"cluster", "gpus_per_node", Key::kCount, 1,
       [](Cluster& c) -> void* { return &c.gpus_per_node; }},
      {"accelerator", "name", Key::kText, 1,
       [](Cluster& c) -> void* { return &c.accelerator.name; }},
      {"accelerator", "peak_bf16_tflops", Key::kReal, 1e12,
       [](Cluster& c) -> void* { return &c.accelerator.peak_bf16_flops; }},
      {"accelerator", "peak_fp8_tflops", Key::kReal, 1e12,
       [](Cluster& c) -> void* { return &c.accelerator.peak_fp8_flops; }},
      {"accelerator", "peak_fp32_tflops", Key::kReal, 1e12,
       [](Cluster& c) -> void* { return &c.accelerator.peak_fp32_flops; }},
      {"accelerator", "memory_gib", Key::kReal, 1024.0 * 1024 * 1024,
       [](Cluster& c) -> void* { return &c.accelerator.memory_bytes; }},
      {"accelerator", "memory_bw_tb_s", Key::kReal, 1e12,
       [](Cluster& c) -> void* { return &c.accelerator.memory_bw; }},
      {"accelerator", "power_w", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.accelerator.power_w; }},
      {"accelerator", "power_limit_w", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.accelerator.power_limit_w; }},
      {"accelerator", "clock_fraction", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.accelerator.clock_fraction; }},
      {"intra_node", "bandwidth_gb_s", Key::kReal, 1e9,
       [](Cluster& c) -> void* { return &c.intra_bw; }},
      {"intra_node", "latency_us", Key::kReal, 1e-6,
       [](Cluster& c) -> void* { return &c.intra_latency_s; }},
      {"network", "kind", Key::kText, 1, [](Cluster& c) -> void* { return &c.network; }},
      {"network", "bandwidth_gb_s", Key::kReal, 1e9,
       [](Cluster& c) -> void* { return &c.inter_bw; }},
      {"network", "latency_us", Key::kReal, 1e-6,
       [](Cluster& c) -> void* { return &c.inter_latency_s; }},
      {"topology", "kind", Key::kTopology, 1, [](Cluster& c) -> void* { return &c.topology.kind; }},
      {"topology", "group_gpus", Key::kCount, 1,
       [](Cluster& c) -> void* { return &c.topology.group_gpus; }},
      {"topology", "oversubscription", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.topology.oversubscription; }},
      {"topology", "global_bw_fraction", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.topology.global_bw_fraction; }},
      {"topology", "extra_hop_latency_us", Key::kReal, 1e-6,
       [](Cluster& c) -> void* { return &c.topology.extra_hop_latency_s; }},
      {"topology", "link_bandwidth_gb_s", Key::kReal, 1e9,
       [](Cluster& c) -> void* { return &c.topology.link_bw; }},
      {"power", "server_w_per_gpu", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.server_w_per_gpu; }},
      {"power", "pue", Key::kReal, 1, [](Cluster& c) -> void* { return &c.pue; }},
      {"power", "energy_usd_per_kwh", Key::kReal, 1,
       [](Cluster& c) -> void* { return &c.energy_usd_per_kwh; }},
      {"power", "gpu_hour_usd", Key::kReal, 1, [](Cluster& c) -> void* { return &c.gpu_hour_usd; }},
  };
  return table;
}

std::string where(std::string_view source, const toml::node& node) {
  if (node.source().begin.line == 0) return std::string(source);
  return fmt::format("{}:{}", source, node.source().begin.line);
}

Result<TopologyKind> parse_topology(std::string_view text) {
  if (text == "fat_tree") return TopologyKind::kFatTree;
  if (text == "dragonfly") return TopologyKind::kDragonfly;
  if (text == "torus3d") return TopologyKind::kTorus3d;
  return Error::invalid("'{}' is not a topology; use fat_tree, dragonfly or torus3d", text);
}

Status set_key(Cluster& c, const Key& key, const toml::node& node, std::string_view source) {
  const std::string at = where(source, node);
  void* field = key.field(c);
  switch (key.kind) {
    case Key::kReal: {
      std::optional<double> v = node.value<double>();
      if (!v) return Error::invalid("{}: {}.{} must be a number", at, key.section, key.name);
      *static_cast<double*>(field) = *v * key.scale;
      return Status::ok();
    }
    case Key::kCount: {
      std::optional<int64_t> v = node.is_integer() ? node.value<int64_t>() : std::nullopt;
      if (!v || *v < 0)
        return Error::invalid("{}: {}.{} must be a non-negative integer", at, key.section,
                              key.name);
      *static_cast<int64_t*>(field) = *v;
      return Status::ok();
    }
    case Key::kText: {
      std::optional<std::string> v = node.value<std::string>();
      if (!v) return Error::invalid("{}: {}.{} must be a string", at, key.section, key.name);
      *static_cast<std::string*>(field) = *v;
      return Status::ok();
    }
    case Key::kTopology: {
      std::optional<std::string> v = node.value<std::string>();
      if (!v) return Error::invalid("{}: {}.{} must be a string", at, key.section, key.name);
      Result<TopologyKind> kind = parse_topology(*v);
      if (!kind) return kind.error().with_context("{}: {}.{}", at, key.section, key.name);
      *static_cast<TopologyKind*>(field) = *kind;
      return Status::ok();
    }
  }
  return Status::ok();
}

Status positive(double value, std::string_view key) {
  if (!(value > 0) || !std::isfinite(value))
    return Error::invalid("{} must be positive (got {})", key, value);
  return Status::ok();
}

}  // namespace

double Accelerator::compute_scale() const {
  if (clock_fraction > 0) return clock_fraction;
  return std::cbrt(board_power_w() / power_w);
}

std::string_view topology_name(TopologyKind kind) {
  switch (kind) {
    case TopologyKind::kFatTree: return "rail-optimised fat tree";
    case TopologyKind::kDragonfly: return "dragonfly";
    case TopologyKind::kTorus3d: return "3D torus";
  }
  return "?";
}

Status Cluster::validate() const {
  if (num_gpus <= 0)
    return Error::invalid(
        "cluster.num_gpus is {}: a plan needs at least one GPU (set --gpus N or cluster.num_gpus)",
        num_gpus);
  if (num_gpus > kMaxGpus)
    return Error::invalid("cluster.num_gpus is {}: a plan covers at most 2^24 GPUs", num_gpus);
  if (gpus_per_node <= 0)
    return Error::invalid("cluster.gpus_per_node must be positive (got {})", gpus_per_node);
  if (num_gpus > gpus_per_node && num_gpus % gpus_per_node != 0)
    return Error::invalid(
        "cluster.num_gpus {} is not a whole number of {}-GPU nodes; use a multiple of {}", num_gpus,
        gpus_per_node, gpus_per_node);
  SYM_TRY(positive(accelerator.peak_bf16_flops, "accelerator.peak_bf16_tflops"));
  SYM_TRY(positive(accelerator.peak_fp32_flops, "accelerator.peak_fp32_tflops"));
  SYM_TRY(positive(accelerator.memory_bytes, "accelerator.memory_gib"));
  SYM_TRY(positive(accelerator.memory_bw, "accelerator.memory_bw_tb_s"));
  SYM_TRY(positive(accelerator.power_w, "accelerator.power_w"));
  if (accelerator.power_limit_w < 0)
    return Error::invalid("accelerator.power_limit_w must not be negative (0: power_w, no cap)");
  if (!(accelerator.clock_fraction >= 0 && accelerator.clock_fraction <= 1))
    return Error::invalid(
        "accelerator.clock_fraction must be in (0, 1] (0: derived from power_limit_w; got {})",
        accelerator.clock_fraction);
  if (accelerator.peak_fp8_flops < 0)
    return Error::invalid("accelerator.peak_fp8_tflops must not be negative");
  SYM_TRY(positive(intra_bw, "intra_node.bandwidth_gb_s"));
  SYM_TRY(positive(inter_bw, "network.bandwidth_gb_s"));
  if (intra_latency_s < 0 || inter_latency_s < 0)
    return Error::invalid("intra_node.latency_us and network.latency_us must not be negative");
  if (topology.group_gpus <= 0) return Error::invalid("topology.group_gpus must be positive");
  if (topology.oversubscription < 1.0)
    return Error::invalid("topology.oversubscription must be at least 1 (got {})",
                          topology.oversubscription);
  if (!(topology.global_bw_fraction > 0 && topology.global_bw_fraction <= 1))
    return Error::invalid("topology.global_bw_fraction must be in (0, 1] (got {})",
                          topology.global_bw_fraction);
  if (topology.kind == TopologyKind::kTorus3d)
    SYM_TRY(positive(topology.link_bw, "topology.link_bandwidth_gb_s"));
  if (server_w_per_gpu < accelerator.power_w)
    return Error::invalid("power.server_w_per_gpu ({}) must include the GPU's own {} W",
                          server_w_per_gpu, accelerator.power_w);
  if (pue < 1.0) return Error::invalid("power.pue must be at least 1 (got {})", pue);
  if (energy_usd_per_kwh < 0 || gpu_hour_usd < 0)
    return Error::invalid("power.energy_usd_per_kwh and power.gpu_hour_usd must not be negative");
  return Status::ok();
}

Result<Cluster> parse_cluster(std::string_view toml_text, std::string_view source_name) {
  SYM_TRY_ASSIGN(toml::table root, parse_toml(toml_text, source_name));
  Cluster c;
  c.name = std::string(source_name);
  std::vector<std::string> given;  // "section.key" of every key set
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    if (table == nullptr)
      return Error::invalid("{}: '{}' must be a [section]", where(source_name, section_node),
                            section);
    bool known_section = false;
    for (const Key& k : keys()) known_section |= k.section == section;
    if (!known_section)
      return Error::invalid(
          "{}: unknown section [{}]; the sections are cluster, accelerator, intra_node, network, "
          "topology, power",
          where(source_name, section_node), section);
    for (const auto& [name, node] : *table) {
      const Key* found = nullptr;
      for (const Key& k : keys())
        if (k.section == section && k.name == name.str()) found = &k;
      if (found == nullptr) {
        std::string known;
        for (const Key& k : keys())
          if (k.section == section) known += fmt::format("{}{}", known.empty() ? "" : ", ", k.name);
        return Error::invalid("{}: unknown key {}.{}; [{}] has {}", where(source_name, node),
                              section, name.str(), section, known);
      }
      SYM_TRY(set_key(c, *found, node, source_name));
      given.push_back(fmt::format("{}.{}", section, name.str()));
    }
  }
  std::vector<std::string_view> missing;
  for (std::string_view key : kRequiredKeys)
    if (std::find(given.begin(), given.end(), key) == given.end()) missing.push_back(key);
  if (!missing.empty())
    return Error::invalid("{}: {} {} missing; a cluster file must give {} (docs/plan.md)",
                          source_name, fmt::join(missing, ", "), missing.size() == 1 ? "is" : "are",
                          fmt::join(kRequiredKeys, ", "));
  if (c.server_w_per_gpu == 0) c.server_w_per_gpu = c.accelerator.power_w;
  SYM_TRY(c.validate().with_context("{}", source_name));
  return c;
}

std::vector<std::string> list_cluster_presets() {
  std::vector<std::string> names;
  for (const ClusterPreset& p : cluster_presets()) names.emplace_back(p.name);
  return names;
}

Result<Cluster> load_cluster(std::string_view preset_or_path) {
  const bool is_path =
      preset_or_path.ends_with(".toml") || preset_or_path.find('/') != std::string_view::npos;
  if (!is_path) {
    for (const ClusterPreset& p : cluster_presets())
      if (p.name == preset_or_path) return parse_cluster(p.toml_text, p.name);
    return Error::not_found("no cluster preset named '{}'; the cluster presets are: {}",
                            preset_or_path, fmt::join(list_cluster_presets(), ", "));
  }
  std::ifstream in{std::string(preset_or_path)};
  if (!in) return Error::not_found("{}: no such cluster file", preset_or_path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_cluster(text.str(), preset_or_path);
}

}  // namespace symphony::plan
