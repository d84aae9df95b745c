#include "plan/efficiency.h"

#include <fstream>
#include <sstream>

#include "config/toml_loader.h"

namespace symphony::plan {

std::string_view fp8_recipe_name(Fp8Recipe r) {
  switch (r) {
    case Fp8Recipe::kTensorwise: return "tensorwise";
    case Fp8Recipe::kBlockwise: return "blockwise";
    case Fp8Recipe::kMx: return "mx";
  }
  return "?";
}

std::optional<Fp8Recipe> parse_fp8_recipe(std::string_view text) {
  for (Fp8Recipe r : {Fp8Recipe::kTensorwise, Fp8Recipe::kBlockwise, Fp8Recipe::kMx})
    if (text == fp8_recipe_name(r)) return r;
  return std::nullopt;
}

Efficiency default_efficiency(const Accelerator& a) {
  Efficiency e;
  const std::string& n = a.name;
  auto has = [&](std::string_view s) { return n.find(s) != std::string::npos; };
  if (has("A100")) {
    e.source = "defaults for A100 (calibrated on Megatron-LM's GPT runs, docs/plan.md)";
    e.gemm = 0.60;
    e.gemm_fp32 = 0.60;
    e.attention = 0.20;
    e.memory = 0.80;
    e.intra_link = 0.80;
    e.inter_link = 0.85;
  } else if (has("H100") || has("H800") || has("H200")) {
    e.source = "defaults for H100-class (calibrated on Llama 3 405B, Llama 2 70B and DeepSeek-V3, "
               "docs/plan.md)";
    e.gemm = 0.62;
    e.gemm_fp8 = 0.55;
    e.gemm_fp8_block = 0.30;
    e.gemm_fp32 = 0.62;
    e.attention = 0.45;
    e.memory = 0.80;
    e.intra_link = 0.80;
    e.inter_link = 0.85;
  } else if (has("B200") || has("GB200")) {
    e.source = "defaults for Blackwell (calibrated on Llama 3 8B, Mixtral and Llama 4 Scout, "
               "docs/plan.md)";
    e.gemm = 0.52;
    e.gemm_fp8 = 0.46;
    e.gemm_fp8_block = 0.46;
    e.gemm_fp32 = 0.62;
    e.attention = 0.30;
  } else {
    e.source = "defaults for " + n + " (uncalibrated: H100-class factors, docs/plan.md)";
    e.gemm = 0.62;
    e.gemm_fp8 = 0.45;
    e.gemm_fp32 = 0.62;
    e.attention = 0.45;
  }
  return e;
}

Result<Efficiency> parse_calibration(std::string_view text, std::string_view source,
                                     const Cluster& c, Efficiency e) {
  SYM_TRY_ASSIGN(toml::table root, parse_toml(text, source));
  e.source = std::string(source);
  for (const auto& [section, node] : root) {
    const toml::table* t = node.as_table();
    if (section.str() != "calibration" || t == nullptr)
      return Error::invalid("{}: unknown section [{}]; a calibration file has only [calibration]",
                            source, section.str());
    for (const auto& [key_name, value] : *t) {
      const std::string key(key_name.str());
      const int line = int(value.source().begin.line);
      std::optional<double> v = value.value<double>();
      if (!v || *v <= 0)
        return Error::invalid("{}:{}: calibration.{} must be a positive number", source, line, key);
      auto ratio = [&](double measured, double peak, double& field,
                       std::string_view peak_key) -> Status {
        if (peak <= 0)
          return Error::invalid("{}:{}: calibration.{} given, but the cluster has no {}", source,
                                line, key, peak_key);
        if (measured > peak * 1.0001)
          return Error::invalid("{}:{}: calibration.{} = {} exceeds the datasheet {} of {}", source,
                                line, key, *v, peak_key, peak / (measured / *v));
        field = measured / peak;
        return Status::ok();
      };
      // Rates measured on a capped or clock-locked board are fractions of its sustained peak:
      // the step-time model applies the clock scale to every FLOP rate itself.
      Accelerator a = c.accelerator;
      const double scale = a.compute_scale();
      a.peak_bf16_flops *= scale;
      a.peak_fp8_flops *= scale;
      a.peak_fp32_flops *= scale;
      if (key == "gemm_tflops") {
        SYM_TRY(ratio(*v * 1e12, a.peak_bf16_flops, e.gemm, "accelerator.peak_bf16_tflops"));
      } else if (key == "gemm_fp8_tflops") {
        SYM_TRY(ratio(*v * 1e12, a.peak_fp8_flops, e.gemm_fp8, "accelerator.peak_fp8_tflops"));
      } else if (key == "gemm_fp8_block_tflops") {
        SYM_TRY(ratio(*v * 1e12, a.peak_fp8_flops, e.gemm_fp8_block,
                      "accelerator.peak_fp8_tflops"));
      } else if (key == "gemm_fp32_tflops") {
        SYM_TRY(ratio(*v * 1e12, a.peak_fp32_flops, e.gemm_fp32, "accelerator.peak_fp32_tflops"));
      } else if (key == "attention_tflops") {
        SYM_TRY(ratio(*v * 1e12, a.peak_bf16_flops, e.attention, "accelerator.peak_bf16_tflops"));
      } else if (key == "memory_bw_tb_s") {
        SYM_TRY(ratio(*v * 1e12, a.memory_bw, e.memory, "accelerator.memory_bw_tb_s"));
      } else if (key == "intra_node_busbw_gb_s") {
        SYM_TRY(ratio(*v * 1e9, c.intra_bw, e.intra_link, "intra_node.bandwidth_gb_s"));
      } else if (key == "inter_node_busbw_gb_s") {
        SYM_TRY(ratio(*v * 1e9, c.inter_bw, e.inter_link, "network.bandwidth_gb_s"));
      } else if (key == "step_overhead_ms") {
        e.step_overhead_s = *v * 1e-3;
      } else {
        return Error::invalid(
            "{}:{}: unknown key calibration.{}; the keys are gemm_tflops, gemm_fp8_tflops, "
            "gemm_fp8_block_tflops, gemm_fp32_tflops, attention_tflops, memory_bw_tb_s, "
            "intra_node_busbw_gb_s, inter_node_busbw_gb_s, step_overhead_ms",
            source, line, key);
      }
    }
  }
  return e;
}

Result<Efficiency> load_calibration(std::string_view path, const Cluster& cluster,
                                    Efficiency base) {
  std::ifstream in{std::string(path)};
  if (!in) return Error::not_found("{}: no such calibration file", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_calibration(text.str(), path, cluster, std::move(base));
}

}  // namespace symphony::plan
