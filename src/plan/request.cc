#include "plan/request.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "config/run_config.h"

namespace symphony::plan {

Result<PlanContext> make_plan_context(const PlanRequest& q) {
  SYM_TRY_ASSIGN(RunConfig run, load_run_config(q.model, {}));
  SYM_TRY_ASSIGN(Cluster cluster, load_cluster(q.cluster));
  if (q.num_gpus && *q.num_gpus <= 0)
    return Error::invalid("--gpus {}: a plan needs at least one GPU", *q.num_gpus);
  if (q.num_gpus) cluster.num_gpus = *q.num_gpus;
  if (q.pue) cluster.pue = *q.pue;
  if (q.energy_usd_per_kwh) cluster.energy_usd_per_kwh = *q.energy_usd_per_kwh;
  if (q.gpu_hour_usd) cluster.gpu_hour_usd = *q.gpu_hour_usd;
  SYM_TRY(cluster.validate().with_context("cluster {}", cluster.name));

  if (q.seq_len && *q.seq_len <= 0)
    return Error::invalid("--seq-len {} must be a positive number of tokens", *q.seq_len);
  if (q.global_batch_tokens && *q.global_batch_tokens <= 0)
    return Error::invalid("--global-batch-tokens {} must be a positive number of tokens",
                          *q.global_batch_tokens);
  // The run count is an int64 in PlanOptions; a larger one would wrap into negative days.
  constexpr double kMaxTrainTokens = 9.2e18;
  if (!(q.train_tokens > 0) || !std::isfinite(q.train_tokens))
    return Error::invalid("--tokens must be positive (got {})", q.train_tokens);
  if (q.train_tokens > kMaxTrainTokens)
    return Error::invalid("--tokens {:g} is more than the planner counts ({:g} tokens)",
                          q.train_tokens, kMaxTrainTokens);

  PlanContext ctx;
  ctx.batch.seq_len = q.seq_len.value_or(run.train.seq_len);
  // The run config's global batch; 0 there means one micro-batch per step.
  ctx.batch.global_batch_tokens = q.global_batch_tokens ? *q.global_batch_tokens
                                  : run.train.global_batch_tokens > 0
                                      ? run.train.global_batch_tokens
                                      : run.train.micro_batch_size * ctx.batch.seq_len;
  if (ctx.batch.seq_len > run.model.max_position_embeddings)
    return Error::invalid("--seq-len {} exceeds the model's max_position_embeddings {}",
                          ctx.batch.seq_len, run.model.max_position_embeddings);
  if (ctx.batch.global_batch_tokens % ctx.batch.seq_len != 0 ||
      ctx.batch.global_batch_tokens < ctx.batch.seq_len)
    return Error::invalid(
        "--global-batch-tokens {} is not a whole, positive number of {}-token sequences; use a "
        "multiple of --seq-len",
        ctx.batch.global_batch_tokens, ctx.batch.seq_len);
  if (!(q.options.moe_imbalance >= 1.0) || !std::isfinite(q.options.moe_imbalance))
    return Error::invalid("--moe-imbalance {} must be at least 1 (the balanced mean)",
                          q.options.moe_imbalance);
  if (!(q.options.moe_expert_overhead_s >= 0.0) ||
      !std::isfinite(q.options.moe_expert_overhead_s))
    return Error::invalid("--moe-expert-overhead-us {} must be a non-negative number",
                          q.options.moe_expert_overhead_s * 1e6);
  if (!(q.options.dp_overlap >= 0.0 && q.options.dp_overlap <= 1.0))
    return Error::invalid("--dp-overlap {} must be in [0, 1]", q.options.dp_overlap);
  if (!(q.options.moe_overload >= 1.0))
    return Error::invalid("--moe-overload {} must be at least 1 (the balanced mean)",
                          q.options.moe_overload);
  ctx.model = model_costs(run.model, ctx.batch.seq_len);
  ctx.options = q.options;
  ctx.options.train_tokens = int64_t(q.train_tokens);
  ctx.eff = default_efficiency(cluster.accelerator);
  if (!q.calibration_path.empty()) {
    SYM_TRY_ASSIGN(ctx.eff, load_calibration(q.calibration_path, cluster, ctx.eff));
  }
  ctx.cluster = std::move(cluster);
  return ctx;
}

Result<Evaluation> plan_layout(const PlanContext& ctx, std::string_view text, Precision precision) {
  PlanLayout defaults;
  defaults.precision = precision;
  Result<PlanLayout> parsed = parse_layout(text, ctx.cluster.num_gpus, defaults);
  if (!parsed) return parsed.error().with_context("--layout {}", text);
  const PlanLayout& l = *parsed;
  SYM_TRY(check_layout(l, ctx.model, ctx.batch, ctx.cluster.num_gpus, ctx.cluster.gpus_per_node,
                       ctx.options.tp_placement)
              .with_context("--layout {}", text));
  if (l.precision == Precision::kFp8 && ctx.cluster.accelerator.peak_fp8_flops <= 0)
    return Error::invalid("--layout precision=fp8: the {} has no fp8 tensor cores; use bf16",
                          ctx.cluster.accelerator.name);
  return evaluate(ctx, l);
}

Result<SearchResult> plan_search(const PlanContext& ctx, const SearchSpace& space, int64_t top_k) {
  if (space.precision == Precision::kFp8 && ctx.cluster.accelerator.peak_fp8_flops <= 0)
    return Error::invalid("--precision fp8: the {} has no fp8 tensor cores; use bf16",
                          ctx.cluster.accelerator.name);
  SearchResult r = search_layouts(ctx, space, top_k);
  if (r.evaluated == 0)
    return Error::invalid(
        "no valid layout for {} GPUs: the batch of {} sequences, {} heads and {} layers admit no "
        "factorisation dp*cp*tp*pp; use a GPU count that divides the batch (a power of two) or a "
        "larger --global-batch-tokens",
        ctx.cluster.num_gpus, ctx.batch.sequences(), ctx.model.config.num_attention_heads,
        ctx.model.num_layers);
  if (r.fitting == 0) {
    const double need = r.smallest.memory.total(), have = ctx.cluster.accelerator.memory_bytes;
    const double state =
        r.smallest.memory.weights + r.smallest.memory.grads + r.smallest.memory.optimizer;
    const double other = need - state;
    // GPU counts to try, in whole nodes: the count at which the leanest layout's model state,
    // spread over more GPUs, would leave room for the rest, then doublings of the cluster. The
    // first that has a layout fitting is reported; none, when the batch cannot spread further.
    const int64_t node = ctx.cluster.gpus_per_node, n = ctx.cluster.num_gpus;
    std::vector<int64_t> counts;
    if (have > other) {
      const double estimate = std::ceil(double(n) * state / (have - other) / double(node));
      if (estimate * double(node) <= double(Cluster::kMaxGpus))
        counts.push_back(std::max(int64_t(estimate) * node, n + node));
    }
    for (int64_t c = 2 * n; c <= Cluster::kMaxGpus; c *= 2) counts.push_back(c);
    std::sort(counts.begin(), counts.end());
    std::string gpus_hint;
    for (int64_t c : counts) {
      const GpuCountProbe probe = probe_gpu_count(ctx, space, c);
      if (!probe.fits) continue;
      gpus_hint = fmt::format("{} GPUs ({:.1f}x) would fit it, e.g. {} at {:.1f} GiB per GPU", c,
                              double(c) / double(n), probe.layout.to_string(),
                              probe.memory_bytes / (1 << 30));
      break;
    }
    if (gpus_hint.empty())
      gpus_hint = fmt::format(
          "no count of GPUs up to 2^24 fits it with this batch of {} sequences (more GPUs need a "
          "larger --global-batch-tokens to spread over)",
          ctx.batch.sequences());
    // Model state shrinks with more GPUs; activations with shorter sequences.
    const std::string advice =
        state >= other ? fmt::format("{}; or use an accelerator with more memory", gpus_hint)
                       : fmt::format(
                             "use a shorter --seq-len or an accelerator with more memory; {}",
                             gpus_hint);
    return Error::invalid(
        "the model fits in no layout on {} x {}: the leanest ({}) needs {:.1f} GiB per GPU, "
        "{:.1f} GiB of it model state, against {:.1f} GiB; {}",
        ctx.cluster.num_gpus, ctx.cluster.accelerator.name, r.smallest.layout.to_string(),
        need / (1 << 30), state / (1 << 30), have / (1 << 30), advice);
  }
  return r;
}

}  // namespace symphony::plan
