#include "monitor/run_metrics.h"

#include <chrono>
#include <deque>

namespace symphony {
namespace {

class Families {
 public:
  MetricFamily& add(std::string name, MetricType type, std::string help) {
    families_.push_back({std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  // A family of one unlabelled sample, left empty when the value is NaN.
  void scalar(std::string name, MetricType type, std::string help, double value) {
    MetricFamily& f = add(std::move(name), type, std::move(help));
    if (!std::isnan(value)) f.samples.push_back({{}, value});
  }
  std::vector<MetricFamily> take() {
    return std::vector<MetricFamily>(std::make_move_iterator(families_.begin()),
                                     std::make_move_iterator(families_.end()));
  }

 private:
  std::deque<MetricFamily> families_;  // a deque: references to earlier families stay valid
};

std::string rank_label(const RankMetrics& r) { return std::to_string(r.rank); }

}  // namespace

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<MetricFamily> run_metric_families(const RunMetricsSnapshot& s, double now_unix_s) {
  using enum MetricType;
  Families out;
  out.scalar("symphony_step", kGauge, "Training steps completed.", double(s.step));
  out.scalar("symphony_train_steps", kGauge, "Steps the run is configured for (train.steps).",
             double(s.total_steps));
  out.scalar("symphony_loss", kGauge,
             "Mean cross-entropy of the last step's global batch (main LM head), nats per token.",
             s.loss);
  out.scalar("symphony_eval_loss", kGauge, "Mean cross-entropy of the last evaluation, nats.",
             s.eval_loss);
  out.scalar("symphony_learning_rate", kGauge, "Learning rate of the last step.", s.lr);
  out.scalar("symphony_grad_norm", kGauge,
             "Global gradient norm of the last step, before clipping.", s.grad_norm);
  out.scalar("symphony_tokens_per_second", kGauge,
             "Tokens of the last step's global batch over its wall time.", s.tokens_per_s);
  out.scalar("symphony_tokens_total", kCounter, "Tokens trained, resumed steps included.",
             double(s.tokens));
  out.scalar("symphony_step_time_seconds", kGauge, "Wall time of the last step on rank 0.",
             s.step_time_s);
  out.scalar("symphony_mfu_ratio", kGauge,
             "Model FLOPs utilisation of the last step: model FLOP/s over the ranks' peak "
             "(monitor.peak_tflops), 0 to 1.",
             s.mfu);
  out.scalar("symphony_router_max_over_mean_load", kGauge,
             "Router load imbalance of the last step: the largest max/mean expert load of any MoE "
             "layer (1 is perfect balance).",
             s.max_over_mean_load);
  out.scalar("symphony_router_dropped_fraction", kGauge,
             "Fraction of the last step's routed token slots dropped by expert capacity.",
             s.dropped_fraction);
  out.scalar("symphony_router_dropped_tokens_total", kCounter,
             "Routed token slots dropped by expert capacity since the process started.",
             double(s.dropped_tokens));
  out.scalar("symphony_stragglers_total", kCounter,
             "Stragglers named by the straggler detector since the process started.",
             double(s.straggler_alarms));
  out.scalar("symphony_checkpoint_step", kGauge,
             "Step of the newest committed checkpoint (0: none yet).", double(s.checkpoint_step));
  out.scalar("symphony_checkpoint_age_seconds", kGauge,
             "Seconds since the newest checkpoint was committed (since the run started when none "
             "was).",
             s.checkpoint_unix_s > 0 ? std::max(0.0, now_unix_s - s.checkpoint_unix_s) : NAN);

  MetricFamily& info = out.add("symphony_rank_info", kGauge,
                               "1 for each rank, labelled with its host and process id.");
  for (const RankMetrics& r : s.ranks)
    info.samples.push_back(
        {{{"rank", rank_label(r)}, {"host", r.host}, {"pid", std::to_string(r.pid)}}, 1.0});
  struct PerRank {
    const char* name;
    const char* help;
    double RankTimes::*field;
  };
  const PerRank per_rank[] = {
      {"symphony_rank_step_time_seconds", "Wall time of a step on the rank, seconds per step.",
       &RankTimes::step_s},
      {"symphony_rank_compute_seconds",
       "Time of a step the rank computed: its step time less the waits, seconds per step.",
       &RankTimes::compute_s},
      {"symphony_rank_data_wait_seconds",
       "Time of a step the rank waited for the data loader, seconds per step.",
       &RankTimes::data_wait_s},
      {"symphony_rank_checkpoint_stall_seconds",
       "Time of a step the rank's training thread was held by checkpoint saves, seconds per "
       "step.",
       &RankTimes::checkpoint_stall_s},
  };
  for (const PerRank& m : per_rank) {
    MetricFamily& f =
        out.add(m.name, kGauge,
                std::string(m.help) + " Mean over the last monitor.rank_stats_every steps.");
    for (const RankMetrics& r : s.ranks)
      f.samples.push_back({{{"rank", rank_label(r)}}, r.per_step.*m.field});
  }
  MetricFamily& waits = out.add(
      "symphony_rank_comm_wait_seconds", kGauge,
      "Time of a step the rank was blocked waiting in communication, by kind, seconds per step. "
      "Mean over the last monitor.rank_stats_every steps.");
  for (const RankMetrics& r : s.ranks)
    for (int k = 0; k < kNumWaitKinds; ++k)
      waits.samples.push_back(
          {{{"rank", rank_label(r)}, {"kind", std::string(wait_kind_name(WaitKind(k)))}},
           r.per_step.comm_wait_s[size_t(k)]});
  MetricFamily& straggler = out.add(
      "symphony_rank_straggler", kGauge,
      "1 while the rank is named a straggler (slower than its peers, docs/monitoring.md), else 0.");
  for (const RankMetrics& r : s.ranks)
    straggler.samples.push_back({{{"rank", rank_label(r)}}, r.straggler ? 1.0 : 0.0});
  MetricFamily& memory = out.add("symphony_memory_bytes", kGauge,
                                 "Tensor memory the rank holds now, by category, bytes.");
  MetricFamily& peak = out.add("symphony_memory_peak_bytes", kGauge,
                               "Most tensor memory the rank held at once, by category, bytes.");
  for (const RankMetrics& r : s.ranks)
    for (int c = 0; c < kNumMemoryCategories; ++c) {
      const std::string category(memory_category_name(MemoryCategory(c)));
      memory.samples.push_back(
          {{{"rank", rank_label(r)}, {"category", category}}, double(r.memory_bytes[size_t(c)])});
      peak.samples.push_back({{{"rank", rank_label(r)}, {"category", category}},
                              double(r.memory_peak_bytes[size_t(c)])});
    }
  return out.take();
}

}  // namespace symphony
