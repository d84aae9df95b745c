#include "plan/validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "plan/search.h"

namespace symphony::plan {
namespace {

// A GPT-3-style model of Narayanan et al. 2021: GELU MLP of width 4h (8h^2 parameters),
// represented as SwiGLU of width 8h/3 (3h * 8h/3 = 8h^2) rounded to a multiple of 64, learned
// position embeddings left out (under 0.01% of the FLOPs), untied vocabulary 51200.
ModelConfig megatron_gpt(int64_t heads, int64_t hidden, int64_t layers) {
  ModelConfig c;
  c.vocab_size = 51200;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = heads;
  c.head_dim = hidden / heads;
  c.max_position_embeddings = 2048;
  c.intermediate_size = (8 * hidden / 3 + 32) / 64 * 64;
  c.num_experts = 0;
  c.tie_word_embeddings = true;
  return c;
}

ModelConfig llama3_405b() {
  ModelConfig c;
  c.vocab_size = 128256;
  c.hidden_size = 16384;
  c.num_hidden_layers = 126;
  c.num_attention_heads = 128;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  c.max_position_embeddings = 131072;
  c.intermediate_size = 53248;
  c.num_experts = 0;
  c.tie_word_embeddings = false;
  return c;
}

// DeepSeek-V3's architecture, as configs/deepseek-v3-671b.toml.
ModelConfig deepseek_v3() {
  ModelConfig c;
  c.vocab_size = 129280;
  c.hidden_size = 7168;
  c.num_hidden_layers = 61;
  c.num_attention_heads = 128;
  c.num_key_value_heads = 128;
  c.q_lora_rank = 1536;
  c.kv_lora_rank = 512;
  c.qk_rope_head_dim = 64;
  c.qk_nope_head_dim = 128;
  c.v_head_dim = 128;
  c.max_position_embeddings = 163840;
  c.intermediate_size = 18432;
  c.first_k_dense_replace = 3;
  c.num_experts = 256;
  c.num_experts_per_tok = 8;
  c.moe_intermediate_size = 2048;
  c.n_shared_experts = 1;
  c.tie_word_embeddings = false;
  c.num_nextn_predict_layers = 1;  // trained with its one MTP module (section 2.2)
  return c;
}

constexpr const char* kMegatronSource =
    "Narayanan et al., Efficient Large-Scale Language Model Training on GPU Clusters Using "
    "Megatron-LM, SC21 (arXiv:2104.04473), Table 1";
constexpr const char* kLlamaSource =
    "Llama Team, The Llama 3 Herd of Models (arXiv:2407.21783), Table 4";
constexpr const char* kDeepSeekSource =
    "DeepSeek-AI, DeepSeek-V3 Technical Report (arXiv:2412.19437), sections 3.1-3.3 and Table 1";

double megatron_flops_per_step(const ValidationRun& r) {
  const double b = double(r.global_batch_tokens / r.seq_len), s = double(r.seq_len);
  const double l = double(r.model.num_hidden_layers), h = double(r.model.hidden_size);
  const double v = double(r.model.vocab_size);
  return 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
}

}  // namespace

std::vector<ValidationRun> validation_runs() {
  std::vector<ValidationRun> runs;
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
    r.model = megatron_gpt(g.heads, g.hidden, g.layers);
    r.cluster = "a100-80gb";
    r.gpus = g.gpus;
    r.seq_len = 2048;
    r.global_batch_tokens = g.batch * 2048;
    r.tp = g.tp;
    r.pp = g.pp;
    r.zero = ZeroStage::kNone;
    r.recompute = Recompute::kFull;
    r.schedules = {PipelineSchedule::k1F1B, PipelineSchedule::kInterleaved};
    // Megatron-LM of 2021 ran its tensor-parallel all-reduces unoverlapped, and its gradient
    // all-reduce after the backward pass of the last micro-batch.
    r.tp_overlap = 0.0;
    r.dp_overlap = 0.0;
    r.convention = FlopConvention::kMegatron2021;
    r.published_tflops = g.tflops;
    r.published_note = "achieved TFLOP/s per GPU, fp16, with recomputation";
    r.source = kMegatronSource;
    runs.push_back(r);
  }
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
    r.model = llama3_405b();
    r.cluster = "h100-roce";
    r.gpus = g.gpus;
    r.seq_len = g.seq_len;
    r.global_batch_tokens = 16 * 1024 * 1024;
    r.tp = 8;
    r.pp = 16;
    r.cp = g.cp;
    r.schedules = {PipelineSchedule::kInterleaved};
    r.convention = FlopConvention::kModel;
    r.published_tflops = g.tflops;
    r.published_note = "BF16 TFLOP/s per GPU";
    r.source = kLlamaSource;
    runs.push_back(r);
  }
  {
    ValidationRun r;
    r.name = "DeepSeek-V3 671B (MLA), 2048 H800";
    r.model = deepseek_v3();
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
    r.precision = Precision::kFp8;
    r.convention = FlopConvention::kModel;
    // 180K H800 GPU-hours per trillion tokens: 1e12 / (180e3 * 3600) = 1543 tokens/s per GPU,
    // times the model FLOPs per token with MLA at sequence 4096.
    const ModelCosts m = model_costs(r.model, r.seq_len);
    r.published_tflops = 1e12 / (180e3 * 3600.0) * m.model_flops_per_token() / 1e12;
    r.published_note = "derived: 180K GPU-hours per trillion tokens x model FLOPs per token";
    r.source = kDeepSeekSource;
    runs.push_back(r);
  }
  return runs;
}

