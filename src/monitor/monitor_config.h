#pragma once
// Monitoring settings: the [monitor] section of a run config (docs/monitoring.md).

#include <cstdint>
#include <string>

namespace symphony {

struct MonitorConfig {
  // Rank 0 serves GET /metrics (Prometheus text format) on this TCP port; 0: no endpoint.
  int64_t metrics_port = 0;
  // The address the endpoint binds: "127.0.0.1" (this machine only) or "0.0.0.0" (every
  // interface, for a Prometheus server elsewhere).
  std::string metrics_host = "127.0.0.1";
  // Seconds the endpoint keeps serving the final figures after the last step, so a scrape
  // interval that ends after the run still sees them; 0: it stops with the run.
  double metrics_linger_s = 0;
  // Every rank's step timings (compute, communication waits, data wait, checkpoint stall) are
  // gathered every this many steps, judged for stragglers and written to metrics.jsonl as one
  // row per rank; 0: off (no straggler detection either).
  int64_t rank_stats_every = 10;
  // Straggler rule (monitor/straggler_detector.h): a rank is slow in a window when its per-step
  // compute (or data wait) exceeds the median of its peers by more than
  // max(straggler_mad_multiple * 1.4826 * MAD, straggler_min_excess * the peers' median busy
  // time), and is named after straggler_windows slow windows in a row. Where ranks share cores
  // with other work, a floor of 0.2 keeps their spells of slowness from naming healthy ranks
  // (docs/monitoring.md).
  double straggler_mad_multiple = 3.5;
  double straggler_min_excess = 0.15;
  int64_t straggler_windows = 3;
  // Peak dense TFLOP/s of one rank's device, for the model FLOPs utilisation (MFU) reported in
  // metrics.jsonl and /metrics; 0: MFU is not reported.
  double peak_tflops = 0;
  // Test knob: world rank debug_slow_rank busy-waits debug_slow_factor times its compute time
  // at the end of every step from step debug_slow_from_step on (1-based; 0.3: 30% slower), to
  // exercise straggler detection. Factor 0: off.
  int64_t debug_slow_rank = 0;
  double debug_slow_factor = 0;
  int64_t debug_slow_from_step = 1;
};

}  // namespace symphony
