#pragma once
// The hardware a plan runs on: an accelerator, how many of them sit in a node and how the node
// connects them, the network between nodes and its topology, and the power and prices that turn
// time into energy and money. Loaded from a cluster preset (src/plan/cluster_presets.cc) or a
// TOML file with the same keys; docs/plan.md lists every key with its unit.
//
// Bandwidths are bytes/s in one direction per GPU (NVLink's "900 GB/s" bidirectional is 450e9
// here); FLOP/s are dense (no 2:4 sparsity); latencies are seconds.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace symphony::plan {

struct Accelerator {
  std::string name;            // "H100 SXM 80GB"
  double peak_bf16_flops = 0;  // dense bf16/fp16 tensor-core FLOP/s
  double peak_fp8_flops = 0;   // 0 when the accelerator has no fp8 tensor cores
  double peak_fp32_flops = 0;  // the fp32 GEMM rate the engine's fp32 path would get (TF32)
  double memory_bytes = 0;     // HBM capacity
  double memory_bw = 0;        // HBM bytes/s
  double power_w = 0;          // board power (TDP) the datasheet FLOP/s are quoted at
  // A power-capped SKU (an H100 run at 500 W) or a clock-locked one: the board power enforced
  // (0: power_w) and the sustained tensor-core clock over the datasheet's (0: derived from the
  // cap as (cap / power_w)^(1/3), dynamic power growing with the cube of the clock when voltage
  // follows frequency; a measured value is better). Both scale the FLOP/s, not the memory or link
  // bandwidths; the cap also lowers the energy drawn.
  double power_limit_w = 0;
  double clock_fraction = 0;

  double board_power_w() const {
    return power_limit_w > 0 && power_limit_w < power_w ? power_limit_w : power_w;
  }
  double compute_scale() const;
};

enum class TopologyKind : uint8_t { kFatTree, kDragonfly, kTorus3d };

// How nodes are wired. A fat tree is rail-optimised: GPU i of every node in a leaf group shares
// rail switch i, so same-rank traffic inside `group_gpus` never crosses a spine; traffic between
// groups sees the spine's oversubscription. A dragonfly has all-to-all global links between
// groups that carry `global_bw_fraction` of the injection bandwidth. A 3D torus has no switches:
// each GPU has 6 links of `link_bw` to its neighbours; collectives are limited by the links a
// ring uses and all-to-all by the bisection.
struct Topology {
  TopologyKind kind = TopologyKind::kFatTree;
  int64_t group_gpus = 1024;          // fat-tree leaf group / dragonfly group size
  double oversubscription = 1.0;      // fat tree: bandwidth divisor above the leaf group (>= 1)
  double global_bw_fraction = 1.0;    // dragonfly: inter-group share of injection bandwidth
  double extra_hop_latency_s = 1e-6;  // added per level crossed (spine / global link)
  double link_bw = 0;                 // torus: bytes/s per link per direction
};

struct Cluster {
  // GPUs a plan covers at most: beyond any cluster, and within ParallelLayout's int ranks.
  static constexpr int64_t kMaxGpus = int64_t(1) << 24;

  std::string name;  // preset name or file path
  std::string description;
  Accelerator accelerator;
  int64_t num_gpus = 0;
  int64_t gpus_per_node = 8;
  double intra_bw = 0;  // NVLink/NVSwitch (or mesh) bytes/s per GPU, one direction
  double intra_latency_s = 0;
  std::string network;  // "InfiniBand NDR", "RoCE", "Ethernet"
  double inter_bw = 0;  // NIC bytes/s per GPU, one direction
  double inter_latency_s = 0;
  Topology topology;
  // Energy and price.
  double server_w_per_gpu = 0;  // whole-server wall power divided by its GPUs (GPU included)
  double pue = 1.2;             // facility power usage effectiveness
  double energy_usd_per_kwh = 0.10;
  double gpu_hour_usd = 2.0;  // rental price of one GPU-hour

  int64_t num_nodes() const { return num_gpus / gpus_per_node; }
  // Checks every field; messages name the key as "cluster.<key>" (or "accelerator.<key>", ...).
  Status validate() const;
};

// A cluster preset: name and TOML text.
struct ClusterPreset {
  std::string_view name;
  std::string_view toml_text;
};
std::vector<ClusterPreset> cluster_presets();
std::vector<std::string> list_cluster_presets();

// Parses a cluster TOML document (see docs/plan.md for the keys). Unknown keys are errors that
// name "<source>:<line>" and "section.key".
Result<Cluster> parse_cluster(std::string_view toml_text, std::string_view source_name);

// Loads a preset name, or a file when `preset_or_path` ends in ".toml" or contains '/'. An
// unknown preset name lists the available ones.
Result<Cluster> load_cluster(std::string_view preset_or_path);

std::string_view topology_name(TopologyKind kind);

}  // namespace symphony::plan
