#include "plan/report.h"

#include <fmt/format.h>

namespace symphony::plan {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string gib(double bytes) { return fmt::format("{:.1f} GiB", bytes / kGiB); }

std::string billions(double n) {
  if (n >= 1e12) return fmt::format("{:.3f}T", n / 1e12);
  if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  return fmt::format("{:.0f}", n);
}

std::string seconds(double s) {
  if (s >= 1.0) return fmt::format("{:.3f} s", s);
  if (s >= 1e-3 || s == 0.0) return fmt::format("{:.1f} ms", s * 1e3);
  return fmt::format("{:.1f} us", s * 1e6);
}

std::string short_layout(const PlanLayout& l) {
  std::string s =
      fmt::format("dp={} tp={} pp={} ep={} cp={} zero={} mbs={} {} {}", l.dp(), l.tp(), l.pp(),
                  l.ep(), l.cp(), int(l.zero()), l.mbs, recompute_name(l.recompute),
                  pipeline_schedule_name(l.schedule));
  if (l.vpp > 1) s += fmt::format(" vpp={}", l.vpp);
  return s;
}

std::string percent(double part, double whole) {
  return fmt::format("{:5.1f}%", whole > 0 ? 100.0 * part / whole : 0.0);
}

}  // namespace

std::string format_context(const PlanContext& ctx) {
  const ModelCosts& m = ctx.model;
  const Cluster& c = ctx.cluster;
  std::string s;
  // The MTP modules' parameters count apart, as count_params has them; their FLOPs are model
  // FLOPs.
  const std::string mtp =
      m.num_mtp_modules > 0
          ? fmt::format(" + {} in {} MTP module{} ({} active)", billions(double(m.mtp_params())),
                        m.num_mtp_modules, m.num_mtp_modules > 1 ? "s" : "",
                        billions(double(m.mtp_active_params())))
          : std::string();
  s += fmt::format("model    {}: {} parameters, {} active{}, {:.1f} GFLOP per training token{}\n",
                   m.config.num_experts > 0 ? "MoE" : "dense", billions(double(m.total_params())),
                   billions(double(m.active_params())), mtp, m.model_flops_per_token() / 1e9,
                   m.config.mla() ? " (multi-head latent attention)" : "");
  s += fmt::format(
      "cluster  {}: {} x {} ({} per node, {:.0f} GB/s intra-node; {} {:.0f} GB/s "
      "per GPU, {})\n",
      c.name, c.num_gpus, c.accelerator.name, c.gpus_per_node, c.intra_bw / 1e9, c.network,
      c.inter_bw / 1e9, topology_name(c.topology.kind));
  s += fmt::format("batch    {} tokens per step = {} sequences of {}; training on {} tokens\n",
                   ctx.batch.global_batch_tokens, ctx.batch.sequences(), ctx.batch.seq_len,
                   billions(double(ctx.options.train_tokens)));
  s += fmt::format(
      "rates    {}: GEMM {:.0f}%, attention {:.0f}%, HBM {:.0f}%, intra-node {:.0f}%, "
      "network {:.0f}% of datasheet\n",
      ctx.eff.source, 100 * ctx.eff.gemm, 100 * ctx.eff.attention, 100 * ctx.eff.memory,
      100 * ctx.eff.intra_link, 100 * ctx.eff.inter_link);
  return s;
}

