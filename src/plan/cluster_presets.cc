// Cluster presets, one TOML document each, in the format of docs/plan.md. Figures are the
// vendors' datasheet values (dense tensor-core FLOP/s, one-direction bandwidths per GPU); the
// sources are listed in docs/plan.md. `num_gpus` is a default that `symphony plan --gpus`
// replaces.
#include "plan/cluster.h"

namespace symphony::plan {
namespace {

constexpr std::string_view kA100_40 = R"toml(
[cluster]
description = "DGX A100 40GB nodes, 8 x HDR 200 Gb/s InfiniBand per node"
num_gpus = 1024
gpus_per_node = 8
[accelerator]
name = "A100 SXM 40GB"
peak_bf16_tflops = 312
peak_fp8_tflops = 0
peak_fp32_tflops = 156
memory_gib = 40
memory_bw_tb_s = 1.555
power_w = 400
[intra_node]
bandwidth_gb_s = 300        # NVLink 3: 600 GB/s bidirectional
latency_us = 2.5
[network]
kind = "InfiniBand HDR"
bandwidth_gb_s = 25         # 200 Gb/s per GPU
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 1120           # Selene-style scalable unit of 140 nodes
oversubscription = 1
[power]
server_w_per_gpu = 812.5    # DGX A100: 6.5 kW for 8 GPUs
)toml";

constexpr std::string_view kA100_80 = R"toml(
[cluster]
description = "DGX A100 80GB nodes (as NVIDIA Selene), 8 x HDR 200 Gb/s InfiniBand per node"
num_gpus = 1024
gpus_per_node = 8
[accelerator]
name = "A100 SXM 80GB"
peak_bf16_tflops = 312
peak_fp8_tflops = 0
peak_fp32_tflops = 156
memory_gib = 80
memory_bw_tb_s = 2.039
power_w = 400
[intra_node]
bandwidth_gb_s = 300
latency_us = 2.5
[network]
kind = "InfiniBand HDR"
bandwidth_gb_s = 25
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 1120
oversubscription = 1
[power]
server_w_per_gpu = 812.5
)toml";

constexpr std::string_view kH100 = R"toml(
[cluster]
description = "DGX/HGX H100 nodes, 8 x NDR 400 Gb/s InfiniBand per node, non-blocking fat tree"
num_gpus = 2048
gpus_per_node = 8
[accelerator]
name = "H100 SXM 80GB"
peak_bf16_tflops = 989.4
peak_fp8_tflops = 1978.9
peak_fp32_tflops = 494.7
memory_gib = 80
memory_bw_tb_s = 3.35
power_w = 700
[intra_node]
bandwidth_gb_s = 450        # NVLink 4 through NVSwitch: 900 GB/s bidirectional
latency_us = 2.5
[network]
kind = "InfiniBand NDR"
bandwidth_gb_s = 50         # 400 Gb/s per GPU
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 4096
oversubscription = 1
[power]
server_w_per_gpu = 1275     # DGX H100: 10.2 kW for 8 GPUs
)toml";

constexpr std::string_view kH100Roce = R"toml(
[cluster]
description = "H100 nodes on 400 Gb/s RoCE, 3-layer Clos: full bisection in 3072-GPU zones, 1:7 above (as Meta's Llama 3 cluster)"
num_gpus = 16384
gpus_per_node = 8
[accelerator]
name = "H100 SXM 80GB"
peak_bf16_tflops = 989.4
peak_fp8_tflops = 1978.9
peak_fp32_tflops = 494.7
memory_gib = 80
memory_bw_tb_s = 3.35
power_w = 700
[intra_node]
bandwidth_gb_s = 450
latency_us = 2.5
[network]
kind = "RoCE"
bandwidth_gb_s = 50
latency_us = 8
[topology]
kind = "fat_tree"
group_gpus = 3072
oversubscription = 7
extra_hop_latency_us = 2
[power]
server_w_per_gpu = 1275
)toml";

constexpr std::string_view kH800 = R"toml(
[cluster]
description = "H800 nodes (NVLink cut to 400 GB/s bidirectional), 8 x NDR 400 Gb/s InfiniBand per node (as DeepSeek-V3's cluster)"
num_gpus = 2048
gpus_per_node = 8
[accelerator]
name = "H800 SXM 80GB"
peak_bf16_tflops = 989.4
peak_fp8_tflops = 1978.9
peak_fp32_tflops = 494.7
memory_gib = 80
memory_bw_tb_s = 3.35
power_w = 700
[intra_node]
bandwidth_gb_s = 200        # 400 GB/s bidirectional
latency_us = 2.5
[network]
kind = "InfiniBand NDR"
bandwidth_gb_s = 50
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 2048
oversubscription = 1
[power]
server_w_per_gpu = 1275
)toml";

