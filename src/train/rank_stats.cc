#include "train/rank_stats.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace symphony {

RankStats::RankStats(const MonitorConfig& config, DeviceMesh& mesh)
    : config_(config), world_(mesh.world()), waits_(mesh) {}

Result<std::unique_ptr<RankStats>> RankStats::create(const MonitorConfig& config,
                                                     DeviceMesh& mesh) {
  std::unique_ptr<RankStats> s(new RankStats(config, mesh));
  Comm& world = s->world_;
  const size_t n = size_t(world.size());
  std::vector<uint8_t> host(kHostBytes, 0), hosts(n * kHostBytes);
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) std::strcpy(name, "unknown");
  std::memcpy(host.data(), name, std::min<size_t>(std::strlen(name), kHostBytes - 1));
  SYM_TRY(world.all_gather(std::span<const uint8_t>(host), std::span<uint8_t>(hosts)));
  const std::vector<int64_t> self = {int64_t(getpid()), mesh.rank(Axis::kPipeline)};
  std::vector<int64_t> all(2 * n);
  SYM_TRY(world.all_gather(std::span<const int64_t>(self), std::span<int64_t>(all)));
  s->ranks_.resize(n);
  std::vector<int> stage(n);
  for (size_t r = 0; r < n; ++r) {
    const char* h = reinterpret_cast<const char*>(hosts.data() + r * kHostBytes);
    s->ranks_[r] = {std::string(h, strnlen(h, kHostBytes)), all[2 * r], int(all[2 * r + 1])};
    stage[r] = int(all[2 * r + 1]);
  }
  if (world.rank() == 0)
    s->detector_.emplace(StragglerRule{config.straggler_mad_multiple, config.straggler_min_excess,
                                       config.straggler_windows},
                         std::move(stage));
  s->gather_send_.resize(kGatherDoubles);
  s->gather_recv_.resize(n * kGatherDoubles);
  return s;
}

void RankStats::begin_step() {
  step_timer_.reset();
  waits_at_begin_ = waits_.seconds();
  data_wait_s_ = 0;
}

void RankStats::debug_slowdown(int64_t step) {
  if (config_.debug_slow_factor <= 0 || config_.debug_slow_rank != world_.rank() ||
      step < config_.debug_slow_from_step)
    return;
  const std::array<double, kNumWaitKinds> now = waits_.seconds();
  double waited = data_wait_s_;
  for (int k = 0; k < kNumWaitKinds; ++k) waited += now[size_t(k)] - waits_at_begin_[size_t(k)];
  const double compute_s = std::max(0.0, step_timer_.elapsed_s() - waited);
  // A spin, not a sleep: where cores are shared, the scheduler favours a thread that slept and
  // would hand the slowed rank its time back in the next step. Its peers meanwhile wait for it
  // (blocked), so the spin takes no cycles from them.
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(config_.debug_slow_factor * compute_s));
  while (std::chrono::steady_clock::now() < until) {
  }
}

void RankStats::end_step(double checkpoint_stall_s) {
  const double step_s = step_timer_.elapsed_s();
  std::array<double, kNumWaitKinds> waited = waits_.seconds();
  for (int k = 0; k < kNumWaitKinds; ++k) waited[size_t(k)] -= waits_at_begin_[size_t(k)];
  if (first_step_) {
    first_step_ = false;
    return;
  }
  window_.add(step_times(step_s, data_wait_s_, checkpoint_stall_s, waited));
}

bool RankStats::window_due(int64_t steps_done) const {
  // Every rank has counted the same steps, so every rank answers alike.
  return config_.rank_stats_every > 0 && steps_done % config_.rank_stats_every == 0 &&
         window_.steps > 0;
}