ValidationRow predict_run(const ValidationRun& run) {
  Result<Cluster> cluster = load_cluster(run.cluster);
  SYM_CHECK(cluster.has_value(), "validation cluster preset {}: {}", run.cluster,
            cluster.has_value() ? "" : cluster.error().message());
  PlanContext ctx;
  ctx.cluster = *cluster;
  ctx.cluster.num_gpus = run.gpus;
  ctx.eff = default_efficiency(ctx.cluster.accelerator);
  ctx.batch.seq_len = run.seq_len;
  ctx.batch.global_batch_tokens = run.global_batch_tokens;
  ctx.model = model_costs(run.model, run.seq_len);
  ctx.options.tp_overlap = run.tp_overlap;
  // The published runs' frameworks exposed the expert all-to-all (or overlapped it in DualPipe).
  ctx.options.ep_overlap = ExpertOverlap::kNone;
  ctx.options.dp_overlap = run.dp_overlap;

  SearchSpace space;
  space.precision = run.precision;
  space.max_cp = std::max<int64_t>(run.cp, 1);
  ValidationRow row;
  row.run = run;
  // The fastest matching layout that fits; when none fits in the planner's memory model, the
  // fastest matching one, flagged (the run itself did fit: the model is then pessimistic).
  std::optional<Evaluation> best, best_any;
  for (const PlanLayout& l : enumerate_layouts(ctx, space)) {
    if (l.tp() != run.tp || l.pp() != run.pp || l.cp() != run.cp || l.ep() != run.ep) continue;
    if (run.zero && l.zero() != *run.zero) continue;
    if (run.recompute && l.recompute != *run.recompute) continue;
    if (l.pp() > 1 &&
        std::find(run.schedules.begin(), run.schedules.end(), l.schedule) == run.schedules.end())
      continue;
    Evaluation e = evaluate(ctx, l);
    if (!best_any || e.memory.total() < best_any->memory.total()) best_any = e;
    if (!e.fits) continue;
    if (!best || e.time.step_s < best->time.step_s) best = e;
  }
  SYM_CHECK(best_any.has_value(), "validation run {} has no matching layout", run.name);
  row.fits = best.has_value();
  if (!best) best = best_any;
  row.memory_bytes = best->memory.total();
  row.layout = best->layout.to_string();
  const double flops = run.convention == FlopConvention::kMegatron2021
                           ? megatron_flops_per_step(run)
                           : ctx.model.model_flops_per_token() * double(run.global_batch_tokens);
  row.predicted_tflops = flops / best->time.step_s / double(run.gpus) / 1e12;
  row.relative_error = row.predicted_tflops / run.published_tflops - 1.0;
  return row;
}

std::vector<ValidationRow> run_validation() {
  std::vector<ValidationRow> rows;
  for (const ValidationRun& r : validation_runs()) rows.push_back(predict_run(r));
  return rows;
}

std::string format_validation_table(const std::vector<ValidationRow>& rows) {
  std::string s =
      "| run | GPUs | published layout | planner's full layout | published TFLOP/s | predicted "
      "TFLOP/s | error |\n| --- | ---: | --- | --- | ---: | ---: | ---: |\n";
  for (const ValidationRow& r : rows) {
    const ValidationRun& x = r.run;
    const int64_t dp = x.gpus / (x.tp * x.pp * x.cp);
    std::string published = fmt::format("tp{} pp{} dp{}", x.tp, x.pp, dp);
    if (x.cp > 1) published += fmt::format(" cp{}", x.cp);
    if (x.ep > 1) published += fmt::format(" ep{}", x.ep);
    std::string layout = fmt::format("`{}`", r.layout);
    if (!r.fits)
      layout += fmt::format(" (memory model: {:.0f} GiB, over the 80 GiB the run used)",
                            r.memory_bytes / double(1 << 30));
    s += fmt::format("| {} | {} | {} | {} | {:.0f} | {:.0f} | {:+.1f}% |\n", x.name, x.gpus,
                     published, layout, x.published_tflops, r.predicted_tflops,
                     100.0 * r.relative_error);
  }
  return s;
}

}  // namespace symphony::plan
