// symphony plan --model PRESET|config.toml --cluster PRESET|cluster.toml [--gpus N]
//               [--seq-len T] [--global-batch-tokens B] [--tokens D] [--layout k=v,...]
//               [--top K] [--explain] [--json] [--calibrate FILE] [--precision P]
//               [--pue X] [--energy-price USD] [--gpu-hour-price USD] [--tp-across-nodes]
//               [--moe-overload F] [--tp-overlap F] [--dp-overlap F] [--moe-imbalance F]
//               [--moe-expert-overhead-us U] [--ep-dispatch all-to-all|node-dedup]
//               [--fp8-recipe tensorwise|blockwise|mx] [--grad-precision fp32|bf16]
// symphony plan --validate [--json]
// symphony plan --list-clusters
// symphony plan pipeline ...  (cmd_plan_pipeline.cc)
#include <fmt/format.h>

#include <cstdlib>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "plan/report.h"
#include "plan/request.h"
#include "plan/validation.h"

namespace symphony::cli {
namespace {

struct PlanArgs {
  plan::PlanRequest request;
  std::string layout;
  std::string tokens = "15e12";
  std::string precision = "bf16";
  std::string fp8_recipe = "tensorwise";
  std::string grad_precision = "fp32";
  std::string ep_dispatch = plan::expert_dispatch_name(plan::PlanOptions{}.ep_dispatch);
  std::string ep_overlap = plan::expert_overlap_name(plan::PlanOptions{}.ep_overlap);
  int64_t gpus = 0, seq_len = 0, global_batch_tokens = 0;
  CLI::Option *gpus_option = nullptr, *seq_len_option = nullptr, *batch_option = nullptr;
  double moe_expert_overhead_us = plan::PlanOptions{}.moe_expert_overhead_s * 1e6;
  int64_t top = 5;
  bool explain = false;
  bool json = false;
  bool validate = false;
  bool list_clusters = false;
  bool tp_across_nodes = false;
  double pue = 0, energy_price = 0, gpu_hour_price = 0;
  CLI::Option *pue_option = nullptr, *energy_option = nullptr, *gpu_hour_option = nullptr;
};

Result<double> parse_tokens(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(v > 0))
    return Error::invalid("--tokens '{}' is not a positive number (e.g. 15e12)", text);
  return v;
}

int run_validate(bool json) {
  const std::vector<plan::ValidationRow> rows = plan::run_validation();
  if (json) {
    nlohmann::json out = {{"runs", nlohmann::json::array()}};
    for (const plan::ValidationRow& r : rows)
      out["runs"].push_back(
          {{"name", r.run.name},
           {"set", r.run.set == plan::ValidationSet::kFitting ? "fitting" : "evaluation"},
           {"moe", r.run.moe()},
           {"cluster", r.run.cluster},
           {"gpus", r.run.gpus},
           {"layout", r.layout},
           {"metric", r.run.metric == plan::PublishedMetric::kTflopsPerGpu    ? "tflops_per_gpu"
                      : r.run.metric == plan::PublishedMetric::kTokensPerGpuS ? "tokens_per_gpu_s"
                                                                               : "step_s"},
           {"published", r.run.published},
           {"predicted", r.predicted},
           {"error", r.relative_error},
           {"source", r.run.source}});
    for (auto [set, key] : {std::pair{plan::ValidationSet::kFitting, "fitting"},
                            {plan::ValidationSet::kEvaluation, "evaluation"}}) {
      const plan::ErrorSummary e = plan::summarize(rows, set);
      out["summary"][key] = {{"runs", e.runs},         {"moe_runs", e.moe_runs},
                             {"median", e.median},     {"p90", e.p90},
                             {"moe_median", e.moe_median}, {"moe_p90", e.moe_p90},
                             {"dense_median", e.dense_median}, {"dense_p90", e.dense_p90},
                             {"mean_signed", e.mean_signed}};
    }
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("{}", plan::format_validation_table(rows));
  return kExitOk;
}

int run_plan(PlanArgs& a) {
  if (a.list_clusters) {
    for (const std::string& name : plan::list_cluster_presets()) {
      Result<plan::Cluster> c = plan::load_cluster(name);
      if (!c) return report(c.error());
      fmt::print("{:<16} {:>6} x {:<18} {}\n", name, c->num_gpus, c->accelerator.name,
                 c->description);
    }
    return kExitOk;
  }
  if (a.validate) return run_validate(a.json);
  if (a.request.model.empty() || a.request.cluster.empty())
    return report(Error::invalid("plan needs --model and --cluster (or --validate)"));
  Result<double> tokens = parse_tokens(a.tokens);
  if (!tokens) return report(tokens.error());
  a.request.train_tokens = *tokens;
  if (a.gpus_option != nullptr && a.gpus_option->count() > 0) a.request.num_gpus = a.gpus;
  if (a.seq_len_option->count() > 0) a.request.seq_len = a.seq_len;
  if (a.batch_option->count() > 0) a.request.global_batch_tokens = a.global_batch_tokens;
  if (a.pue_option->count() > 0) a.request.pue = a.pue;
  if (a.energy_option->count() > 0) a.request.energy_usd_per_kwh = a.energy_price;
  if (a.gpu_hour_option->count() > 0) a.request.gpu_hour_usd = a.gpu_hour_price;
  a.request.options.tp_placement =
      a.tp_across_nodes ? plan::TpPlacement::kAnywhere : plan::TpPlacement::kWithinNode;
  if (a.top < 1) return report(Error::invalid("--top {} must be at least 1", a.top));
  a.request.options.fp8_recipe = *plan::parse_fp8_recipe(a.fp8_recipe);
  a.request.options.moe_expert_overhead_s = a.moe_expert_overhead_us * 1e-6;
  plan::parse_expert_dispatch(a.ep_dispatch.c_str(), &a.request.options.ep_dispatch);
  plan::parse_expert_overlap(a.ep_overlap.c_str(), &a.request.options.ep_overlap);
  a.request.options.grad_precision =
      a.grad_precision == "bf16" ? plan::GradPrecision::kBf16 : plan::GradPrecision::kFp32;
  Result<plan::PlanContext> ctx = plan::make_plan_context(a.request);
  if (!ctx) return report(ctx.error());
  const plan::Precision precision = a.precision == "fp8"    ? plan::Precision::kFp8
                                    : a.precision == "fp32" ? plan::Precision::kFp32
                                                            : plan::Precision::kBf16;
  const plan::Detail detail = a.explain ? plan::Detail::kExplain : plan::Detail::kSummary;
  if (!a.layout.empty()) {
    Result<plan::Evaluation> e = plan::plan_layout(*ctx, a.layout, precision);
    if (!e) return report(e.error());
    if (a.json) {
      nlohmann::json out = plan::context_json(*ctx);
      out["evaluation"] = plan::evaluation_json(*e);
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}\n{}", plan::format_context(*ctx), plan::format_evaluation(*ctx, *e, detail));
    }
    return kExitOk;
  }
  plan::SearchSpace space;
  space.precision = precision;
  Result<plan::SearchResult> r = plan::plan_search(*ctx, space, a.top);
  if (!r) return report(r.error());
  if (a.json)
    fmt::print("{}\n", plan::search_json(*ctx, *r).dump(2));
  else
    fmt::print("{}\n{}", plan::format_context(*ctx), plan::format_search(*ctx, *r, detail));
  return kExitOk;
}

}  // namespace

