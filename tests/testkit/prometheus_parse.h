#pragma once
// A strict reader of the Prometheus text exposition format (0.0.4), for tests of what /metrics
// returns: every line must be a # HELP, a # TYPE or a sample of the family last typed.

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony::testkit {

struct ParsedSample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct ParsedExposition {
  std::map<std::string, std::string> help;  // [family] unescaped
  std::map<std::string, std::string> type;  // [family]
  std::vector<ParsedSample> samples;

  // The samples of `name` whose labels include every pair of `labels`.
  std::vector<ParsedSample> find(const std::string& name,
                                 const std::map<std::string, std::string>& labels = {}) const;
};

// Failure: kInvalidArgument naming the line for anything the format does not allow.
Result<ParsedExposition> parse_prometheus_text(const std::string& text);

}  // namespace symphony::testkit