std::string format_evaluation(const PlanContext& ctx, const Evaluation& e, Detail detail) {
  const Cluster& c = ctx.cluster;
  std::string s;
  s += fmt::format("layout   {}\n", e.layout.to_string());
  s += fmt::format("memory   {} of {} per GPU{}\n", gib(e.memory.total()),
                   gib(c.accelerator.memory_bytes), e.fits ? "" : "  (OUT OF MEMORY)");
  s += fmt::format(
      "step     {} ({} micro-batches): {:.0f} tokens/s, {:.0f} TFLOP/s per GPU, "
      "MFU {:.1f}%{}\n",
      seconds(e.time.step_s), e.microbatches, e.tokens_per_s, e.model_tflops_per_gpu, 100 * e.mfu,
      e.layout.recompute == Recompute::kFull ? fmt::format(", HFU {:.1f}%", 100 * e.hfu)
                                             : std::string());
  s += fmt::format(
      "training {} tokens: {:.1f} days, {:.2f}M GPU-hours, {:.1f} MWh at PUE {:.2f} "
      "(${:.2f}M energy at ${:.3f}/kWh; ${:.1f}M at ${:.2f}/GPU-hour)\n",
      billions(double(ctx.options.train_tokens)), e.train_days, e.gpu_hours / 1e6, e.energy_mwh,
      c.pue, e.energy_usd / 1e6, c.energy_usd_per_kwh, e.rental_usd / 1e6, c.gpu_hour_usd);
  if (detail == Detail::kSummary) return s;

  const MemoryBreakdown& m = e.memory;
  const double mt = m.total();
  s += fmt::format("\nmemory per GPU, pipeline stage {} (the largest):\n", m.stage);
  auto mem_row = [&](std::string_view name, double v, std::string_view note) {
    s += fmt::format("  {:<22} {:>10}  {}  {}\n", name, gib(v), percent(v, mt), note);
  };
  const StateBytes sb = state_bytes(e.layout.precision, ctx.options.grad_precision);
  const ZeroStage zero = e.layout.zero();
  mem_row("weights", m.weights,
          fmt::format("{} B/param{}", sb.weight,
                      zero == ZeroStage::kParameters ? ", ZeRO-3 sharded + 2 layers gathered"
                                                     : ""));
  mem_row("gradients", m.grads,
          fmt::format("{} B/param{}", sb.grad,
                      zero >= ZeroStage::kGradients ? ", ZeRO sharded" : ""));
  mem_row("optimizer", m.optimizer,
          fmt::format("{} B/param{}", sb.optimizer,
                      zero >= ZeroStage::kOptimizer ? ", ZeRO sharded" : ""));
  mem_row("activations", m.activations,
          fmt::format("{:.1f} micro-batches in flight, recompute {}", m.in_flight_microbatches,
                      recompute_name(e.layout.recompute)));
  mem_row("logits and loss", m.logits, "last stage");
  mem_row("expert buffers", m.moe_buffers,
          m.moe_buffers > 0
              ? fmt::format("dispatch send + receive; dropless worst case {} to receive",
                            gib(m.moe_buffers_worst_case))
              : std::string());
  mem_row("comm buffers", m.comm_buffers, "sequence-parallel gather, gradient buckets");
  mem_row("runtime reserve", m.reserved, "context, workspaces");
  mem_row("fragmentation", m.fragmentation,
          fmt::format("{:.0f}% margin", 100 * ctx.options.fragmentation));
  mem_row("total", mt, "");

  const TimeBreakdown& t = e.time;
  s += "\ntime per step:\n";
  auto time_row = [&](std::string_view name, double v, std::string_view note) {
    s += fmt::format("  {:<22} {:>10}  {}  {}\n", name, seconds(v), percent(v, t.step_s), note);
  };
  time_row("compute", t.compute - t.recompute, "GEMM/attention/elementwise roofline");
  if (t.expert_gemm > 0)
    time_row("  routed experts", t.expert_gemm,
             fmt::format("of compute: grouped GEMMs, {:.0f} rows per expert, {:.0f}% of the GEMM "
                         "rate",
                         t.expert_rows, 100 * t.expert_gemm_rate));
  if (t.expert_overhead > 0)
    time_row("  per-expert host", t.expert_overhead,
             fmt::format("of compute: exposed beyond the experts' GEMMs; {:.0f} us per local "
                         "expert, layer and micro-batch",
                         ctx.options.moe_expert_overhead_s * 1e6));
  time_row("recompute", t.recompute, "");
  time_row("tensor parallel", t.tp_comm,
           fmt::format("exposed; {:.0f}% of the backward's overlappable part hidden, {}",
                       100 * ctx.options.tp_overlap,
                       algorithm_name(t.tp_algorithm)));
  time_row("expert all-to-all", t.ep_comm,
           fmt::format("exposed{}, {}; before overlap: intra-node part {}, inter-node part {}",
                       ctx.options.ep_overlap == ExpertOverlap::kChunked ? " (two-chunk exchange)"
                       : ctx.options.ep_overlap == ExpertOverlap::kPaired
                           ? " (beside the other direction's micro-batch)"
                           : "",
                       expert_dispatch_name(ctx.options.ep_dispatch), seconds(t.ep_comm_intra),
                       seconds(t.ep_comm_inter)));
  time_row("context parallel", t.cp_comm, "ring exchange not hidden by attention");
  time_row("pipeline sends", t.pp_comm, "");
  time_row("pipeline bubble", t.bubble, std::string(pipeline_schedule_name(e.layout.schedule)));
  time_row("data parallel", t.dp_comm, fmt::format("exposed, {}", algorithm_name(t.dp_algorithm)));
  time_row("optimizer", t.optimizer, "");
  if (t.overhead > 0) time_row("fixed overhead", t.overhead, "calibration");
  time_row("step", t.step_s, "");
  return s;
}

