// The published runs of the validation tables (plan/validation.h) and their sources. Each run
// states where its figure comes from; docs/plan.md lists them with the planner's predictions.
#include <fmt/format.h>

#include "plan/validation.h"
#include "plan/validation_models.h"

namespace symphony::plan {
namespace {

using published::deepseek_v3;

// A run of one of NVIDIA's performance tables: tokens/s per GPU (or seconds per step) of a
// Megatron-Core recipe whose parallel sizes, micro-batch size and virtual stages are published,
// with the distributed optimizer (ZeRO-1) or FSDP (ZeRO-3).
struct Recipe {
  const char* name;
  ModelConfig model;
  const char* cluster;
  int64_t gpus, seq_len, global_batch_sequences;
  int64_t tp, pp, cp, ep, vpp, mbs;
  bool fsdp;
  Precision precision;
  Fp8Recipe fp8;
  PublishedMetric metric;
  double published;
  const char* source;
};

ValidationRun from_recipe(const Recipe& r, ValidationSet set) {
  ValidationRun v;
  v.name = r.name;
  v.set = set;
  v.model = r.model;
  v.cluster = r.cluster;
  // GB200 NVL72 jobs in these tables use 64 GPUs (16 trays) of each 72-GPU rack.
  if (v.cluster == "gb200-nvl72") v.gpus_per_node = 64;
  v.gpus = r.gpus;
  v.seq_len = r.seq_len;
  v.global_batch_tokens = r.global_batch_sequences * r.seq_len;
  v.tp = r.tp, v.pp = r.pp, v.cp = r.cp, v.ep = r.ep;
  v.vpp = r.vpp;
  v.mbs = r.mbs;
  v.zero = r.fsdp ? ZeroStage::kParameters : ZeroStage::kOptimizer;
  // The tables list recomputation where a recipe uses it (none of these rows does): the layout
  // is costed without full recomputation, flagged when the memory model says it does not fit.
  v.recompute_choices = {Recompute::kNone, Recompute::kSelective};
  v.precision = r.precision;
  v.fp8_recipe = r.fp8;
  v.metric = r.metric;
  v.published = r.published;
  v.published_note = r.metric == PublishedMetric::kStepSeconds ? "seconds per step"
                                                               : "tokens/s per GPU";
  v.source = r.source;
  return v;
}

}  // namespace

std::vector<ValidationSource> validation_sources() {
  return {
      {"megatron-2021",
       "Narayanan et al., Efficient Large-Scale Language Model Training on GPU Clusters Using "
       "Megatron-LM, SC21 (arXiv:2104.04473), Table 1"},
      {"llama3", "Llama Team, The Llama 3 Herd of Models (arXiv:2407.21783), Table 4, section 3.3"},
      {"nemo-25.02",
       "NVIDIA NeMo Framework, Performance, pre-training at FP8, NeMo 25.02 container, DGX-B200 "
       "(docs.nvidia.com/nemo-framework/user-guide/latest/performance/performance_summary.html, "
       "25.02 release)"},
      {"nemo-25.04",
       "NVIDIA NeMo Framework, Performance, pre-training at FP8 (per-tensor current scaling), "
       "NeMo 25.04 container, DGX-GB200 (docs.nvidia.com/nemo-framework/user-guide/latest/"
       "performance/archive/25.04-performance-summary.html)"},
      {"nemo-25.07",
       "NVIDIA NeMo Framework, Performance, pre-training at FP8 (per-tensor current scaling), "
       "NeMo 25.07 container, DGX-GB200 (docs.nvidia.com/nemo-framework/user-guide/latest/"
       "performance/performance-summary.html, 25.07 release)"},
      {"deepseek-v3",
       "DeepSeek-AI, DeepSeek-V3 Technical Report (arXiv:2412.19437), sections 3.1-3.3 and "
       "Table 1"},
      {"nemo-24.07",
       "NVIDIA NeMo Framework, Performance Benchmarks, pre-training at FP8, NeMo 24.07 container, "
       "DGX-H100 (github.com/NVIDIA/NeMo, docs/source/performance/performance_summary.md)"},
      {"bridge-25.09",
       "NVIDIA Megatron Bridge, Performance Summary archive, 25.09 NeMo container "
       "(github.com/NVIDIA-NeMo/Megatron-Bridge, docs/performance-summary-archive.md; "
       "docs.nvidia.com/nemo/megatron-bridge/latest/performance-summary-archive.html)"},
      {"bridge-25.11",
       "NVIDIA Megatron Bridge, Performance Summary, 25.11 NeMo container "
       "(github.com/NVIDIA-NeMo/Megatron-Bridge, docs/performance-summary.md; "
       "docs.nvidia.com/nemo/megatron-bridge/latest/performance-summary.html)"},
      {"dgxc-gpt3",
       "NVIDIA DGX Cloud Benchmarking, NeMo Megatron GPT-3 175B recipe "
       "(github.com/NVIDIA/dgxc-benchmarking, nemo_megatron/README_175b.md)"},
      {"dgxc-llama3.1-70b",
       "NVIDIA DGX Cloud Benchmarking, Llama 3.1 70B, NeMo 24.09 "
       "(github.com/NVIDIA/dgxc-benchmarking, llama3.1/README_70b.md)"},
      {"dgxc-llama3.1-405b",
       "NVIDIA DGX Cloud Benchmarking, Llama 3.1 405B, NeMo 24.09 "
       "(github.com/NVIDIA/dgxc-benchmarking, llama3.1/README_405b.md)"},
      {"dgxc-nemotron4-15b",
       "NVIDIA DGX Cloud Benchmarking, Nemotron-4 15B "
       "(github.com/NVIDIA/dgxc-benchmarking, nemotron/README_15b.md)"},
      {"dgxc-nemotron4-340b",
       "NVIDIA DGX Cloud Benchmarking, Nemotron-4 340B, NeMo 24.11 "
       "(github.com/NVIDIA/dgxc-benchmarking, nemotron/README_340b.md)"},
      {"dgxc-grok1",
       "NVIDIA DGX Cloud Benchmarking, Grok-1 314B "
       "(github.com/NVIDIA/dgxc-benchmarking, grok1/README_314b.md)"},
      {"mcore-moe-zoo",
       "Megatron-Core MoE Model Zoo, Qwen3 performance results on 256 H100 "
       "(github.com/yanring/Megatron-MoE-ModelZoo, best_practice/Qwen3/readme.md)"},
      {"mcore-moe-zoo-gb200",
       "Megatron-Core MoE Model Zoo, Qwen3 performance results, GB200 "
       "(github.com/yanring/Megatron-MoE-ModelZoo, best_practice/qwen3/readme.md)"},
  };
}

std::vector<ValidationRun> validation_runs() {
  std::vector<ValidationRun> runs;
  using F = ValidationSet;
  using M = PublishedMetric;
  const Precision bf16 = Precision::kBf16, fp8 = Precision::kFp8;
  const Fp8Recipe cs = Fp8Recipe::kTensorwise, mx = Fp8Recipe::kMx, block = Fp8Recipe::kBlockwise;

  // ---- Fitting set -------------------------------------------------------------------------
  // Megatron-LM 2021 (A100): the A100 GEMM and attention factors.
  struct Gpt {
    const char* name;
    int64_t heads, hidden, layers, tp, pp, gpus, batch;
    double tflops;
  };
  const Gpt gpts[] = {
      {"GPT 1.7B", 24, 2304, 24, 1, 1, 32, 512, 137},
      {"GPT 3.6B", 32, 3072, 30, 2, 1, 64, 512, 138},
      {"GPT 7.5B", 32, 4096, 36, 4, 1, 128, 512, 142},
      {"GPT 18.4B", 48, 6144, 40, 8, 1, 256, 1024, 135},
      {"GPT 39.1B", 64, 8192, 48, 8, 2, 512, 1536, 138},
      {"GPT 76.1B", 80, 10240, 60, 8, 4, 1024, 1792, 140},
      {"GPT 145.6B", 96, 12288, 80, 8, 8, 1536, 2304, 148},
      {"GPT 310.1B", 128, 16384, 96, 8, 16, 1920, 2160, 155},
      {"GPT 529.6B", 128, 20480, 105, 8, 35, 2520, 2520, 163},
      {"GPT 1008.0B", 160, 25600, 128, 8, 64, 3072, 3072, 163},
  };
  for (const Gpt& g : gpts) {
    ValidationRun r;
    r.name = g.name;
    r.set = F::kFitting;
    r.model = published::megatron_gpt(g.heads, g.hidden, g.layers);
    r.cluster = "a100-80gb";
    r.gpus = g.gpus;
    r.seq_len = 2048;
    r.global_batch_tokens = g.batch * 2048;
    r.tp = g.tp;
    r.pp = g.pp;
    r.zero = ZeroStage::kNone;
    r.recompute = Recompute::kFull;
    // Megatron-LM of 2021 ran its tensor-parallel all-reduces unoverlapped, and its gradient
    // all-reduce after the backward pass of the last micro-batch.
    r.tp_overlap = 0.0;
    r.dp_overlap = 0.0;
    r.convention = FlopConvention::kMegatron2021;
    r.published = g.tflops;
    r.published_note = "achieved TFLOP/s per GPU, fp16, with recomputation";
    r.source = "megatron-2021";
    runs.push_back(r);
  }
  // Llama 3 405B (H100 on RoCE): the H100-class bf16 GEMM factor.
  struct Llama {
    const char* name;
    int64_t gpus, cp, seq_len;
    double tflops;
  };
  const Llama llamas[] = {
      {"Llama 3 405B, 8K GPUs", 8192, 1, 8192, 430},
      {"Llama 3 405B, 16K GPUs", 16384, 1, 8192, 400},
      {"Llama 3 405B, 16K GPUs, 128K context", 16384, 16, 131072, 380},
  };
  for (const Llama& g : llamas) {
    ValidationRun r;
    r.name = g.name;
    r.set = F::kFitting;
    r.model = published::llama3_405b();
    r.cluster = "h100-roce";
    r.gpus = g.gpus;
    r.seq_len = g.seq_len;
    r.global_batch_tokens = 16 * 1024 * 1024;
    r.tp = 8;
    r.pp = 16;
    r.cp = g.cp;
    r.schedules = {PipelineSchedule::kInterleaved};
    // Meta balanced its stages (one layer fewer on the first and the last, section 3.3.2).
    r.stage_split = StageSplit::kBalanced;
    r.published = g.tflops;
    r.published_note = "BF16 TFLOP/s per GPU";
    r.source = "llama3";
    runs.push_back(r);
  }
  // DeepSeek-V3 (H800): the H100-class blockwise fp8 factor.
  {
    ValidationRun r;
    r.name = "DeepSeek-V3 671B (MLA), 2048 H800";
    r.set = F::kFitting;
    r.model = deepseek_v3(1);  // trained with its MTP module (section 2.2)
    r.cluster = "h800";
    r.gpus = 2048;
    r.seq_len = 4096;
    r.global_batch_tokens = 15360 * 4096;
    r.tp = 1;
    r.pp = 16;
    r.ep = 64;
    r.zero = ZeroStage::kOptimizer;
    r.recompute = Recompute::kSelective;
    r.schedules = {PipelineSchedule::kDualPipe};
    r.stage_split = StageSplit::kBalanced;
    r.precision = fp8;
    r.fp8_recipe = block;
    // Its dispatch sends a token over InfiniBand once per node, to at most 4 nodes
    // (sections 2.1.2 and 3.2.2).
    r.ep_dispatch = ExpertDispatch::kNodeDedup;
    // 180K H800 GPU-hours per trillion tokens: 1e12 / (180e3 * 3600) = 1543 tokens/s per GPU,
    // times the model FLOPs per token with MLA and the MTP module at sequence 4096.
    const ModelCosts m = model_costs(r.model, r.seq_len);
    r.published = 1e12 / (180e3 * 3600.0) * m.model_flops_per_token() / 1e12;
    r.published_note = "derived: 180K GPU-hours per trillion tokens x model FLOPs per token";
    r.source = "deepseek-v3";
    runs.push_back(r);
  }
  // The H100-class tensorwise fp8 factor (delayed scaling, NeMo 24.07) and the Blackwell fp8
  // factor (current scaling, Megatron Bridge 25.09, FSDP).
  runs.push_back(from_recipe({"Llama 2 70B, FP8", published::llama2_70b(), "h100", 64, 4096, 128, 4,
                              4, 1, 1, 20, 1, false, fp8, cs, M::kTokensPerGpuS, 1707,
                              "nemo-24.07"},
                             F::kFitting));
  runs.push_back(from_recipe({"Llama 3 8B, FP8", published::llama3_8b(), "gb200-nvl72", 8, 8192,
                              128, 1, 1, 1, 1, 1, 2, false, fp8, cs, M::kTokensPerGpuS, 31357,
                              "bridge-25.09"},
                             F::kFitting));

  // MoE on Blackwell (NeMo 2 performance tables, FP8 with tensorwise current scaling): the
  // MoE dispatch factors. Models absent from the evaluation set.
  runs.push_back(from_recipe({"Mixtral 8x7B, FP8", published::mixtral_8x7b(), "b200", 64, 4096,
                              256, 1, 1, 1, 8, 1, 2, false, fp8, cs, M::kTokensPerGpuS, 15457,
                              "nemo-25.02"},
                             F::kFitting));
  runs.push_back(from_recipe({"Mixtral 8x22B, FP8, 64K context", published::mixtral_8x22b(), "b200",
                              256, 65536, 64, 2, 4, 8, 8, 14, 1, false, fp8, cs,
                              M::kTokensPerGpuS, 2232, "nemo-25.02"},
                             F::kFitting));
  runs.push_back(from_recipe({"Mixtral 8x7B, FP8", published::mixtral_8x7b(), "gb200-nvl72", 64,
                              4096, 256, 1, 1, 1, 8, 1, 2, false, fp8, cs, M::kTokensPerGpuS,
                              19275, "nemo-25.04"},
                             F::kFitting));
  runs.push_back(from_recipe({"Llama 4 Scout, FP8", published::llama4_scout(), "gb200-nvl72", 64,
                              8192, 1024, 1, 1, 1, 16, 1, 1, false, fp8, cs, M::kTokensPerGpuS,
                              13783, "nemo-25.07"},
                             F::kFitting));

  // ---- Evaluation set ----------------------------------------------------------------------
  // Megatron Bridge 25.11: every DGX-H100, DGX-B200 and DGX-GB200 row except the GB200 Llama 3
  // 8B (the fitting set's layout). MoE rows force-balance the routing and are dropless; the
  // table marks which DeepSeek-V3 rows ran the MTP module.
  const Recipe bridge[] = {
      {"Llama 3 8B, FP8, FSDP", published::llama3_8b(), "h100", 8, 8192, 128, 1, 1, 1, 1, 1, 1,
       true, fp8, cs, M::kTokensPerGpuS, 14451, "bridge-25.11"},
      {"Llama 3 70B, FP8", published::llama3_70b(), "h100", 64, 8192, 128, 4, 8, 1, 1, 5, 1,
       false, fp8, cs, M::kTokensPerGpuS, 1602, "bridge-25.11"},
      {"Llama 3.1 405B, FP8", published::llama3_405b(), "h100", 1024, 8192, 512, 8, 8, 2, 1, 8, 1,
       false, fp8, cs, M::kTokensPerGpuS, 292, "bridge-25.11"},
      {"GPT-OSS 120B, BF16", published::gpt_oss_120b(), "h100", 64, 4096, 512, 1, 4, 1, 8, 1, 4,
       false, bf16, cs, M::kTokensPerGpuS, 5630, "bridge-25.11"},
      {"Qwen3 30B-A3B, FP8", published::qwen3_30b_a3b(), "h100", 16, 4096, 512, 1, 2, 1, 8, 24, 2,
       false, fp8, cs, M::kTokensPerGpuS, 5275, "bridge-25.11"},
      {"Qwen3 235B-A22B, FP8", published::qwen3_235b_a22b(), "h100", 256, 4096, 2048, 2, 8, 1, 32,
       4, 1, false, fp8, cs, M::kTokensPerGpuS, 1575, "bridge-25.11"},
      {"Llama 3 8B, FP8", published::llama3_8b(), "b200", 8, 8192, 128, 1, 1, 1, 1, 1, 2, false,
       fp8, cs, M::kTokensPerGpuS, 30624, "bridge-25.11"},
      {"Llama 3.1 405B, FP8", published::llama3_405b(), "b200", 128, 8192, 64, 4, 8, 2, 1, 8, 1,
       false, fp8, cs, M::kTokensPerGpuS, 661, "bridge-25.11"},
      {"GPT-OSS 120B, BF16", published::gpt_oss_120b(), "b200", 64, 4096, 512, 1, 1, 1, 8, 1, 4,
       false, bf16, cs, M::kTokensPerGpuS, 8213, "bridge-25.11"},
      {"Qwen3 30B-A3B, MXFP8", published::qwen3_30b_a3b(), "b200", 8, 4096, 512, 1, 1, 1, 8, 1, 1,
       false, fp8, mx, M::kTokensPerGpuS, 9299, "bridge-25.11"},
      {"Qwen3 235B-A22B, MXFP8", published::qwen3_235b_a22b(), "b200", 64, 4096, 1024, 1, 8, 1, 8,
       2, 1, false, fp8, mx, M::kTokensPerGpuS, 3269, "bridge-25.11"},
      {"DeepSeek-V3 with MTP, MXFP8", deepseek_v3(1), "b200", 256, 4096, 2048, 1, 16, 1, 8, 1, 1,
       false, fp8, mx, M::kTokensPerGpuS, 2139, "bridge-25.11"},
      {"Llama 3 70B, FP8, FSDP", published::llama3_70b(), "gb200-nvl72", 64, 8192, 256, 1, 1, 1,
       1, 1, 2, true, fp8, cs, M::kTokensPerGpuS, 4312, "bridge-25.11"},
      {"Llama 3.1 405B, FP8", published::llama3_405b(), "gb200-nvl72", 256, 8192, 1536, 4, 16, 1,
       1, 4, 1, false, fp8, cs, M::kTokensPerGpuS, 813, "bridge-25.11"},
      {"DeepSeek-V3, BF16", deepseek_v3(0), "gb200-nvl72", 256, 4096, 4096, 1, 4, 1, 64, 4, 1,
       false, bf16, cs, M::kTokensPerGpuS, 3139, "bridge-25.11"},
      {"DeepSeek-V3, MXFP8", deepseek_v3(0), "gb200-nvl72", 256, 4096, 4096, 1, 8, 1, 32, 4, 1,
       false, fp8, mx, M::kTokensPerGpuS, 4018, "bridge-25.11"},
      {"GPT-OSS 120B, BF16", published::gpt_oss_120b(), "gb200-nvl72", 64, 8192, 1280, 1, 1, 1,
       64, 1, 1, false, bf16, cs, M::kTokensPerGpuS, 15876, "bridge-25.11"},
      {"Qwen3 30B-A3B, MXFP8", published::qwen3_30b_a3b(), "gb200-nvl72", 8, 4096, 512, 1, 1, 1, 8,
       1, 4, false, fp8, mx, M::kTokensPerGpuS, 23766, "bridge-25.11"},
      {"Qwen3 235B-A22B, BF16", published::qwen3_235b_a22b(), "gb200-nvl72", 256, 4096, 8192, 1, 8,
       1, 32, 3, 1, false, bf16, cs, M::kTokensPerGpuS, 4916, "bridge-25.11"},
  };
  // The rows run as the table gives them. Later Megatron Bridge Qwen3 recipes
  // (scripts/performance/configs/qwen3/workload_base_configs.py) set moe_a2a_overlap for the H100
  // FP8 and B200 MXFP8 235B rows and the H100 30B row (and vpp 12 for the latter, where the
  // table prints 24); the table does not say the 25.11 runs used it.
  for (const Recipe& r : bridge) runs.push_back(from_recipe(r, F::kEvaluation));
  // Megatron Bridge 25.09, the dropless DeepSeek-V3 row on H100 (tensorwise fp8; MTP not
  // stated, costed without). Its recipe enables DeepEP, the one Bridge row whose expert group
  // spans InfiniBand nodes with it (the Qwen3 235B H100 row runs the all-to-all dispatcher).
  {
    ValidationRun r = from_recipe({"DeepSeek-V3, FP8", deepseek_v3(0), "h100", 1024, 4096, 8192,
                                   2, 8, 1, 64, 4, 1, false, fp8, cs, M::kTokensPerGpuS, 1297,
                                   "bridge-25.09"},
                                  F::kEvaluation);
    r.ep_dispatch = ExpertDispatch::kNodeDedup;
    runs.push_back(r);
  }

  // DGX Cloud Benchmarking (H100): the smallest full-size and the largest scale of each recipe,
  // BF16 and FP8 (tensorwise); seconds per step. Global batches grow with the GPUs.
  struct Scaled {
    const char* name;
    ModelConfig model;
    int64_t seq_len, tp, pp, cp, ep, vpp, mbs;
    const char* source;
    struct Point {
      int64_t gpus, batch;
      double bf16_s, fp8_s;
    } points[2];
  };
  const Scaled dgxc[] = {
      {"GPT-3 175B", published::gpt3_175b(), 2048, 4, 8, 1, 1, 12, 1, "dgxc-gpt3",
       {{128, 256, 8.309, 5.626}, {2048, 4096, 8.49, 5.96}}},
      {"Llama 3.1 70B", published::llama3_70b(), 8192, 4, 4, 2, 1, 5, 1, "dgxc-llama3.1-70b",
       {{64, 128, 14.72, 11.01}, {2048, 4096, 14.98, 11.39}}},
      {"Llama 3.1 405B", published::llama3_405b(), 8192, 8, 9, 2, 1, 7, 1, "dgxc-llama3.1-405b",
       {{576, 252, 17.20, 11.24}, {2304, 1008, 17.62, 12.35}}},
      {"Nemotron-4 15B", published::nemotron4_15b(), 4096, 4, 1, 1, 1, 1, 4, "dgxc-nemotron4-15b",
       {{16, 64, 2.812, 2.039}, {2048, 8192, 2.887, 2.12}}},
      {"Nemotron-4 340B", published::nemotron4_340b(), 4096, 8, 8, 1, 1, 12, 1,
       "dgxc-nemotron4-340b", {{128, 32, 4.61, 3.16}, {2048, 512, 4.84, 3.49}}},
      {"Grok-1 314B", published::grok1_314b(), 8192, 4, 8, 2, 8, 8, 1, "dgxc-grok1",
       {{512, 1024, 20.83, 16.69}, {2048, 4096, 21.09, 17.04}}},
  };
  for (const Scaled& s : dgxc) {
    for (const Scaled::Point& p : s.points) {
      for (Precision prec : {bf16, fp8}) {
        const std::string name =
            fmt::format("{}, {}, {} GPUs", s.name, prec == bf16 ? "BF16" : "FP8", p.gpus);
        Recipe r{name.c_str(), s.model, "h100", p.gpus, s.seq_len, p.batch, s.tp, s.pp, s.cp,
                 s.ep, s.vpp, s.mbs, false, prec, cs, M::kStepSeconds,
                 prec == bf16 ? p.bf16_s : p.fp8_s, s.source};
        runs.push_back(from_recipe(r, F::kEvaluation));
      }
    }
  }

  // The Megatron-Core MoE model zoo (H100, BF16, DeepEP dispatch, routing not force-balanced):
  // Qwen3 235B-A22B on 256 GPUs in three of its published layouts, seconds per step, each with
  // the recomputation its row lists ("norm, act": the norms and activation functions, the
  // planner's selective; "full"; none), and the tp2 ep32 layout again with its "1F1B overlap"
  // (micro-batches paired to hide the all-to-all). Its other rows need what the planner does not
  // model (96 virtual stages for 94 layers, Qwen3-Next's linear attention). The tp4 ep8 row, 16
  // experts per GPU and 256 micro-batches of one sequence, is the fitting set's: it sets the host
  // time per local expert (PlanOptions).
  struct Zoo {
    const char* name;
    int64_t tp, pp, ep, vpp, mbs;
    bool fsdp;
    Recompute recompute;
    double step_s;
    ValidationSet set;
    ExpertOverlap overlap = ExpertOverlap::kNone;
  };
  const Zoo zoo[] = {
      {"Qwen3 235B-A22B, BF16, tp2 ep32", 2, 8, 32, 4, 1, false, Recompute::kSelective, 19.7,
       F::kEvaluation},
      {"Qwen3 235B-A22B, BF16, tp2 ep32, 1F1B overlap", 2, 8, 32, 4, 1, false,
       Recompute::kSelective, 17.6, F::kEvaluation, ExpertOverlap::kPaired},
      {"Qwen3 235B-A22B, BF16, FSDP ep8", 2, 1, 8, 1, 4, true, Recompute::kFull, 17.6,
       F::kEvaluation},
      {"Qwen3 235B-A22B, BF16, tp4 ep8", 4, 8, 8, 4, 1, false, Recompute::kNone, 29.0,
       F::kFitting},
  };
  for (const Zoo& z : zoo) {
    ValidationRun v = from_recipe({z.name, published::qwen3_235b_a22b(), "h100", 256, 4096, 2048,
                                   z.tp, z.pp, 1, z.ep, z.vpp, z.mbs, z.fsdp, bf16, cs,
                                   M::kStepSeconds, z.step_s, "mcore-moe-zoo"},
                                  z.set);
    v.recompute = z.recompute;
    v.ep_dispatch = ExpertDispatch::kNodeDedup;  // DeepEP
    v.ep_overlap = z.overlap;
    v.published_note = z.overlap == ExpertOverlap::kPaired
                           ? "seconds per step, routing not force-balanced, 1F1B all-to-all overlap"
                           : "seconds per step, routing not force-balanced";
    runs.push_back(v);
  }
  // The model zoo's GB200 rows (Qwen3 235B-A22B on 256 GPUs of NVL72 racks, HybridEP dispatch
  // inside the NVLink domain, routing force-balanced, CUDA graphs of attention, router and
  // dispatch preprocessing), published as TFLOP/s per GPU: tokens/s per GPU at the zoo's own
  // 147.8 GFLOP per token (its H100 rows' TFLOP/s x seconds per step, 4842 TFLOP per GPU and
  // step of 2048 x 4096 tokens on 256 GPUs, agree within 0.3%). The MXFP8 row also offloads the
  // experts' fc1 and activation inputs to host memory, which the planner does not model.
  struct ZooGb200 {
    const char* name;
    int64_t pp, ep, vpp, mbs, batch;
    Precision precision;
    Recompute recompute;
    double tflops;
  };
  const ZooGb200 zoo_gb200[] = {
      {"Qwen3 235B-A22B, BF16, tp1 ep8", 8, 8, 1, 1, 8192, bf16, Recompute::kNone, 750},
      {"Qwen3 235B-A22B, MXFP8, ep64, offloading", 4, 64, 6, 3, 3072, fp8, Recompute::kSelective,
       919},
  };
  for (const ZooGb200& z : zoo_gb200) {
    ValidationRun v = from_recipe(
        {z.name, published::qwen3_235b_a22b(), "gb200-nvl72", 256, 4096, z.batch, 1, z.pp, 1, z.ep,
         z.vpp, z.mbs, false, z.precision, mx, M::kTokensPerGpuS, z.tflops * 1e12 / 147.8e9,
         "mcore-moe-zoo-gb200"},
        F::kEvaluation);
    v.recompute = z.recompute;
    v.published_note = "tokens/s per GPU, derived from TFLOP/s per GPU";
    runs.push_back(v);
  }

  return runs;
}

}  // namespace symphony::plan
