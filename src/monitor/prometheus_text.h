#pragma once
// The Prometheus text exposition format, version 0.0.4 (what GET /metrics returns):
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> gauge|counter
//   <name>{<label>="<value, with \, " and newline escaped>",...} <value>
// one family after another, every line ending in '\n'. Names match [a-zA-Z_:][a-zA-Z0-9_:]*,
// label names [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__" (reserved by Prometheus). A
// counter's name ends in "_total". Values are written in the shortest form that reads back to
// the same double; NaN and infinities as NaN, +Inf and -Inf.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace symphony {

enum class MetricType : uint8_t { kGauge, kCounter };
std::string_view metric_type_name(MetricType type);  // "gauge", "counter"

struct MetricLabel {
  std::string name;
  std::string value;
};

struct MetricSample {
  std::vector<MetricLabel> labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;  // e.g. "symphony_loss"
  std::string help;  // one line of plain text; newlines are escaped
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;  // a family without samples is written without them
};

bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);
// `value` with \ as \\, " as \" and a newline as \n.
std::string escape_label_value(std::string_view value);
// `help` with \ as \\ and a newline as \n.
std::string escape_help_text(std::string_view help);
std::string format_metric_value(double value);

// The exposition text of `families`, in order. REQUIRES: every metric and label name valid, a
// counter's name ending in "_total", no two families of one name (our own names: SYM_CHECK).
std::string render_prometheus_text(std::span<const MetricFamily> families);

}  // namespace symphony
