#include "monitor/loss_series.h"

#include <map>
#include <string>

#include "monitor/metrics_log.h"

namespace symphony {
namespace {

std::vector<PlotPoint> to_points(const std::map<int64_t, double>& by_step) {
  std::vector<PlotPoint> points;
  points.reserve(by_step.size());
  for (const auto& [step, value] : by_step) points.push_back({double(step), value});
  return points;
}

}  // namespace

Result<LossSeries> loss_series(const std::vector<nlohmann::json>& records,
                               const std::filesystem::path& source) {
  std::map<int64_t, double> train, eval;
  for (size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& r = records[i];
    if (!r.is_object() || r.contains("rank")) continue;
    const char* key = r.contains("loss") ? "loss" : r.contains("eval_loss") ? "eval_loss" : nullptr;
    if (key == nullptr) continue;
    const nlohmann::json& step = r.contains("step") ? r["step"] : nlohmann::json();
    if (!step.is_number_integer() || !r[key].is_number())
      return Error::corrupt("{}: record {}: `step` must be an integer and `{}` a number (got {})",
                            source.string(), i + 1, key, r.dump());
    (key[0] == 'l' ? train : eval)[step.get<int64_t>()] = r[key].get<double>();
  }
  return LossSeries{to_points(train), to_points(eval)};
}

Result<LossSeries> read_loss_series(const std::filesystem::path& metrics_path) {
  SYM_TRY_ASSIGN(const std::vector<nlohmann::json> records, read_metrics_log(metrics_path));
  return loss_series(records, metrics_path);
}

}  // namespace symphony