std::string format_search(const PlanContext& ctx, const SearchResult& r, Detail detail) {
  std::string s;
  s += fmt::format("searched {} valid layouts in {:.2f} s: {} fit, {} out of memory\n", r.evaluated,
                   r.seconds, r.fitting, r.out_of_memory);
  if (r.top.empty()) return s;
  s += fmt::format("\n {:>2}  {:<64} {:>9} {:>9} {:>7} {:>6}  {}\n", "#", "layout", "memory",
                   "step", "TFLOP/s", "MFU", "lost to the best by");
  for (size_t i = 0; i < r.top.size(); ++i) {
    const RankedLayout& x = r.top[i];
    std::string why = "best";
    if (i > 0 && x.reason == LossReason::kNone)
      why = "ties, needs more memory";
    else if (i > 0)
      why = fmt::format("+{:.1f}% {}", 100 * x.slowdown, loss_reason_name(x.reason));
    s += fmt::format(" {:>2}  {:<64} {:>9} {:>9} {:>7.0f} {:>5.1f}%  {}\n", i + 1,
                     short_layout(x.eval.layout), gib(x.eval.memory.total()),
                     seconds(x.eval.time.step_s), x.eval.model_tflops_per_gpu, 100 * x.eval.mfu,
                     why);
  }
  s += fmt::format(
      "\nlosers: {} out of memory; of the {} slower layouts, {} lost mostly to the pipeline "
      "bubble, {} to communication, {} to compute (recomputation, small GEMMs), {} to the "
      "optimizer step\n",
      r.out_of_memory, r.fitting > 0 ? r.fitting - 1 : 0, r.lost_to_bubble, r.lost_to_communication,
      r.lost_to_compute, r.lost_to_optimizer);
  s += "\nbest layout:\n";
  s += format_evaluation(ctx, r.top.front().eval, detail);
  return s;
}

nlohmann::json context_json(const PlanContext& ctx) {
  const ModelCosts& m = ctx.model;
  const Cluster& c = ctx.cluster;
  return {
      {"model",
       {{"total_params", m.total_params()},
        {"active_params", m.active_params()},
        {"mtp_modules", m.num_mtp_modules},
        {"mtp_params", m.mtp_params()},
        {"mtp_active_params", m.mtp_active_params()},
        {"model_flops_per_token", m.model_flops_per_token()},
        {"mla", m.config.mla()}}},
      {"cluster",
       {{"name", c.name},
        {"accelerator", c.accelerator.name},
        {"num_gpus", c.num_gpus},
        {"gpus_per_node", c.gpus_per_node},
        {"memory_bytes", c.accelerator.memory_bytes},
        {"pue", c.pue}}},
      {"batch",
       {{"seq_len", ctx.batch.seq_len},
        {"global_batch_tokens", ctx.batch.global_batch_tokens},
        {"train_tokens", ctx.options.train_tokens}}},
      {"efficiency",
       {{"source", ctx.eff.source},
        {"gemm", ctx.eff.gemm},
        {"gemm_fp8", ctx.eff.gemm_fp8},
        {"attention", ctx.eff.attention},
        {"memory", ctx.eff.memory},
        {"intra_link", ctx.eff.intra_link},
        {"inter_link", ctx.eff.inter_link}}},
  };
}

