#pragma once
// The train and eval loss curves of a run, read back from its metrics log (metrics_log.h): step
// records (`loss`, no `rank`) and evaluation records (`eval_loss`). A run resumed after a failure
// re-runs the steps after its checkpoint and writes their records again; the last record of a
// step wins, so a curve holds one point per step, in step order.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/status.h"
#include "monitor/loss_plot.h"

namespace symphony {

struct LossSeries {
  std::vector<PlotPoint> train;  // (step, loss)
  std::vector<PlotPoint> eval;   // (step, eval_loss)
};

// Records that are not step or evaluation records (checkpoint, per-rank rows, ...) are ignored.
// Failure: kCorrupt naming `source` when a step or evaluation record's `step` or loss is not a
// number.
Result<LossSeries> loss_series(const std::vector<nlohmann::json>& records,
                               const std::filesystem::path& source);

// read_metrics_log + loss_series.
Result<LossSeries> read_loss_series(const std::filesystem::path& metrics_path);

}  // namespace symphony
