#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpointer.h"
#include "core/file_io.h"
#include "core/timer.h"
#include "kernels/gemm.h"
#include "model/init.h"
#include "model/memory_plan.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "parallel/mesh.h"
#include "zero/data_parallel.h"
#include "monitor/flops.h"
#include "monitor/loss_plot.h"
#include "monitor/loss_series.h"
#include "monitor/metrics_log.h"
#include "monitor/metrics_server.h"
#include "monitor/progress_bar.h"
#include "tensor/memory_stats.h"
#include "train/evaluator.h"
#include "train/fp8_training.h"
#include "train/init_from.h"
#include "train/memory_check.h"
#include "train/model_file.h"
#include "train/train_data.h"
#include "monitor/pipeline_trace.h"
#include "train/model_layout.h"
#include "train/pipeline_report.h"
#include "train/rank_stats.h"
#include "train/train_step.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

nlohmann::json memory_record() {
  MemorySnapshot m = memory_stats_snapshot();
  nlohmann::json peak;
  for (int i = 0; i < kNumMemoryCategories; ++i)
    peak[std::string(memory_category_name(MemoryCategory(i)))] = m.peak_bytes[size_t(i)];
  peak["total"] = m.total_peak_bytes;
  return peak;
}

struct RouterSummary {
  double max_over_mean_load = NAN;  // NaN without MoE layers
  double dropped_fraction = NAN;
  int64_t dropped = 0;  // token slots
};

// Router balance of one step: per MoE layer (the MTP modules' included, marked) the max/mean load
// ratio and dropped fraction.
RouterSummary add_router_stats(const Transformer& model, int64_t micro_batches,
                               nlohmann::json& record) {
  nlohmann::json layers = nlohmann::json::array();
  double aux = 0, seq_aux = 0, z = 0, worst = 0;
  int64_t dropped = 0, slots = 0;
  const ModelConfig& c = model.config();
  for (int64_t l = 0; l < c.num_layers_with_mtp(); ++l) {
    if (!c.is_moe_layer(l)) continue;
    const MoeStats& s = model.moe_stats()[size_t(l)];
    aux += s.aux_loss / double(micro_batches);
    seq_aux += s.seq_aux_loss / double(micro_batches);
    z += s.z_loss / double(micro_batches);
    worst = std::max(worst, s.max_over_mean());
    dropped += s.dropped;
    slots += s.tokens * c.num_experts_per_tok;
    layers.push_back({{"layer", l}, {"load", s.routed}, {"max_over_mean", s.max_over_mean()},
                      {"dropped", s.dropped}});
    if (c.is_mtp_layer(l)) layers.back()["mtp"] = true;
  }
  if (layers.empty()) return {};
  record["aux_loss"] = aux;
  if (c.router_seq_aux_loss_coef != 0) record["seq_aux_loss"] = seq_aux;
  record["z_loss"] = z;
  record["max_over_mean_load"] = worst;
  record["dropped_fraction"] = slots ? double(dropped) / double(slots) : 0.0;
  record["moe_layers"] = std::move(layers);
  return {worst, slots ? double(dropped) / double(slots) : 0.0, dropped};
}

// The ranks' identities in the endpoint's snapshot, before the first window.
void publish_ranks(MetricsServer& server, const std::vector<RankIdentity>& ranks) {
  server.update([&](RunMetricsSnapshot& s) {
    s.ranks.resize(ranks.size());
    for (size_t r = 0; r < ranks.size(); ++r) {
      s.ranks[r].rank = int(r);
      s.ranks[r].host = ranks[r].host;
      s.ranks[r].pid = ranks[r].pid;
    }
  });
}

// A gathered window's per-rank figures in the endpoint's snapshot.
void publish_window(MetricsServer& server, const RankWindow& window, int64_t alarms) {
  server.update([&](RunMetricsSnapshot& s) {
    s.straggler_alarms = alarms;
    for (size_t r = 0; r < s.ranks.size(); ++r) {
      RankMetrics& m = s.ranks[r];
      m.per_step = window.per_step[r];
      m.memory_bytes = window.memory[r].current_bytes;
      m.memory_peak_bytes = window.memory[r].peak_bytes;
      m.straggler = !window.named.empty() && window.named[r];
    }
  });
}

