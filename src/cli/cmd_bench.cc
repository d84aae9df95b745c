// symphony bench train [CONFIG] [--steps N] [--warmup N] [--set k=v]... [--json]
//   (under mpirun: the config's parallel layout beside data parallelism and one process)
// symphony bench gemm   [CONFIG]
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/comm_bench.h"
#include "bench/machine_peak.h"
#include "parallel/runtime.h"
#include "bench/train_bench.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "kernels/gemm.h"
#include "model/pipeline_split.h"
#include "monitor/flops.h"
#include "monitor/pipeline_trace.h"
#include "parallel/pipeline_schedule.h"

namespace symphony::cli {
namespace {

struct BenchArgs {
  std::string config = "bench-moe-small";
  std::vector<std::string> overrides;
  int64_t steps = 5;
  int64_t warmup = 2;
  bool json = false;
  std::string trace_dir;  // pipeline runs: the last timed step's timeline per schedule
};

constexpr double kProbeSeconds = 0.1;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The projections of one training step: forward x·W^T has shape (rows, out, in).
std::vector<GemmShape> model_gemm_shapes(const RunConfig& c) {
  const ModelConfig& m = c.model;
  const int64_t n = c.train.micro_batch_size * c.train.seq_len;
  std::vector<GemmShape> shapes = {{2048, 2048, 2048, "square 2048"},
                                   {n, m.q_dim(), m.hidden_size, "q/o projection"},
                                   {n, m.vocab_size, m.hidden_size, "lm head"}};
  if (m.num_experts > 0) {
    int64_t rows = n * m.num_experts_per_tok / m.num_experts;
    shapes.push_back({rows, m.moe_intermediate_size, m.hidden_size, "expert up (mean rows)"});
  }
  if (m.num_experts == 0 || m.first_k_dense_replace > 0)
    shapes.push_back({n, m.intermediate_size, m.hidden_size, "dense mlp up"});
  return shapes;
}

int run_gemm(const BenchArgs& args) {
  Result<RunConfig> c = load_run_config(args.config, args.overrides);
  if (!c.has_value()) return report(c.error());
  fmt::print("BLAS {} on {} threads; bf16 GEMMs: {}\n", cpu::blas_name(), omp_get_max_threads(),
             cpu::bf16_gemm_path_name(cpu::bf16_gemm_path()));
  fmt::print("FMA peak {:.1f} GFLOP/s\n", measure_fma_peak_gflops());
  // Each projection as training runs it: forward y = x·W^T, backward dx = dy·W and dW = dy^T·x.
  std::vector<GemmShape> shapes;
  for (const GemmShape& f : model_gemm_shapes(*c)) {
    shapes.push_back(f);
    if (f.label.starts_with("square")) continue;
    shapes.push_back({f.m, f.k, f.n, f.label + " dx", false, false});
    shapes.push_back({f.n, f.k, f.m, f.label + " dW", true, false});
  }
  // Shape by shape, fp32 then bf16 (its conversion of A and B included), so that both see the
  // same machine load.
  fmt::print("  {:<28} {:>2} {:>6}   {:>6}   {:>6}  {:>11} {:>11} {:>9} {:>9}\n", "GEMM", "op", "M",
             "N", "K", "fp32 GFLOP/s", "bf16 GFLOP/s", "bf16/fp32", "convert");
  for (const GemmShape& shape : shapes) {
    const double fp32 = measure_gemm({shape}, Precision::kFp32)[0].gflops;
    const double bf16 = measure_gemm({shape}, Precision::kBf16)[0].gflops;
    const double convert = measure_bf16_conversion_share(shape);
    fmt::print("  {:<28} {}{} {:>6} x {:>6} x {:>6}  {:11.1f} {:11.1f} {:8.2f}x {:8.1f}%\n",
               shape.label, shape.trans_a ? 'T' : 'N', shape.trans_b ? 'T' : 'N', shape.m,
               shape.n, shape.k, fp32, bf16, bf16 / fp32, 100 * convert);
  }
  fmt::print("  convert: the share of the bf16 GEMM's time spent converting A and B to bf16\n");
  return kExitOk;
}

std::string mib(int64_t bytes) { return fmt::format("{:.1f}", double(bytes) / (1 << 20)); }

// Under mpirun: the requested layout, data parallelism over the same ranks (when the layout is
// not already that) and one process alone, measured in the same run; rank 0 prints them side by
// side with the expert all-to-all time, the fraction of it hidden, and the state per rank.
int run_parallel_train_bench(const BenchArgs& args, const RunConfig& config, Runtime& runtime) {
  Comm& world = runtime.world();
  struct Row {
    std::string name;
    TrainBenchResult r;
  };
  std::vector<Row> rows;
  auto measure = [&](const std::string& name, const RunConfig& c, Comm* group) -> Status {
    SYM_TRY_ASSIGN(TrainBenchResult r, bench_train(c, Exec::cpu(), args.warmup, args.steps, {},
                                                   group));
    rows.push_back({name, std::move(r)});
    return Status::ok();
  };
  // Pipeline parallel: every schedule that can run the layout (the requested one alone when the
  // split is given), on 8 micro-batches per pipeline unless the config sets the global batch; the
  // data-parallel run processes the same global batch.
  const bool pipelined = config.parallel.pp > 1;
  RunConfig base = config;
  const int64_t micro_tokens = base.train.micro_batch_size * base.train.seq_len;
  // Pipelines side by side: the data-parallel ranks (dp x cp) of every stage.
  const int64_t pipelines = std::max<int64_t>(
      1, world.size() / (base.parallel.pp * base.parallel.tp * base.parallel.cp));
  if (pipelined && base.train.global_batch_tokens == 0)
    base.train.global_batch_tokens = 8 * micro_tokens * pipelines;
  Status s = Status::ok();
  if (pipelined && base.parallel.pp_layers.empty()) {
    for (PipelineSchedule schedule : {PipelineSchedule::kGpipe, PipelineSchedule::k1F1B,
                                      PipelineSchedule::kInterleaved,
                                      PipelineSchedule::kZeroBubble}) {
      RunConfig c = base;
      c.parallel.pp_schedule = schedule;
      c.parallel.vpp = schedule == PipelineSchedule::kInterleaved ? 2 : 1;
      if (!validate(c).is_ok()) continue;  // e.g. too few layers to interleave
      const int64_t m = c.train.global_batch_tokens / (micro_tokens * pipelines);
      if (!check_pipeline_schedule(schedule, int(c.parallel.pp), int(m), int(c.parallel.vpp))
               .is_ok())
        continue;
      if (s.is_ok()) s = measure(fmt::format("pp {}", pipeline_schedule_name(schedule)), c, &world);
      // ZB-H1 again with the head split where the layout allows it (pp 2, no tp or MTP), on the
      // same layer split, its share evening out the stage times just measured.
      if (schedule != PipelineSchedule::kZeroBubble || !s.is_ok() || c.parallel.pp != 2 ||
          c.parallel.pp_head_share > 0)
        continue;
      double share = 0;
      const PipelineTimeline& tl = rows.back().r.pipeline_timeline;
      if (tl.ranks.size() == 2) {
        std::vector<double> busy(2, 0.0);
        for (size_t r = 0; r < 2; ++r)
          for (const PipelineEvent& e : tl.ranks[r]) busy[r] += e.end_s - e.start_s;
        share = head_share_for_stage_times(c.model, c.parallel, c.train.seq_len, busy);
      }
      // Every rank runs what rank 0 measured.
      if (Status sum = world.all_reduce(std::span(&share, 1), ReduceOp::kMax); !sum.is_ok())
        s = sum;
      const std::vector<int64_t> units =
          pipeline_layer_split(c.model, c.parallel, c.train.seq_len);
      c.parallel.pp_layers = {double(units[0]) / 2, double(units[1]) / 2};
      c.parallel.pp_head_share = share;
      if (s.is_ok() && share > 0 && validate(c).is_ok())
        s = measure(fmt::format("pp zb-h1, head share {:.2f}", share), c, &world);
    }
  } else {
    s = measure(pipelined ? fmt::format("pp {}", pipeline_schedule_name(base.parallel.pp_schedule))
                          : "requested",
                base, &world);
  }
  const size_t layout_rows = rows.size();
  const bool folded = config.parallel.ep > 1 || config.parallel.tp > 1 || pipelined;
  if (s.is_ok() && folded) {
    RunConfig dp = base;
    dp.parallel.ep = 1;
    dp.parallel.tp = 1;
    dp.parallel.pp = 1;
    dp.parallel.vpp = 1;
    dp.parallel.pp_layers.clear();
    dp.parallel.pp_schedule = PipelineSchedule::k1F1B;
    s = measure("data parallel", dp, &world);
  }
  // One process: rank 0 alone, the other ranks wait.
  if (s.is_ok() && world.rank() == 0) {
    RunConfig one = base;
    one.parallel = ParallelConfig{};
    s = measure("one process", one, nullptr);
  }
  if (s.is_ok() && world.rank() == 0 && !args.trace_dir.empty())
    for (size_t i = 0; i < layout_rows && s.is_ok(); ++i) {
      const PipelineTimeline& tl = rows[i].r.pipeline_timeline;
      if (tl.ranks.empty()) continue;
      std::error_code ec;
      std::filesystem::create_directories(args.trace_dir, ec);
      const std::filesystem::path stem =
          std::filesystem::path(args.trace_dir) /
          (std::string(pipeline_schedule_name(tl.schedule)) + (tl.split_head ? "-head" : ""));
      s = write_pipeline_trace_json(stem.string() + ".json", tl);
      if (s.is_ok()) s = write_pipeline_svg(stem.string() + ".svg", tl);
    }
  if (!s.is_ok()) {
    const int code = report(s);
    runtime.abort(code);
  }
  if (Status b = world.barrier(); !b.is_ok()) runtime.abort(report(b));
  if (world.rank() != 0) return kExitOk;
  const ParamCounts counts = count_params(config.model);
  const Row& dp_row = folded ? rows[layout_rows] : rows[0];
  const double dp_rate = dp_row.r.tokens_per_s;
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& row : rows)
      out.push_back({{"run", row.name}, {"layout", row.r.layout},
                     {"tokens_per_s", row.r.tokens_per_s}, {"step_time_s", row.r.step_time_s},
                     {"all_to_all_s", row.r.exchange.in_flight_s},
                     {"all_to_all_exposed_s", row.r.exchange.exposed_s},
                     {"all_to_all_hidden", row.r.exchange.hidden_fraction()},
                     {"grad_comm_exposed_s", row.r.exposed_grad_comm_s},
                     {"tensor_comm_s", row.r.tensor_comm.in_flight_s},
                     {"tensor_comm_exposed_s", row.r.tensor_comm.exposed_s},
                     {"tensor_comm_hidden", row.r.tensor_comm.hidden_fraction()},
                     {"micro_batches", row.r.micro_batches},
                     {"pipeline_bubble", row.r.pipeline_bubble},
                     {"pipeline_bubble_analytic", row.r.pipeline_bubble_analytic},
                     {"pipeline_bubble_replayed", row.r.pipeline_bubble_replayed},
                     {"pipeline_imbalance", row.r.pipeline_imbalance},
                     {"weights_bytes", row.r.state.weights},
                     {"activation_bytes", row.r.activation_bytes},
                     {"state_bytes", row.r.state.total()},
                     {"expert_state_bytes", row.r.state.expert_total()},
                     {"expert_weights_bytes", row.r.state.expert_weights},
                     {"expert_grads_bytes", row.r.state.expert_grads},
                     {"expert_optimizer_bytes", row.r.state.expert_optimizer}});
    fmt::print("{}\n", nlohmann::json{{"config", config.source}, {"ranks", world.size()},
                                      {"threads", omp_get_max_threads()}, {"runs", out}}.dump());
    return kExitOk;
  }
  fmt::print("{}: {} params ({} active), {} ranks x {} threads, {} timed steps, {} tokens per "
             "step\n", config.source, human_count(double(counts.total)),
             human_count(double(counts.active)), world.size(), omp_get_max_threads(), args.steps,
             rows[0].r.tokens_per_step);
  size_t name_width = 16;
  for (const Row& row : rows) name_width = std::max(name_width, row.name.size());
  fmt::print("{:<{}} {:<24} {:>9} {:>6} {:>7} {:>7} {:>8} {:>8} {:>6} {:>11} {:>7} {:>8} {:>9} "
             "{:>10} {:>9} {:>11} {:>10} {:>9} {:>8}\n", "run", name_width, "layout", "tokens/s",
             "vs dp",
             "step s", "bubble", "analytic", "replayed", "imbal", "all-to-all s", "hidden", "tp comm s", "tp hidden",
             "grad comm s", "state MiB", "experts MiB", "weights MiB", "acts MiB", "w+a vs dp");
  const int64_t dp_weights_acts = dp_row.r.state.weights + dp_row.r.activation_bytes;
  for (const Row& row : rows) {
    const TrainBenchResult& r = row.r;
    const bool exchanged = r.exchange.in_flight_s > 0;
    const bool tensor = r.tensor_comm.in_flight_s > 0;
    const bool piped = r.pipeline_bubble >= 0;
    fmt::print("{:<{}} {:<24} {:>9.1f} {:>6.3f} {:>7.3f} {:>7} {:>8} {:>8} {:>6} {:>11} {:>7} "
               "{:>8} {:>9} {:>10.3f} {:>9} {:>11} {:>10} {:>9} {:>8.3f}\n",
               row.name, name_width, r.layout, r.tokens_per_s, r.tokens_per_s / dp_rate,
               r.step_time_s,
               piped ? fmt::format("{:.1f}%", 100 * r.pipeline_bubble) : "-",
               piped ? fmt::format("{:.1f}%", 100 * r.pipeline_bubble_analytic) : "-",
               piped ? fmt::format("{:.1f}%", 100 * r.pipeline_bubble_replayed) : "-",
               piped ? fmt::format("{:.1f}%", 100 * r.pipeline_imbalance) : "-",
               exchanged ? fmt::format("{:.3f}", r.exchange.in_flight_s) : "-",
               exchanged ? fmt::format("{:.1f}%", 100 * r.exchange.hidden_fraction()) : "-",
               tensor ? fmt::format("{:.3f}", r.tensor_comm.in_flight_s) : "-",
               tensor ? fmt::format("{:.1f}%", 100 * r.tensor_comm.hidden_fraction()) : "-",
               r.exposed_grad_comm_s, mib(r.state.total()), mib(r.state.expert_total()),
               mib(r.state.weights),
               mib(r.activation_bytes),
               double(r.state.weights + r.activation_bytes) / double(dp_weights_acts));
  }
  fmt::print("  all-to-all s: expert exchange in flight per step on rank 0; hidden: the part of it\n"
             "  rank 0 did not wait for; grad comm s: gradient reduction rank 0 waited for after\n"
             "  backward; state: weights, gradients, AdamW moments and comm buffers per rank;\n"
             "  experts: the routed experts' weights, gradients and moments per rank;\n"
             "  tp comm s: tensor-parallel collectives in flight per step on rank 0; tp hidden:\n"
             "  the part of it rank 0 did not wait for;\n"
             "  weights, acts: weights and activations rank 0 allocated; w+a vs dp: their sum\n"
             "  against the data-parallel run's;\n"
             "  bubble: idle share of the pipeline's stages over the step (median over steps);\n"
             "  analytic: the schedule's closed form for the mean pass times of the same step;\n"
             "  replayed: the schedule run again with each pass taking its measured time and\n"
             "  sends, receives and gaps taking none (unequal stages included);\n"
             "  imbal: the busiest stage's pass time over the mean stage's, minus 1.\n");
  return kExitOk;
}