nlohmann::json evaluation_json(const Evaluation& e) {
  const PlanLayout& l = e.layout;
  const MemoryBreakdown& m = e.memory;
  const TimeBreakdown& t = e.time;
  return {
      {"layout",
       {{"dp", l.dp()},
        {"tp", l.tp()},
        {"pp", l.pp()},
        {"ep", l.ep()},
        {"cp", l.cp()},
        {"zero", int(l.zero())},
        {"vpp", l.vpp},
        {"mbs", l.mbs},
        {"recompute", recompute_name(l.recompute)},
        {"schedule", pipeline_schedule_name(l.schedule)},
        {"precision", precision_name(l.precision)},
        {"split", l.stage_split == StageSplit::kEven ? "even" : "balanced"},
        {"text", l.to_string()}}},
      {"fits", e.fits},
      {"microbatches", e.microbatches},
      {"memory_bytes",
       {{"stage", m.stage},
        {"weights", m.weights},
        {"grads", m.grads},
        {"optimizer", m.optimizer},
        {"activations", m.activations},
        {"logits", m.logits},
        {"moe_buffers", m.moe_buffers},
        {"moe_buffers_worst_case", m.moe_buffers_worst_case},
        {"comm_buffers", m.comm_buffers},
        {"reserved", m.reserved},
        {"fragmentation", m.fragmentation},
        {"total", m.total()}}},
      {"time_s",
       {{"compute", t.compute},
        {"recompute", t.recompute},
        {"tp_comm", t.tp_comm},
        {"ep_comm", t.ep_comm},
        {"ep_comm_intra", t.ep_comm_intra},
        {"ep_comm_inter", t.ep_comm_inter},
        {"cp_comm", t.cp_comm},
        {"expert_gemm", t.expert_gemm},
        {"expert_overhead", t.expert_overhead},
        {"expert_rows", t.expert_rows},
        {"expert_gemm_rate", t.expert_gemm_rate},
        {"pp_comm", t.pp_comm},
        {"bubble", t.bubble},
        {"dp_comm", t.dp_comm},
        {"optimizer", t.optimizer},
        {"overhead", t.overhead},
        {"step", t.step_s}}},
      {"tokens_per_s", e.tokens_per_s},
      {"model_tflops_per_gpu", e.model_tflops_per_gpu},
      {"hardware_tflops_per_gpu", e.hardware_tflops_per_gpu},
      {"mfu", e.mfu},
      {"hfu", e.hfu},
      {"train_days", e.train_days},
      {"gpu_hours", e.gpu_hours},
      {"energy_mwh", e.energy_mwh},
      {"energy_usd", e.energy_usd},
      {"rental_usd", e.rental_usd},
  };
}

nlohmann::json search_json(const PlanContext& ctx, const SearchResult& r) {
  nlohmann::json top = nlohmann::json::array();
  for (const RankedLayout& x : r.top) {
    nlohmann::json j = evaluation_json(x.eval);
    j["lost_by"] = x.slowdown;
    j["lost_to"] = loss_reason_name(x.reason);
    top.push_back(std::move(j));
  }
  nlohmann::json out = context_json(ctx);
  out["search"] = {{"evaluated", r.evaluated},
                   {"fitting", r.fitting},
                   {"out_of_memory", r.out_of_memory},
                   {"lost_to_bubble", r.lost_to_bubble},
                   {"lost_to_communication", r.lost_to_communication},
                   {"lost_to_compute", r.lost_to_compute},
                   {"lost_to_optimizer", r.lost_to_optimizer},
                   {"seconds", r.seconds}};
  out["top"] = std::move(top);
  return out;
}

}  // namespace symphony::plan