// Keeps the endpoint up for monitor.metrics_linger_s after the run, or until a stop request.
void linger(double seconds, const std::atomic<bool>* stop) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < until && !(stop != nullptr && stop->load()))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

Result<TrainResult> train(const RunConfig& config, const TrainOptions& options) {
  const TrainConfig& tc = config.train;
  const ModelConfig& mc = config.model;
  // The run's GEMM precision is the config's (train.precision); under "fp8" the linear layers
  // run as FP8 GEMMs (set up below, with the model) and every other GEMM in bf16.
  const Exec base_ex = options.exec.with_matmul(
      tc.precision == Precision::kFp8 ? Precision::kBf16 : tc.precision);
  const BatchShape shape{tc.micro_batch_size, tc.seq_len};
  const int64_t micro_tokens = shape.rows();

  // The world, the layout and the data-parallel group. One process without a launcher runs the
  // same path over SelfComm.
  std::unique_ptr<Comm> self_world;
  Comm* world = options.world;
  if (world == nullptr) {
    self_world = make_self_comm("world");
    world = self_world.get();
  }
  SYM_TRY_ASSIGN(ParallelLayout layout, ParallelLayout::create(config.parallel, world->size()));
  SYM_TRY_ASSIGN(DeviceMesh mesh, DeviceMesh::create(layout, *world));
  const MonitorConfig& monitor = config.monitor;
  if (monitor.debug_slow_factor > 0 && monitor.debug_slow_rank >= world->size())
    return Error::invalid("monitor.debug_slow_rank = {} is not a rank of the {} ranks",
                          monitor.debug_slow_rank, world->size());
  // Before the model and the step split groups off the mesh's: they inherit its wait tallies.
  SYM_TRY_ASSIGN(std::unique_ptr<RankStats> rank_stats, RankStats::create(monitor, mesh));
  // Every rank runs its own micro-batches: the dense data-parallel group (dp x cp). Expert
  // parallelism is folded over it (parallel/layout.h).
  Comm& dp_comm = mesh.replicas(ReplicaGroup::kDense);
  const int expert_ranks = layout.size(Axis::kExpert);
  const int64_t dp_size = dp_comm.size(), dp_rank = dp_comm.rank();
  const bool leader = world->rank() == 0;  // writes the run directory and prints progress
  if (tc.global_batch_tokens > 0 && tc.global_batch_tokens % (micro_tokens * dp_size) != 0)
    return Error::invalid(
        "train.global_batch_tokens = {} is not a multiple of dp * micro_batch_size * seq_len = "
        "{} * {} * {} = {}", tc.global_batch_tokens, dp_size, tc.micro_batch_size, tc.seq_len,
        micro_tokens * dp_size);

  SYM_TRY_ASSIGN(std::unique_ptr<TrainData> data,
                 open_train_data(config, DataParallelRank{int(dp_rank), int(dp_size)}));
  DataLoader& loader = *data->loader;
  if (options.loader_state) SYM_TRY(loader.set_state(*options.loader_state));
  std::optional<EvalSampler>& eval_sampler = data->eval;

  const fs::path run_dir(tc.run_dir);
  const fs::path checkpoint_dir =
      config.checkpoint.dir.empty() ? run_dir / "checkpoints" : fs::path(config.checkpoint.dir);
  // Before anything is written: a new run from other weights must not overwrite its source or
  // an earlier run's checkpoints, and a source that does not fit the config is refused. With a
  // resume requested, the source is opened only when there is nothing to resume.
  std::optional<WeightSource> init_source;
  if (!options.init_from.empty()) {
    SYM_TRY(check_init_source_outside(options.init_from, run_dir, checkpoint_dir));
    if (options.resume.empty()) {
      SYM_TRY(check_no_checkpoints(checkpoint_dir));
      SYM_TRY_ASSIGN(WeightSource source, open_init_source(options.init_from));
      SYM_TRY(check_init_source_outside(source.path(), run_dir, checkpoint_dir));
      SYM_TRY(check_weight_source(source, mc));
      init_source.emplace(std::move(source));
    }
  }
  std::string result_checkpoint;
  std::optional<MetricsLog> metrics;
  if (leader) {
    std::error_code ec;
    fs::create_directories(tc.run_dir, ec);
    if (ec) return Error::io("{}: cannot create run directory: {}", tc.run_dir, ec.message());
    SYM_TRY(write_file_atomic(run_dir / "config.toml", to_toml(config)));
    SYM_TRY_ASSIGN(MetricsLog log, MetricsLog::open(run_dir / "metrics.jsonl"));
    metrics.emplace(std::move(log));
  }
  // The Prometheus endpoint (rank 0): figures published after every step and window.
  std::unique_ptr<MetricsServer> server;
  if (leader && monitor.metrics_port > 0) {
    Result<std::unique_ptr<MetricsServer>> started =
        MetricsServer::start(monitor.metrics_host, int(monitor.metrics_port));
    if (!started)
      return started.error().with_context("monitor.metrics_port = {}", monitor.metrics_port);
    server = std::move(started).value();
    fmt::print(options.log, "metrics: serving http://{}:{}/metrics\n", server->host(),
               server->port());
    server->update([&](RunMetricsSnapshot& s) {
      s.total_steps = tc.steps;
      s.checkpoint_unix_s = unix_seconds();
    });
    publish_ranks(*server, rank_stats->ranks());
  }
  auto write_metrics = [&](const nlohmann::json& record) -> Status {
    return metrics ? metrics->write(record) : Status::ok();
  };

  const ZeroStage zero = layout.zero_stage();
  const bool pipelined = layout.size(Axis::kPipeline) > 1;
  SYM_TRY_ASSIGN(const ModelParallel model_parallel,
                 model_parallel_for(config, mesh, TrainStep::micro_batches_for(tc, dp_size)));
  Transformer model(mc, DType::kF32, shape, tc.recompute, DataParallel::residency_for(zero),
                    model_parallel, saved_activations_for(tc.precision));
  DataParallel data_parallel(zero, mesh, model, config.optim, config.parallel.bucket_mb,
                             config.parallel.grad_dtype);
  data_parallel.init_params(mc, tc.seed);
  std::unique_ptr<Fp8Training> fp8;
  if (tc.precision == Precision::kFp8) {
    SYM_TRY_ASSIGN(fp8, Fp8Training::create(config.fp8.recipe(), model.params(), *world));
  }
  const Exec ex = fp8 ? fp8->exec(base_ex) : base_ex;
  // bf16 GEMMs convert their inputs into this thread's scratch: sized now for the largest GEMM of
  // the model (as the memory plan counts it), so that no step allocates.
  if (ex.matmul == Precision::kBf16 && ex.impl == KernelImpl::kFast)
    reserve_bf16_gemm_scratch(config, model_parallel.placement);
  // Likewise the FP8 GEMMs' workspace.
  if (fp8)
    fp8->reserve_workspace(
        fp8_gemm_workspace_plan(mc, shape, model_parallel.placement, config.fp8.recipe()));

  // Checkpoints: resume, then save every checkpoint.every steps, at the end and when stopped.
  const std::string config_toml = to_toml(config);
  std::string tokenizer_fingerprint;
  if (!data->train.empty()) tokenizer_fingerprint = data->train[0]->tokenizer_fingerprint();
  int64_t first_step = 0;
  auto warn = [&](const std::string& message) {
    fmt::print(options.log, "warning: {}\n", message);
  };
  bool resumed = false;
  if (!options.resume.empty()) {
    SYM_TRY_ASSIGN(std::optional<ResumePoint> point,
                   resume_from(options.resume, checkpoint_dir, config_toml, *world, model,
                               data_parallel, warn));
    resumed = point.has_value();
    if (point) {
      const std::string& saved = point->manifest.tokenizer_fingerprint;
      if (!saved.empty() && !tokenizer_fingerprint.empty() && saved != tokenizer_fingerprint)
        return Error::invalid("{} was trained on data of tokenizer {}, but the data now was "
                              "prepared with tokenizer {}; resume with the same data",
                              point->step_dir.string(), saved, tokenizer_fingerprint);
      first_step = point->manifest.step;
      SYM_TRY(loader.set_state(point->manifest.loader));
      // A checkpoint of an fp32 or bf16 run starts FP8 afresh.
      if (fp8 && !point->manifest.fp8_state.is_null())
        SYM_TRY(fp8->restore(point->manifest.fp8_state,
                             (point->step_dir / "manifest.json").string()));
      if (leader)
        fmt::print(options.log, "resuming from {} (step {}, saved as {})\n",
                   point->step_dir.string(), first_step, point->manifest.layout.description);
    } else if (leader) {
      fmt::print(options.log, "no checkpoint in {}; starting from step 0\n",
                 checkpoint_dir.string());
    }
  }
  if (!options.init_from.empty() && resumed && leader)
    fmt::print(options.log, "--init-from {} not used: the run resumes from its checkpoint\n",
               options.init_from);
  if (!options.init_from.empty() && !resumed) {
    if (!init_source) {
      SYM_TRY_ASSIGN(WeightSource source, open_init_source(options.init_from));
      SYM_TRY(check_init_source_outside(source.path(), run_dir, checkpoint_dir));
      init_source.emplace(std::move(source));
    }
    SYM_TRY_ASSIGN(const InitFromReport report,
                   init_weights_from(*init_source, model, data_parallel));
    if (leader) {
      fmt::print(options.log, "initialised the weights from {} {}: {} tensors{}\n",
                 weight_source_kind_name(report.kind), report.path.string(), report.tensors,
                 report.zero_biases > 0
                     ? fmt::format(" ({} selection biases not in the source start at zero)",
                                   report.zero_biases)
                     : std::string());
      for (const std::string& note : report.notes) fmt::print(options.log, "  {}\n", note);
    }
    SYM_TRY(write_metrics({{"step", 0},
                           {"init_from", report.path.string()},
                           {"init_from_kind", weight_source_kind_name(report.kind)},
                           {"init_from_tensors", report.tensors}}));
    init_source.reset();  // unmaps its files
  }
  if (leader) SYM_TRY(remove_stale_temp_dirs(checkpoint_dir));
  Checkpointer checkpointer({checkpoint_dir, config.checkpoint.async, config.checkpoint.keep_last,
                             config.checkpoint.keep_every, warn},
                            *world);
  auto save_checkpoint = [&](int64_t steps_done, double lr, int64_t step_tokens) -> Status {
    CheckpointManifest header;
    header.step = steps_done;
    header.tokens_seen = steps_done * step_tokens;
    header.optimizer_steps = data_parallel.optimizer().steps_taken();
    header.lr = lr;
    header.seed = tc.seed;
    header.loader = loader.state();
    header.tokenizer_fingerprint = tokenizer_fingerprint;
    header.config_toml = config_toml;
    if (fp8) header.fp8_state = fp8->state_json();
    header.layout = {world->size(), int(dp_size), int(zero), layout.describe(), expert_ranks,
                     layout.size(Axis::kPipeline)};
    return checkpointer.save(std::move(header), model, data_parallel);
  };
  auto log_commits = [&](int64_t before) -> Status {
    if (checkpointer.last_committed_step() == before) return Status::ok();
    result_checkpoint = (checkpoint_dir / step_dir_name(checkpointer.last_committed_step())).string();
    if (server)
      server->update([&](RunMetricsSnapshot& s) {
        s.checkpoint_step = checkpointer.last_committed_step();
        s.checkpoint_unix_s = unix_seconds();
      });
    return write_metrics({{"step", checkpointer.last_committed_step()},
                          {"checkpoint", result_checkpoint},
                          {"checkpoint_write_s", checkpointer.last_times().write_s}});
  };

  TrainStep train_step(tc, config.optim, model, data_parallel, config.parallel.pp_schedule);
  const int64_t micro_batches = train_step.micro_batches() * dp_size;  // of the global batch
  const double flops_per_token = training_flops_per_token(mc, tc.seq_len);
  const BatchSource next_batch = [&](std::span<int32_t> in, std::span<int32_t> tgt) {
    Timer wait;
    loader.next(in, tgt);
    rank_stats->add_data_wait(wait.elapsed_s());
  };
  // Model FLOPs utilisation against every rank's peak, when the peak is known.
  const double peak_flops = monitor.peak_tflops * 1e12 * double(world->size());
  int64_t dropped_tokens = 0;

  std::optional<ProgressBar> bar;
  if (options.progress == ProgressOutput::kBar && leader) bar.emplace(tc.steps, options.log);
  TrainResult result;
  PlotSeries train_series{"train loss", {}, ""}, eval_series{"eval loss", {}, ""};
  double timed_s = 0;
  int64_t timed_tokens = 0;

  // Batch b of the evaluation goes to dp rank b % dp. Under ZeRO-3 evaluating gathers weights and
  // under expert and tensor parallelism it communicates within the layers (collectives), so every
  // rank runs forward in every round.
  std::optional<Evaluator> evaluator;
  if (eval_sampler)
    evaluator.emplace(shape, std::min(tc.eval_batches, eval_sampler->num_batches()));
  const EvalGroup eval_group{&dp_comm,
                             zero == ZeroStage::kParameters || expert_ranks > 1 ||
                                     layout.size(Axis::kTensor) > 1
                                 ? EvalLockstep::kEveryRound
                                 : EvalLockstep::kOwnBatches,
                             &data_parallel.hook_status(), train_step.pipeline()};
  auto evaluate = [&](int64_t step) -> Status {
    // FP8 quantizes training GEMMs only: evaluation runs the model in bf16, as it is served.
    SYM_TRY_ASSIGN(const EvalLoss e,
                   evaluator->run(fp8 ? base_ex : ex, model, *eval_sampler, eval_group));
    result.eval_losses.push_back(e.loss);
    if (server) server->update([&](RunMetricsSnapshot& s) { s.eval_loss = e.loss; });
    eval_series.points.push_back({double(step), e.loss});
    SYM_TRY(write_metrics({{"step", step}, {"eval_loss", e.loss}, {"eval_tokens", e.tokens}}));
    // Rank 0's FP8 sites: amax, underflow and error of each, and which fell back.
    return fp8 ? write_metrics({{"step", step}, {"fp8_sites", fp8->sites_summary()}})
               : Status::ok();
  };

  const int64_t every = config.checkpoint.every;
  bool stopped = false;
  for (int64_t step = first_step; step < tc.steps && !stopped; ++step) {
    rank_stats->begin_step();
    Timer step_timer;
    if (fp8) fp8->begin_step(step + 1);
    SYM_TRY_ASSIGN(const StepResult r, train_step.run(ex, step, next_batch));
    // The ranks agree on the FP8 sites: a site that fell back on one falls back on every one.
    if (fp8) SYM_TRY(fp8->end_step());
    rank_stats->debug_slowdown(step + 1);
    const double step_s = step_timer.elapsed_s();
    // The first step pays one-off costs (page faults, thread start-up): leave it out of the rate.
    if (step > first_step || tc.steps - first_step == 1) timed_s += step_s, timed_tokens += r.tokens;
    if (!std::isfinite(r.loss))
      return Error::internal("step {}: loss is {} (lr {}, grad norm {}); lower optim.lr or enable "
                             "optim.grad_clip", step + 1, r.loss, r.lr, r.grad_norm);
    const double tokens_per_s = double(r.tokens) / step_s;
    result.losses.push_back(r.loss);
    train_series.points.push_back({double(step + 1), r.loss});
    nlohmann::json record = {{"step", step + 1},
                             {"loss", r.loss},
                             {"lr", r.lr},
                             {"grad_norm", r.grad_norm},
                             {"tokens", (step + 1) * r.tokens},
                             {"tokens_per_s", tokens_per_s},
                             {"gflops", flops_per_token * tokens_per_s * 1e-9},
                             {"step_time_s", step_s}};
    if (!r.mtp_losses.empty()) {
      // The MTP modules' CE apart from the main loss: their mean over depths, and each depth's.
      double mean = 0;
      for (double l : r.mtp_losses) mean += l / double(r.mtp_losses.size());
      record["mtp_loss"] = mean;
      if (r.mtp_losses.size() > 1) record["mtp_loss_per_depth"] = r.mtp_losses;
      result.mtp_losses.push_back(mean);
    }
    if (dp_size > 1) record["exposed_comm_s"] = r.exposed_comm_s;
    if (expert_ranks > 1) {
      record["all_to_all_s"] = r.exchange.in_flight_s;
      record["all_to_all_hidden"] = r.exchange.hidden_fraction();
    }
    if (layout.size(Axis::kTensor) > 1) {
      record["tensor_comm_s"] = r.tensor_comm.in_flight_s;
      record["tensor_comm_hidden"] = r.tensor_comm.hidden_fraction();
    }
    const double mfu = peak_flops > 0 ? flops_per_token * tokens_per_s / peak_flops : NAN;
    if (peak_flops > 0) record["mfu"] = mfu;
    const RouterSummary router = add_router_stats(model, micro_batches, record);
    dropped_tokens += router.dropped;
    if (PipelineStep* pipeline = train_step.pipeline()) {
      // Every stage takes part in gathering the timeline; rank 0 (stage 0) reports it.
      SYM_TRY_ASSIGN(const PipelineStepReport report,
                     report_pipeline_step(*pipeline, mesh.group(Axis::kPipeline)));
      record["pipeline_bubble"] = report.bubble;
      record["pipeline_bubble_analytic"] = report.analytic_bubble;
      record["pipeline_bubble_replayed"] = report.replayed_bubble;
      record["pipeline_imbalance"] = report.imbalance;
      record["pipeline_forward_s"] = report.times.forward_s;
      record["pipeline_backward_s"] = report.times.backward_input_s;
      record["pipeline_weight_s"] = report.times.backward_weight_s;
      if (leader && step > first_step && step <= first_step + tc.trace_steps) {
        const fs::path dir = run_dir / "pipeline_trace";
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return Error::io("{}: cannot create directory: {}", dir.string(), ec.message());
        const std::string stem = fmt::format("step_{}", step + 1);
        SYM_TRY(write_pipeline_trace_json(dir / (stem + ".json"), report.timeline));
        SYM_TRY(write_pipeline_svg(dir / (stem + ".svg"), report.timeline));
      }
    }
    if (step == 0) record["layout"] = layout.describe();
    if (step == first_step) {
      record["precision"] = precision_name(tc.precision);
      record["grad_dtype"] = precision_name(config.parallel.grad_dtype);
    }
    if (fp8) {
      record.update(fp8->step_metrics());
      nlohmann::json fell = nlohmann::json::array();
      for (const Fp8Fallback& f : fp8->take_new_fallbacks()) {
        if (leader && f.from_replica)
          fmt::print(options.log, "fp8: {} falls back to bf16 at step {} (measured on another rank)\n",
                     f.site, f.step);
        else if (leader)
          fmt::print(options.log,
                     "fp8: {} falls back to bf16 at step {} (FP8 output error: {:.3g} overall, "
                     "{:.3g} by row, {:.3g} by column)\n",
                     f.site, f.step, f.error.frobenius, f.error.rows, f.error.cols);
        fell.push_back({{"site", f.site},
                        {"step", f.step},
                        {"error", f.error.worst()},
                        {"from_replica", f.from_replica}});
      }
      if (!fell.empty()) record["fp8_fallbacks"] = std::move(fell);
    }
    if (step == first_step || step + 1 == tc.steps) record["memory_peak_bytes"] = memory_record();
    // A stop request reaches every rank at the same step. One after the last step changes
    // nothing: the run ends normally, final checkpoint and model file included.
    if (options.stop != nullptr) {
      int32_t stop = options.stop->load() ? 1 : 0;
      SYM_TRY(world->all_reduce(std::span<int32_t>(&stop, 1), ReduceOp::kMax));
      stopped = stop != 0 && step + 1 < tc.steps;
    }
    if (options.stop_at_step > 0 && step + 1 == options.stop_at_step && step + 1 < tc.steps)
      stopped = true;
    // The step's line is written before its checkpoint: a failure after the commit cannot leave a
    // trained step without its line (one before the commit makes the resumed run write it again,
    // with the same values).
    SYM_TRY(write_metrics(record));
    const int64_t committed_before = checkpointer.last_committed_step();
    SYM_TRY(checkpointer.poll());
    double stall_s = 0;
    if (stopped || (every > 0 && ((step + 1) % every == 0 || step + 1 == tc.steps))) {
      SYM_TRY(save_checkpoint(step + 1, r.lr, r.tokens));
      stall_s = checkpointer.last_times().stall_s;
      SYM_TRY(write_metrics({{"step", step + 1}, {"checkpoint_stall_s", stall_s}}));
      if (stopped || step + 1 == tc.steps) SYM_TRY(checkpointer.wait());
    }
    rank_stats->end_step(stall_s);
    SYM_TRY(log_commits(committed_before));
    if (server)
      server->update([&](RunMetricsSnapshot& s) {
        s.step = step + 1;
        s.loss = r.loss;
        s.lr = r.lr;
        s.grad_norm = r.grad_norm;
        s.tokens_per_s = tokens_per_s;
        s.step_time_s = step_s;
        s.mfu = mfu;
        s.tokens = (step + 1) * r.tokens;
        s.max_over_mean_load = router.max_over_mean_load;
        s.dropped_fraction = router.dropped_fraction;
        s.dropped_tokens = dropped_tokens;
      });
    if (rank_stats->window_due(step + 1)) {
      // Every rank takes part in the gather; rank 0 writes the rows and names stragglers.
      SYM_TRY_ASSIGN(const RankWindow window, rank_stats->gather_window(step + 1));
      if (leader) {
        for (const nlohmann::json& row : rank_stats->rank_rows(window)) {
          SYM_TRY(write_metrics(row));
        }
        for (const StragglerAlarm& alarm : window.alarms) {
          fmt::print(options.log, "{}\n", rank_stats->straggler_message(window, alarm));
          SYM_TRY(write_metrics(rank_stats->straggler_record(step + 1, alarm)));
        }
      }
      if (server) publish_window(*server, window, rank_stats->alarms());
    }
    if (bar) bar->update(step + 1, r.loss, tokens_per_s);
    if (eval_sampler && ((step + 1) % tc.eval_every == 0 || step + 1 == tc.steps))
      SYM_TRY(evaluate(step + 1));
  }
  if (bar) bar->finish();
  {
    const int64_t committed_before = checkpointer.last_committed_step();
    SYM_TRY(checkpointer.wait());
    SYM_TRY(log_commits(committed_before));
  }
  result.first_step = first_step;
  result.stopped = stopped;
  result.checkpoint = result_checkpoint;
  result.steps = first_step + int64_t(result.losses.size());
  result.loader_state = loader.state();
  if (stopped) return result;
  result.tokens_per_s = timed_s > 0 ? double(timed_tokens) / timed_s : 0.0;
  result.gflops = flops_per_token * result.tokens_per_s * 1e-9;
  // Stage 3 holds a shard of the weights: gather them all (collective) for the model file.
  SYM_TRY(data_parallel.gather_full_weights());
  if (leader) {
    // From the metrics log when there is one: a resumed run's chart then shows the steps of the
    // runs before it too.
    if (metrics) {
      SYM_TRY_ASSIGN(LossSeries logged, read_loss_series(metrics->path()));
      train_series.points = std::move(logged.train);
      eval_series.points = std::move(logged.eval);
    }
    SYM_TRY(write_loss_plot_svg(run_dir / "loss.svg", {train_series, eval_series},
                                "loss (" + config.source + ")"));
  }
  if (expert_ranks > 1 || layout.size(Axis::kTensor) > 1 || pipelined) {
    // Tensors are split over tp and ep groups: every group gathers its blocks (the same
    // collectives on every rank) and the leader writes the file.
    SYM_TRY(save_model_file(run_dir / "model.safetensors", config, model, mesh));
  } else if (leader) {
    SYM_TRY(save_model_file(run_dir / "model.safetensors", config, model));
  }
  data_parallel.release_full_weights();
  if (server && monitor.metrics_linger_s > 0) linger(monitor.metrics_linger_s, options.stop);
  return result;
}

}  // namespace symphony