constexpr std::string_view kH200 = R"toml(
[cluster]
description = "HGX H200 nodes, 8 x NDR 400 Gb/s InfiniBand per node, non-blocking fat tree"
num_gpus = 2048
gpus_per_node = 8
[accelerator]
name = "H200 SXM 141GB"
peak_bf16_tflops = 989.4
peak_fp8_tflops = 1978.9
peak_fp32_tflops = 494.7
memory_gib = 140
memory_bw_tb_s = 4.8
power_w = 700
[intra_node]
bandwidth_gb_s = 450
latency_us = 2.5
[network]
kind = "InfiniBand NDR"
bandwidth_gb_s = 50
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 4096
oversubscription = 1
[power]
server_w_per_gpu = 1275
)toml";

constexpr std::string_view kB200 = R"toml(
[cluster]
description = "DGX B200 nodes, 8 x 400 Gb/s InfiniBand per node, non-blocking fat tree"
num_gpus = 2048
gpus_per_node = 8
[accelerator]
name = "B200 180GB"
peak_bf16_tflops = 2250
peak_fp8_tflops = 4500
peak_fp32_tflops = 1100
memory_gib = 179
memory_bw_tb_s = 8
power_w = 1000
[intra_node]
bandwidth_gb_s = 900        # NVLink 5: 1.8 TB/s bidirectional
latency_us = 2.5
[network]
kind = "InfiniBand NDR"
bandwidth_gb_s = 50
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 4096
oversubscription = 1
[power]
server_w_per_gpu = 1787.5   # DGX B200: 14.3 kW for 8 GPUs
)toml";

constexpr std::string_view kMi300x = R"toml(
[cluster]
description = "MI300X nodes (Infinity Fabric full mesh), 8 x 400 Gb/s RoCE per node"
num_gpus = 2048
gpus_per_node = 8
[accelerator]
name = "MI300X 192GB"
peak_bf16_tflops = 1307.4
peak_fp8_tflops = 2614.9
peak_fp32_tflops = 653.7
memory_gib = 192
memory_bw_tb_s = 5.3
power_w = 750
[intra_node]
bandwidth_gb_s = 448        # 7 peer links of 64 GB/s each way
latency_us = 3
[network]
kind = "RoCE"
bandwidth_gb_s = 50
latency_us = 8
[topology]
kind = "fat_tree"
group_gpus = 2048
oversubscription = 1
[power]
server_w_per_gpu = 1250
)toml";

constexpr std::string_view kAscend910b = R"toml(
[cluster]
description = "Ascend 910B nodes (HCCS mesh), 8 x 200 Gb/s RoCE per node"
num_gpus = 2048
gpus_per_node = 8
[accelerator]
name = "Ascend 910B 64GB"
peak_bf16_tflops = 320
peak_fp8_tflops = 0
peak_fp32_tflops = 160
memory_gib = 64
memory_bw_tb_s = 1.6
power_w = 400
[intra_node]
bandwidth_gb_s = 196        # 7 HCCS links, 392 GB/s bidirectional in all
latency_us = 3
[network]
kind = "RoCE"
bandwidth_gb_s = 25
latency_us = 8
[topology]
kind = "fat_tree"
group_gpus = 1024
oversubscription = 1
[power]
server_w_per_gpu = 700
)toml";

constexpr std::string_view kH100Dragonfly = R"toml(
[cluster]
description = "H100 nodes on a 200 Gb/s-per-GPU dragonfly (Slingshot-style): full bandwidth inside 512-GPU groups, half between groups"
num_gpus = 4096
gpus_per_node = 8
[accelerator]
name = "H100 SXM 80GB"
peak_bf16_tflops = 989.4
peak_fp8_tflops = 1978.9
peak_fp32_tflops = 494.7
memory_gib = 80
memory_bw_tb_s = 3.35
power_w = 700
[intra_node]
bandwidth_gb_s = 450
latency_us = 2.5
[network]
kind = "Ethernet (Slingshot)"
bandwidth_gb_s = 25
latency_us = 8
[topology]
kind = "dragonfly"
group_gpus = 512
global_bw_fraction = 0.5
extra_hop_latency_us = 2
[power]
server_w_per_gpu = 1275
)toml";

}  // namespace

std::vector<ClusterPreset> cluster_presets() {
  return {
      {"a100-40gb", kA100_40},     {"a100-80gb", kA100_80},    {"ascend-910b", kAscend910b},
      {"b200", kB200},             {"h100", kH100},            {"h100-dragonfly", kH100Dragonfly},
      {"h100-roce", kH100Roce},    {"h200", kH200},            {"h800", kH800},
      {"mi300x", kMi300x},
  };
}

}  // namespace symphony::plan
