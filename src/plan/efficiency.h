#pragma once
// Achieved fractions of datasheet rates, by accelerator family and operation class. They turn
// peak FLOP/s and bandwidths into the rates a well-tuned framework reaches. One set per family,
// shared by every model and layout: docs/plan.md says where each value comes from and which
// published runs pin it down. `--calibrate FILE` replaces them with measured rates.

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "plan/cluster.h"

namespace symphony::plan {

// How fp8 GEMMs are scaled. Tensorwise: one scale per tensor (delayed or current scaling,
// Transformer Engine's default); the tensor cores run at their fp8 rate. Blockwise: a scale per
// 1x128 activation tile and 128x128 weight block (DeepSeek-V3); Hopper applies the scales
// outside the tensor cores (promotion to fp32 every few MMAs), Blackwell in them. MX: 1x32
// blocks with power-of-two scales (MXFP8), Blackwell's native block format.
enum class Fp8Recipe : uint8_t { kTensorwise, kBlockwise, kMx };
std::string_view fp8_recipe_name(Fp8Recipe r);  // "tensorwise", "blockwise", "mx"
std::optional<Fp8Recipe> parse_fp8_recipe(std::string_view text);

struct Efficiency {
  std::string source;            // "datasheet defaults for H100-class" or the calibration file
  double gemm = 0.7;             // large bf16 GEMMs, fraction of peak_bf16_flops
  double gemm_fp8 = 0.55;        // large tensorwise-scaled fp8 GEMMs, fraction of peak_fp8_flops
  double gemm_fp8_block = 0.45;  // blockwise- or MX-scaled fp8 GEMMs, fraction of peak_fp8_flops
  double gemm_fp32 = 0.7;        // fp32 GEMMs, fraction of peak_fp32_flops
  double attention = 0.5;        // fused (flash) attention, fraction of the GEMM peak
  double memory = 0.8;           // elementwise kernels, fraction of memory_bw
  double intra_link = 0.8;       // collective bus bandwidth over intra_bw
  double inter_link = 0.85;      // collective bus bandwidth over inter_bw
  double step_overhead_s = 0.0;  // fixed per-step host and launch time outside the model
};

// The defaults for `accelerator` (matched by name: A100; H100, H800, H200; B200, GB200; TPU;
// others get H100-class values, marked uncalibrated).
Efficiency default_efficiency(const Accelerator& accelerator);

// Reads measured rates and turns them into efficiencies against `cluster`'s datasheet:
//   [calibration]
//   gemm_tflops = 720            # bf16 GEMM rate on the model's shapes (symphony bench gemm)
//   gemm_fp8_tflops = 1150       # optional: tensorwise-scaled fp8
//   gemm_fp8_block_tflops = 900  # optional: blockwise- or MX-scaled fp8
//   gemm_fp32_tflops = 380       # optional
//   attention_tflops = 480       # optional: fused attention forward+backward rate
//   memory_bw_tb_s = 2.9         # optional: achieved copy bandwidth
//   intra_node_busbw_gb_s = 360  # optional: all-reduce bus bandwidth inside a node
//   inter_node_busbw_gb_s = 44   # optional: all-reduce bus bandwidth per GPU across nodes
//   step_overhead_ms = 20        # optional
// Keys left out keep `base`'s values. Errors name the file, line and key; a rate above the
// datasheet peak is an error (it would mean the cluster description is wrong).
Result<Efficiency> load_calibration(std::string_view path, const Cluster& cluster, Efficiency base);
Result<Efficiency> parse_calibration(std::string_view toml_text, std::string_view source,
                                     const Cluster& cluster, Efficiency base);

}  // namespace symphony::plan