int run_train_bench(const BenchArgs& args) {
  Result<RunConfig> c = load_run_config(args.config, args.overrides);
  if (!c.has_value()) return report(c.error());
  if (launched_by_mpi()) {
    RuntimeOptions options;
    options.timeout_s = c->parallel.timeout_s;
    Result<std::unique_ptr<Runtime>> runtime = start_runtime(options);
    if (!runtime.has_value()) return report(runtime.error());
    if ((*runtime)->world().size() > 1) return run_parallel_train_bench(args, *c, **runtime);
  }
  const double fma_peak = measure_fma_peak_gflops();
  // The ceiling: the fastest GEMM of the model's shapes in the run's precision.
  const Precision precision = c->train.precision;
  const char* gemm_kind = precision == Precision::kFp32 ? "SGEMM" : "bf16 GEMM";
  GemmRate ceiling;
  for (const GemmRate& r : measure_gemm(model_gemm_shapes(*c), precision))
    if (r.gflops > ceiling.gflops) ceiling = r;
  const double gemm_ceiling = ceiling.gflops;
  // The machine's speed may drift during the run (shared or virtual cores): the fastest shape is
  // probed again after each step, and each step is judged against the probe beside it.
  std::vector<double> probes;
  Result<TrainBenchResult> result = bench_train(*c, Exec::cpu(), args.warmup, args.steps, [&] {
    probes.push_back(measure_gemm({ceiling.shape}, precision, kProbeSeconds)[0].gflops);
  });
  if (!result.has_value()) return report(result.error());
  const TrainBenchResult& r = *result;
  // Below fp32, the same config with fp32 GEMMs, measured right after in this process.
  std::optional<TrainBenchResult> fp32;
  if (precision != Precision::kFp32) {
    RunConfig f = *c;
    f.train.precision = Precision::kFp32;
    Result<TrainBenchResult> fr = bench_train(f, Exec::cpu(), args.warmup, args.steps);
    if (!fr.has_value()) return report(fr.error());
    fp32 = std::move(fr).value();
  }
  std::vector<double> step_fractions;
  for (size_t i = 0; i < r.step_times_s.size(); ++i)
    step_fractions.push_back(r.flops_per_token * double(r.tokens_per_step) /
                             r.step_times_s[i] * 1e-9 / probes[i]);
  const double probed_fraction = median(step_fractions), probe_median = median(probes);
  const ParamCounts counts = count_params(c->model);
  // The sgemm_* and fraction_of_sgemm* keys hold the ceiling in the run's precision.
  nlohmann::json out = {{"config", c->source},
                        {"precision", precision_name(precision)},
                        {"tokens_per_s", r.tokens_per_s},
                        {"step_time_s", r.step_time_s},
                        {"gflops", r.gflops},
                        {"flops_per_token", r.flops_per_token},
                        {"sgemm_ceiling_gflops", gemm_ceiling},
                        {"fma_peak_gflops", fma_peak},
                        {"fraction_of_sgemm", r.gflops / gemm_ceiling},
                        {"sgemm_probe_gflops", probe_median},
                        {"fraction_of_sgemm_probed", probed_fraction},
                        {"fraction_of_fma_peak", r.gflops / fma_peak},
                        {"params_total", counts.total},
                        {"params_active", counts.active},
                        {"threads", omp_get_max_threads()},
                        {"blas", cpu::blas_name()}};
  if (fp32) {
    out["fp32_tokens_per_s"] = fp32->tokens_per_s;
    out["fp32_step_time_s"] = fp32->step_time_s;
    out["speedup_over_fp32"] = r.tokens_per_s / fp32->tokens_per_s;
  }
  if (args.json) {
    fmt::print("{}\n", out.dump());
    return kExitOk;
  }
  fmt::print("{}: {} params ({} active), {} tokens/step, BLAS {}, {} threads, {} GEMMs{}\n",
             c->source, human_count(double(counts.total)), human_count(double(counts.active)),
             r.tokens_per_step, cpu::blas_name(), omp_get_max_threads(), precision_name(precision),
             precision == Precision::kBf16
                 ? fmt::format(" ({})", cpu::bf16_gemm_path_name(cpu::bf16_gemm_path()))
                 : "");
  fmt::print("  tokens/s        {:10.1f}   (median step {:.3f} s)\n", r.tokens_per_s, r.step_time_s);
  if (fp32) {
    fmt::print("  fp32 tokens/s   {:10.1f}   (median step {:.3f} s; same config and tokens, fp32 "
               "GEMMs, run after)\n",
               fp32->tokens_per_s, fp32->step_time_s);
    fmt::print("  {} / fp32     {:10.2f}x  (loss from the first step to the last {:.4f} -> "
               "{:.4f}; fp32 {:.4f} -> {:.4f})\n",
               precision_name(precision), r.tokens_per_s / fp32->tokens_per_s, r.first_loss,
               r.last_loss, fp32->first_loss, fp32->last_loss);
  }
  fmt::print("  model GFLOP/s   {:10.1f}   ({:.3e} FLOPs/token)\n", r.gflops, r.flops_per_token);
  fmt::print("  {:<15} {:10.1f}   -> {:.1f}% achieved\n", fmt::format("{} ceiling", gemm_kind),
             gemm_ceiling, 100 * r.gflops / gemm_ceiling);
  fmt::print("  beside steps    {:10.1f}   -> {:.1f}% achieved (median over steps, each against the\n"
             "                                ceiling shape probed right after it)\n",
             probe_median, 100 * probed_fraction);
  fmt::print("  FMA peak        {:10.1f}   -> {:.1f}% achieved (fp32 FMAs)\n", fma_peak,
             100 * r.gflops / fma_peak);
  return kExitOk;
}