Result<RankWindow> RankStats::gather_window(int64_t steps_done) {
  const size_t n = ranks_.size();
  window_.pack(
      std::span<double, RankTimes::kPackedSize>(gather_send_.data(), RankTimes::kPackedSize));
  const MemorySnapshot memory = memory_stats_snapshot();
  for (int c = 0; c < kNumMemoryCategories; ++c) {
    gather_send_[size_t(RankTimes::kPackedSize + c)] = double(memory.current_bytes[size_t(c)]);
    gather_send_[size_t(RankTimes::kPackedSize + kNumMemoryCategories + c)] =
        double(memory.peak_bytes[size_t(c)]);
  }
  SYM_TRY(
      world_.all_gather(std::span<const double>(gather_send_), std::span<double>(gather_recv_)));
  RankWindow w;
  w.step = steps_done;
  w.steps = int64_t(window_.steps);
  window_ = RankTimes{};
  w.per_step.resize(n);
  w.memory.resize(n);
  for (size_t r = 0; r < n; ++r) {
    const double* at = gather_recv_.data() + r * kGatherDoubles;
    w.per_step[r] = RankTimes::unpack(
                        std::span<const double, RankTimes::kPackedSize>(at, RankTimes::kPackedSize))
                        .per_step();
    MemorySnapshot& m = w.memory[r];
    for (int c = 0; c < kNumMemoryCategories; ++c) {
      m.current_bytes[size_t(c)] = int64_t(at[RankTimes::kPackedSize + c]);
      m.peak_bytes[size_t(c)] = int64_t(at[RankTimes::kPackedSize + kNumMemoryCategories + c]);
      m.total_current_bytes += m.current_bytes[size_t(c)];
      m.total_peak_bytes += m.peak_bytes[size_t(c)];
    }
  }
  if (detector_) {
    w.alarms = detector_->observe(w.per_step);
    w.named.resize(n);
    for (size_t r = 0; r < n; ++r) w.named[r] = detector_->named(int(r));
  }
  return w;
}

std::vector<nlohmann::json> RankStats::rank_rows(const RankWindow& window) const {
  std::vector<nlohmann::json> rows;
  for (size_t r = 0; r < window.per_step.size(); ++r) {
    const RankTimes& t = window.per_step[r];
    nlohmann::json waits;
    for (int k = 0; k < kNumWaitKinds; ++k)
      waits[std::string(wait_kind_name(WaitKind(k)))] = t.comm_wait_s[size_t(k)];
    nlohmann::json row = {{"step", window.step},
                          {"rank", r},
                          {"host", ranks_[r].host},
                          {"pid", ranks_[r].pid},
                          {"stage", ranks_[r].stage},
                          {"rank_times",
                           {{"window_steps", window.steps},
                            {"step_s", t.step_s},
                            {"compute_s", t.compute_s},
                            {"data_wait_s", t.data_wait_s},
                            {"checkpoint_stall_s", t.checkpoint_stall_s},
                            {"comm_wait_s", std::move(waits)}}},
                          {"memory_bytes", window.memory[r].total_current_bytes}};
    if (!window.named.empty()) row["named_straggler"] = bool(window.named[r]);
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json RankStats::straggler_record(int64_t step, const StragglerAlarm& alarm) const {
  const RankIdentity& id = ranks_[size_t(alarm.rank)];
  return {{"step", step},
          {"straggler",
           {{"rank", alarm.rank},
            {"host", id.host},
            {"pid", id.pid},
            {"phase", straggler_phase_name(alarm.phase)},
            {"time_s", alarm.value_s},
            {"peer_median_s", alarm.peer_median_s},
            {"margin_s", alarm.margin_s},
            {"windows", alarm.windows}}},
          {"straggler_count", alarms()}};
}

std::string RankStats::straggler_message(const RankWindow& window,
                                         const StragglerAlarm& alarm) const {
  const RankIdentity& id = ranks_[size_t(alarm.rank)];
  const int64_t steps = std::min(alarm.windows * config_.rank_stats_every, window.step);
  return fmt::format(
      "straggler: rank {} (host {}, pid {}) is slow in {}: {:.2f} ms per step against a median "
      "of {:.2f} ms among its peers ({:.0f}% more; margin {:.2f} ms) for {} windows in a row, "
      "steps {}-{}",
      alarm.rank, id.host, id.pid, straggler_phase_name(alarm.phase), alarm.value_s * 1e3,
      alarm.peer_median_s * 1e3,
      alarm.peer_median_s > 0 ? 100 * (alarm.value_s / alarm.peer_median_s - 1) : 0.0,
      alarm.margin_s * 1e3, alarm.windows, window.step - steps + 1, window.step);
}

}  // namespace symphony