void add_plan_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plan", "Search or evaluate parallel layouts: memory, step time, MFU, energy and cost");
  cmd->add_option("--model", a->request.model, "Model preset (see `symphony presets`) or TOML");
  cmd->add_option("--cluster", a->request.cluster,
                  "Cluster preset (see --list-clusters) or cluster TOML (docs/plan.md)");
  a->gpus_option = cmd->add_option("--gpus", a->gpus, "Number of GPUs (default: the cluster's)");
  a->seq_len_option =
      cmd->add_option("--seq-len", a->seq_len, "Tokens per sequence (default: the config's)");
  a->batch_option = cmd->add_option("--global-batch-tokens", a->global_batch_tokens,
                                    "Tokens per optimizer step (default: the config's)");
  cmd->add_option("--tokens", a->tokens, "Training tokens D for time, GPU-hours and energy")
      ->capture_default_str();
  cmd->add_option("--layout", a->layout,
                  "Evaluate one layout: dp=,tp=,pp=,ep=,cp=,zero=,vpp=,mbs=,recompute=,"
                  "schedule=,precision=");
  cmd->add_option("--top", a->top, "Layouts to list")->capture_default_str();
  cmd->add_flag("--explain", a->explain, "Memory and time breakdowns of the best layout");
  cmd->add_flag("--json", a->json, "Machine-readable output");
  cmd->add_option("--calibrate", a->request.calibration_path,
                  "TOML of measured GEMM and collective rates (docs/plan.md)");
  cmd->add_option("--precision", a->precision, "Training precision for the search")
      ->check(CLI::IsMember({"bf16", "fp8", "fp32"}))
      ->capture_default_str();
  a->pue_option =
      cmd->add_option("--pue", a->pue, "Power usage effectiveness (default: the cluster's)");
  a->energy_option =
      cmd->add_option("--energy-price", a->energy_price, "USD per kWh (default: the cluster's)");
  a->gpu_hour_option = cmd->add_option("--gpu-hour-price", a->gpu_hour_price,
                                       "USD per GPU-hour (default: the cluster's)");
  cmd->add_flag("--tp-across-nodes", a->tp_across_nodes, "Let tensor parallelism span nodes");
  cmd->add_option("--moe-overload", a->request.options.moe_overload,
                  "Routed tokens per GPU over the mean, for dropless expert buffers")
      ->capture_default_str();
  cmd->add_option("--tp-overlap", a->request.options.tp_overlap,
                  "Fraction of tensor-parallel communication hidden behind GEMMs")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--dp-overlap", a->request.options.dp_overlap,
                  "Fraction of the compute windows data-parallel reductions and gathers may hide "
                  "behind (1: bucketed overlap; 0: run after the backward pass)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--moe-imbalance", a->request.options.moe_imbalance,
                  "Routed tokens of the busiest GPU over the mean, for step time")
      ->capture_default_str();
  cmd->add_option("--moe-expert-overhead-us", a->moe_expert_overhead_us,
                  "Host time per expert a GPU holds, per MoE layer and micro-batch (forward and "
                  "backward), in microseconds; exposed where it exceeds the experts' GEMMs")
      ->capture_default_str();
  cmd->add_option("--ep-dispatch", a->ep_dispatch,
                  "How routed tokens cross nodes: every copy to its expert's GPU, or once per "
                  "destination node and forwarded inside it (DeepEP)")
      ->check(CLI::IsMember({"all-to-all", "node-dedup"}))
      ->capture_default_str();
  cmd->add_option("--ep-overlap", a->ep_overlap,
                  "How the expert all-to-all meets computation outside DualPipe: exposed, "
                  "Symphony's two-chunk exchange, or beside another micro-batch's pass in the "
                  "other direction (Megatron-Core's overlap_moe_expert_parallel_comm)")
      ->check(CLI::IsMember({"none", "chunked", "paired"}))
      ->capture_default_str();
  cmd->add_option("--fp8-recipe", a->fp8_recipe, "Scaling of fp8 GEMMs")
      ->check(CLI::IsMember({"tensorwise", "blockwise", "mx"}))
      ->capture_default_str();
  cmd->add_option("--grad-precision", a->grad_precision,
                  "Gradients accumulated and reduced in fp32 or bf16 (bf16 and fp8 training)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_flag("--validate", a->validate,
                "Print predicted against published throughput of documented training runs");
  cmd->add_flag("--list-clusters", a->list_clusters, "List the cluster presets");
  CLI::App* pipeline = add_plan_pipeline_command(*cmd, exit_code);
  cmd->callback([a, exit_code, pipeline] {
    if (pipeline->parsed()) return;
    *exit_code = run_plan(*a);
  });
}

}  // namespace symphony::cli
