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

// One NVL72 rack is one 72-GPU NVLink domain: the planner's "node". Jobs often use 64 of its 72
// GPUs (16 of 18 compute trays); --gpus counts the GPUs of the job.
constexpr std::string_view kGb200Nvl72 = R"toml(
[cluster]
description = "GB200 NVL72 racks: 72-GPU NVLink 5 domains, 400 Gb/s InfiniBand per GPU"
num_gpus = 2304
gpus_per_node = 72
[accelerator]
name = "GB200 186GB"
peak_bf16_tflops = 2500
peak_fp8_tflops = 5000
peak_fp32_tflops = 1250
memory_gib = 173.2          # 186 GB HBM3e
memory_bw_tb_s = 8
power_w = 1200
[intra_node]
bandwidth_gb_s = 900        # NVLink 5 through the NVLink switch trays: 1.8 TB/s bidirectional
latency_us = 3
[network]
kind = "InfiniBand NDR"
bandwidth_gb_s = 50
latency_us = 6
[topology]
kind = "fat_tree"
group_gpus = 4608
oversubscription = 1
[power]
server_w_per_gpu = 1833     # about 132 kW per 72-GPU rack
)toml";

// An H100 board capped at 500 W (as some clusters run them for power budgets): the FLOP rates
// follow accelerator.power_limit_w, the memory and links do not.
constexpr std::string_view kH100_500W = R"toml(
[cluster]
description = "H100 SXM capped at 500 W, otherwise as h100"
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
power_limit_w = 500
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

// TPU pods: every chip has six inter-chip-interconnect links to its 3D-torus neighbours (no
// switches); a host holds four chips. Link bandwidth per direction is the per-chip ICI figure of
// Google's Cloud TPU documentation split over 6 links and 2 directions. TPUs have no fp8 or TF32
// units: fp32 matmuls run as several bf16 passes, approximated as a quarter of the bf16 rate.
constexpr std::string_view kTpuV4 = R"toml(
[cluster]
description = "TPU v4 pod slice: 4096 chips, 3D torus of 2400 Gb/s ICI per chip"
num_gpus = 4096
gpus_per_node = 4
[accelerator]
name = "TPU v4"
peak_bf16_tflops = 275
peak_fp8_tflops = 0
peak_fp32_tflops = 68.75
memory_gib = 32
memory_bw_tb_s = 1.2
power_w = 192
[intra_node]
bandwidth_gb_s = 50         # two of the host's ICI links per chip
latency_us = 2
[network]
kind = "ICI torus"
bandwidth_gb_s = 150        # six links
latency_us = 3
[topology]
kind = "torus3d"
link_bandwidth_gb_s = 25
[power]
server_w_per_gpu = 300
)toml";

constexpr std::string_view kTpuV5p = R"toml(
[cluster]
description = "TPU v5p pod slice: 3D torus of 4800 Gb/s ICI per chip"
num_gpus = 8960
gpus_per_node = 4
[accelerator]
name = "TPU v5p"
peak_bf16_tflops = 459
peak_fp8_tflops = 0
peak_fp32_tflops = 114.75
memory_gib = 88.5           # 95 GB HBM2e
memory_bw_tb_s = 2.765
power_w = 350
[intra_node]
bandwidth_gb_s = 100
latency_us = 2
[network]
kind = "ICI torus"
bandwidth_gb_s = 300
latency_us = 3
[topology]
kind = "torus3d"
link_bandwidth_gb_s = 50
[power]
server_w_per_gpu = 500
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
      {"b200", kB200},             {"gb200-nvl72", kGb200Nvl72}, {"h100", kH100},
      {"h100-500w", kH100_500W},   {"h100-dragonfly", kH100Dragonfly},
      {"h100-roce", kH100Roce},    {"h200", kH200},            {"h800", kH800},
      {"mi300x", kMi300x},         {"tpu-v4", kTpuV4},         {"tpu-v5p", kTpuV5p},
  };
}

}  // namespace symphony::plan
