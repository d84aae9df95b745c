#include "plan/validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "plan/search.h"

namespace symphony::plan {
namespace {

double megatron_flops_per_step(const ValidationRun& r) {
  const double b = double(r.global_batch_tokens / r.seq_len), s = double(r.seq_len);
  const double l = double(r.model.num_hidden_layers), h = double(r.model.hidden_size);
  const double v = double(r.model.vocab_size);
  return 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
}

Cluster validation_cluster(const ValidationRun& run) {
  Result<Cluster> cluster = load_cluster(run.cluster);
  SYM_CHECK(cluster.has_value(), "validation cluster preset {}: {}", run.cluster,
            cluster.has_value() ? "" : cluster.error().message());
  Cluster c = *cluster;
  c.num_gpus = run.gpus;
  if (run.gpus_per_node > 0) c.gpus_per_node = run.gpus_per_node;
  return c;
}

// Nearest-rank percentile of sorted values.
double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = size_t(std::ceil(q * double(v.size())));
  return v[std::min(v.size(), std::max<size_t>(rank, 1)) - 1];
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string precision_label(const ValidationRun& r) {
  if (r.precision != Precision::kFp8) return r.precision == Precision::kBf16 ? "BF16" : "FP32";
  switch (r.fp8_recipe) {
    case Fp8Recipe::kTensorwise: return "FP8";
    case Fp8Recipe::kBlockwise: return "FP8 blockwise";
    case Fp8Recipe::kMx: return "MXFP8";
  }
  return "FP8";
}

std::string metric_unit(PublishedMetric m) {
  switch (m) {
    case PublishedMetric::kTflopsPerGpu: return "TFLOP/s";
    case PublishedMetric::kTokensPerGpuS: return "tok/s";
    case PublishedMetric::kStepSeconds: return "s/step";
  }
  return "";
}

std::string format_value(double v, PublishedMetric m) {
  return m == PublishedMetric::kStepSeconds ? fmt::format("{:.2f}", v) : fmt::format("{:.0f}", v);
}

}  // namespace

std::string ValidationRun::hardware() const {
  const Cluster c = validation_cluster(*this);
  const std::string& n = c.accelerator.name;
  for (const char* family : {"GB200", "B200", "H800", "H100", "A100"})
    if (n.find(family) != std::string::npos) return family;
  return n;
}

ValidationRow predict_run(const ValidationRun& run) {
  PlanContext ctx;
  ctx.cluster = validation_cluster(run);
  ctx.eff = default_efficiency(ctx.cluster.accelerator);
  ctx.batch.seq_len = run.seq_len;
  ctx.batch.global_batch_tokens = run.global_batch_tokens;
  ctx.model = model_costs(run.model, run.seq_len);
  ctx.options.tp_overlap = run.tp_overlap;
  // The published runs' frameworks exposed the expert all-to-all, overlapped it in DualPipe, or
  // paired micro-batches where their recipes say so.
  ctx.options.ep_overlap = run.ep_overlap;
  ctx.options.dp_overlap = run.dp_overlap;
  ctx.options.fp8_recipe = run.fp8_recipe;
  ctx.options.ep_dispatch = run.ep_dispatch;

  SearchSpace space;
  space.precision = run.precision;
  space.max_cp = std::max<int64_t>(run.cp, 1);
  if (run.mbs) space.micro_batch_sizes = {*run.mbs};
  if (run.vpp) space.max_vpp = std::max<int64_t>(space.max_vpp, *run.vpp);
  ValidationRow row;
  row.run = run;
  row.capacity_bytes = ctx.cluster.accelerator.memory_bytes;
  // The fastest matching layout that fits; when none fits in the planner's memory model, the
  // fastest matching one, flagged (the run itself did fit: the model is then pessimistic).
  std::optional<Evaluation> best, best_any;
  for (PlanLayout l : enumerate_layouts(ctx, space)) {
    l.stage_split = run.stage_split;
    if (l.tp() != run.tp || l.pp() != run.pp || l.cp() != run.cp || l.ep() != run.ep) continue;
    if (run.zero && l.zero() != *run.zero) continue;
    if (run.recompute && l.recompute != *run.recompute) continue;
    if (!run.recompute && std::find(run.recompute_choices.begin(), run.recompute_choices.end(),
                                    l.recompute) == run.recompute_choices.end())
      continue;
    if (run.vpp && l.vpp != *run.vpp) continue;
    if (l.pp() > 1 &&
        std::find(run.schedules.begin(), run.schedules.end(), l.schedule) == run.schedules.end())
      continue;
    Evaluation e = evaluate(ctx, l);
    if (!best_any || e.time.step_s < best_any->time.step_s) best_any = e;
    if (!e.fits) continue;
    if (!best || e.time.step_s < best->time.step_s) best = e;
  }
  SYM_CHECK(best_any.has_value(), "validation run {} has no matching layout", run.name);
  row.fits = best.has_value();
  if (!best) best = best_any;
  row.memory_bytes = best->memory.total();
  row.layout = best->layout.to_string();
  const double step = best->time.step_s;
  switch (run.metric) {
    case PublishedMetric::kTflopsPerGpu: {
      const double flops = run.convention == FlopConvention::kMegatron2021
                               ? megatron_flops_per_step(run)
                               : ctx.model.model_flops_per_token() *
                                     double(run.global_batch_tokens);
      row.predicted = flops / step / double(run.gpus) / 1e12;
      row.relative_error = row.predicted / run.published - 1.0;
      break;
    }
    case PublishedMetric::kTokensPerGpuS:
      row.predicted = double(run.global_batch_tokens) / step / double(run.gpus);
      row.relative_error = row.predicted / run.published - 1.0;
      break;
    case PublishedMetric::kStepSeconds:
      row.predicted = step;
      row.relative_error = run.published / step - 1.0;
      break;
  }
  return row;
}

std::vector<ValidationRow> run_validation() {
  std::vector<ValidationRow> rows;
  for (const ValidationRun& r : validation_runs()) rows.push_back(predict_run(r));
  return rows;
}

ErrorSummary summarize(const std::vector<ValidationRow>& rows, ValidationSet set) {
  std::vector<double> all, moe, dense;
  double signed_sum = 0, moe_signed_sum = 0;
  for (const ValidationRow& r : rows) {
    if (r.run.set != set) continue;
    const double e = std::fabs(r.relative_error);
    all.push_back(e);
    signed_sum += r.relative_error;
    if (r.run.moe()) {
      moe.push_back(e);
      moe_signed_sum += r.relative_error;
    } else {
      dense.push_back(e);
    }
  }
  ErrorSummary s;
  s.runs = int64_t(all.size());
  s.moe_runs = int64_t(moe.size());
  s.median = median(all);
  s.p90 = percentile(all, 0.9);
  s.moe_median = median(moe);
  s.moe_p90 = percentile(moe, 0.9);
  s.dense_median = median(dense);
  s.dense_p90 = percentile(dense, 0.9);
  s.mean_signed = all.empty() ? 0 : signed_sum / double(all.size());
  s.moe_mean_signed = moe.empty() ? 0 : moe_signed_sum / double(moe.size());
  return s;
}

std::string format_validation_table(const std::vector<ValidationRow>& rows) {
  std::string s;
  for (ValidationSet set : {ValidationSet::kFitting, ValidationSet::kEvaluation}) {
    const bool fitting = set == ValidationSet::kFitting;
    s += fitting ? "Fitting set (the runs the efficiency factors are set on):\n\n"
                 : "Evaluation set (never used to set a factor):\n\n";
    s += "| run | hardware | GPUs | precision | published layout | planner's full layout | "
         "published | predicted | error | source |\n"
         "| --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: | --- |\n";
    for (const ValidationRow& r : rows) {
      const ValidationRun& x = r.run;
      if (x.set != set) continue;
      const int64_t dp = x.gpus / (x.tp * x.pp * x.cp);
      std::string published = fmt::format("tp{} pp{} dp{}", x.tp, x.pp, dp);
      if (x.cp > 1) published += fmt::format(" cp{}", x.cp);
      if (x.ep > 1) published += fmt::format(" ep{}", x.ep);
      if (x.vpp && *x.vpp > 1) published += fmt::format(" vpp{}", *x.vpp);
      if (x.mbs) published += fmt::format(" mbs{}", *x.mbs);
      if (x.zero == ZeroStage::kParameters) published += " fsdp";
      std::string layout = fmt::format("`{}`", r.layout);
      if (!r.fits)
        layout += fmt::format(" (memory model: {:.0f} GiB, over the {:.0f} GiB the run used)",
                              r.memory_bytes / double(1 << 30), r.capacity_bytes / double(1 << 30));
      s += fmt::format("| {}{} | {} | {} | {} | {} | {} | {} {} | {} | {:+.1f}% | {} |\n", x.name,
                       x.moe() ? " (MoE)" : "", x.hardware(), x.gpus, precision_label(x),
                       published, layout, format_value(x.published, x.metric),
                       metric_unit(x.metric), format_value(r.predicted, x.metric),
                       100.0 * r.relative_error, x.source);
    }
    const ErrorSummary e = summarize(rows, set);
    s += fmt::format(
        "\n{} set: {} runs ({} MoE); |error| median {:.1f}%, 90th percentile {:.1f}%; dense "
        "median {:.1f}% (p90 {:.1f}%), MoE median {:.1f}% (p90 {:.1f}%); mean signed error "
        "{:+.1f}% (MoE {:+.1f}%)\n\n",
        fitting ? "Fitting" : "Evaluation", e.runs, e.moe_runs, 100 * e.median, 100 * e.p90,
        100 * e.dense_median, 100 * e.dense_p90, 100 * e.moe_median, 100 * e.moe_p90,
        100 * e.mean_signed, 100 * e.moe_mean_signed);
  }
  s += "Sources:\n\n";
  for (const ValidationSource& src : validation_sources())
    s += fmt::format("- `{}`: {}\n", src.key, src.reference);
  return s;
}

}  // namespace symphony::plan
