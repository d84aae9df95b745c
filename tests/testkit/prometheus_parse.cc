#include "testkit/prometheus_parse.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "monitor/prometheus_text.h"

namespace symphony::testkit {
namespace {

// Reads an escaped string up to an unescaped `end` (or the end of the line when end is 0).
Result<std::string> unescape(const std::string& line, size_t& at, char end, bool quotes) {
  std::string out;
  while (at < line.size() && line[at] != end) {
    char c = line[at++];
    if (c == '"' && quotes) return Error::invalid("unescaped '\"' in {}", line);
    if (c != '\\') {
      out += c;
      continue;
    }
    if (at == line.size()) return Error::invalid("dangling backslash in {}", line);
    c = line[at++];
    if (c == 'n') {
      out += '\n';
    } else if (c == '\\') {
      out += '\\';
    } else if (c == '"' && quotes) {
      out += '"';
    } else {
      return Error::invalid("unknown escape \\{} in {}", c, line);
    }
  }
  if (end != 0 && at == line.size()) return Error::invalid("unterminated value in {}", line);
  return out;
}

Result<double> parse_value(const std::string& text, const std::string& line) {
  if (text == "NaN") return NAN;
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    return Error::invalid("bad value '{}' in {}", text, line);
  return v;
}

}  // namespace

std::vector<ParsedSample> ParsedExposition::find(
    const std::string& name, const std::map<std::string, std::string>& labels) const {
  std::vector<ParsedSample> out;
  for (const ParsedSample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match &= it != s.labels.end() && it->second == v;
    }
    if (match) out.push_back(s);
  }
  return out;
}

Result<ParsedExposition> parse_prometheus_text(const std::string& text) {
  ParsedExposition out;
  if (!text.empty() && text.back() != '\n') return Error::invalid("the last line has no newline");
  std::istringstream in(text);
  std::string line, family;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string where = fmt::format("line {}: {}", line_number, line);
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const size_t space = line.find(' ', 7);
      if (space == std::string::npos) return Error::invalid("{}: no text", where);
      const std::string name = line.substr(7, space - 7);
      if (!is_valid_metric_name(name)) return Error::invalid("{}: bad name", where);
      size_t at = space + 1;
      if (line[2] == 'H') {
        SYM_TRY_ASSIGN(out.help[name], unescape(line, at, 0, false));
        family = name;
      } else {
        const std::string type = line.substr(at);
        if (type != "gauge" && type != "counter" && type != "untyped" && type != "summary" &&
            type != "histogram")
          return Error::invalid("{}: unknown type", where);
        if (out.type.count(name)) return Error::invalid("{}: family typed twice", where);
        out.type[name] = type;
        family = name;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') return Error::invalid("{}: not a sample", where);
    ParsedSample s;
    size_t at = 0;
    while (at < line.size() && line[at] != '{' && line[at] != ' ') ++at;
    s.name = line.substr(0, at);
    if (!is_valid_metric_name(s.name)) return Error::invalid("{}: bad metric name", where);
    if (s.name != family || !out.type.count(family))
      return Error::invalid("{}: a sample outside its family's TYPE", where);
    if (at < line.size() && line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        const size_t eq = line.find('=', at);
        if (eq == std::string::npos) return Error::invalid("{}: label without '='", where);
        const std::string label = line.substr(at, eq - at);
        if (!is_valid_label_name(label)) return Error::invalid("{}: bad label name", where);
        if (eq + 1 >= line.size() || line[eq + 1] != '"')
          return Error::invalid("{}: unquoted label value", where);
        at = eq + 2;
        SYM_TRY_ASSIGN(std::string value, unescape(line, at, '"', true));
        ++at;  // the closing quote
        if (!s.labels.emplace(label, std::move(value)).second)
          return Error::invalid("{}: label repeated", where);
        if (at < line.size() && line[at] == ',') ++at;
      }
      if (at == line.size()) return Error::invalid("{}: unterminated labels", where);
      ++at;
    }
    if (at >= line.size() || line[at] != ' ') return Error::invalid("{}: no value", where);
    SYM_TRY_ASSIGN(s.value, parse_value(line.substr(at + 1), where));
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace symphony::testkit
