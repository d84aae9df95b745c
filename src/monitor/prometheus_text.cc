#include "monitor/prometheus_text.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "core/check.h"

namespace symphony {
namespace {

bool is_name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool is_name_char(char c, bool colon) { return is_name_start(c, colon) || (c >= '0' && c <= '9'); }

bool is_valid_name(std::string_view name, bool colon) {
  if (name.empty() || !is_name_start(name[0], colon)) return false;
  for (char c : name)
    if (!is_name_char(c, colon)) return false;
  return true;
}

}  // namespace

std::string_view metric_type_name(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
  }
  return "untyped";
}

bool is_valid_metric_name(std::string_view name) { return is_valid_name(name, true); }

bool is_valid_label_name(std::string_view name) {
  return is_valid_name(name, false) && !name.starts_with("__");
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help_text(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);  // fmt's default: the shortest round-trip form
}

std::string render_prometheus_text(std::span<const MetricFamily> families) {
  std::string out;
  std::set<std::string_view> seen;
  for (const MetricFamily& f : families) {
    SYM_CHECK(is_valid_metric_name(f.name), "invalid metric name '{}'", f.name);
    SYM_CHECK(f.type != MetricType::kCounter || f.name.ends_with("_total"),
              "counter '{}' must end in _total", f.name);
    SYM_CHECK(seen.insert(f.name).second, "metric family '{}' written twice", f.name);
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help_text(f.help), f.name,
                       metric_type_name(f.type));
    for (const MetricSample& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          const MetricLabel& l = s.labels[i];
          SYM_CHECK(is_valid_label_name(l.name), "metric '{}': invalid label name '{}'", f.name,
                    l.name);
          out += fmt::format("{}{}=\"{}\"", i ? "," : "", l.name, escape_label_value(l.value));
        }
        out += '}';
      }
      out += ' ';
      out += format_metric_value(s.value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace symphony