struct CommBenchArgs {
  int64_t min_bytes = 1024;
  int64_t max_bytes = int64_t(256) << 20;
  int64_t step = 4;
};

// Run under mpirun (or srun) with the ranks to measure; one process measures only copies.
int run_comm_bench(const CommBenchArgs& args) {
  if (args.min_bytes < 4 || args.max_bytes < args.min_bytes || args.step < 2)
    return report(Error::invalid("--min-bytes {} --max-bytes {} --step {}: need 4 <= min <= max "
                                 "and step >= 2", args.min_bytes, args.max_bytes, args.step));
  Result<std::unique_ptr<Runtime>> runtime = start_runtime(RuntimeOptions{});
  if (!runtime.has_value()) return report(runtime.error());
  Comm& world = (*runtime)->world();
  Result<std::vector<CommBenchRow>> rows =
      bench_collectives(world, args.min_bytes, args.max_bytes, args.step);
  if (!rows.has_value()) {
    const int code = report(rows.error());
    (*runtime)->abort(code);
  }
  if (world.rank() != 0) return kExitOk;
  const double copy = memcpy_bandwidth_gbs(std::min<int64_t>(args.max_bytes, int64_t(256) << 20));
  fmt::print("{} ranks ({}); memcpy bandwidth of one rank: {:.1f} GB/s\n", world.size(),
             (*runtime)->distributed() ? "MPI" : "one process, no launcher", copy);
  fmt::print("{:<15} {:>12} {:>6} {:>12} {:>12} {:>12}\n", "op", "bytes", "iters", "time_us",
             "algbw_GB/s", "busbw_GB/s");
  for (const CommBenchRow& r : *rows)
    fmt::print("{:<15} {:>12} {:>6} {:>12.1f} {:>12.2f} {:>12.2f}\n", r.op, r.bytes, r.iterations,
               r.time_s * 1e6, r.algbw_gbs, r.busbw_gbs);
  return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  CLI::App* train = bench->add_subcommand("train", "Training-step throughput on random tokens");
  CLI::App* gemm_cmd = bench->add_subcommand("gemm", "SGEMM rates on a model's shapes, FMA peak");
  for (CLI::App* cmd : {train, gemm_cmd}) {
    cmd->add_option("config", args->config, "Preset or TOML file")->capture_default_str();
    cmd->add_option("--set", args->overrides, "Override a config value")->take_all();
  }
  train->add_option("--steps", args->steps, "Timed steps")->capture_default_str();
  train->add_option("--warmup", args->warmup, "Untimed steps first")->capture_default_str();
  train->add_flag("--json", args->json, "One JSON line");
  train->add_option("--trace", args->trace_dir,
                    "Pipeline runs: write each schedule's last timed step as DIR/<schedule>.json "
                    "(Perfetto) and .svg");
  train->callback([args, exit_code] { *exit_code = run_train_bench(*args); });
  gemm_cmd->callback([args, exit_code] { *exit_code = run_gemm(*args); });

  auto comm_args = std::make_shared<CommBenchArgs>();
  CLI::App* comm_cmd = bench->add_subcommand(
      "comm", "Collective time and bandwidth over message sizes (run under mpirun)");
  comm_cmd->add_option("--min-bytes", comm_args->min_bytes, "Smallest message")->capture_default_str();
  comm_cmd->add_option("--max-bytes", comm_args->max_bytes, "Largest message")->capture_default_str();
  comm_cmd->add_option("--step", comm_args->step, "Size factor between rows")->capture_default_str();
  comm_cmd->callback([comm_args, exit_code] { *exit_code = run_comm_bench(*comm_args); });
}

}  // namespace symphony::cli
