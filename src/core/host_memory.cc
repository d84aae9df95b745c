#include "core/host_memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace symphony {
namespace {

namespace fs = std::filesystem;

// v1 reports "no limit" as LONG_MAX rounded down to a page; anything this large is no limit.
constexpr int64_t kNoLimitFrom = int64_t(1) << 62;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> parse_int(std::string_view s) {
  s = trim(s);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::optional<std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

// Calls f(line) for every line of `text`.
template <typename F>
void for_each_line(std::string_view text, F f) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    f(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

std::optional<int64_t> min_of(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

struct CgroupFiles {
  const char* limit;
  const char* usage;
  const char* inactive_file;  // the memory.stat key of reclaimable page cache
};

// The tightest limit, and the least free bytes, of `start` and its ancestors up to `base`.
void read_cgroup_chain(const fs::path& base, const fs::path& start, const CgroupFiles& files,
                       HostMemory& host) {
  fs::path dir = start;
  for (;;) {
    const std::optional<std::string> limit_text = read_small_file(dir / files.limit);
    if (const std::optional<int64_t> limit =
            limit_text ? parse_cgroup_limit(*limit_text) : std::nullopt) {
      host.cgroup_limit = min_of(host.cgroup_limit, *limit);
      int64_t used = 0;
      if (const std::optional<std::string> usage = read_small_file(dir / files.usage))
        used = parse_cgroup_number(*usage).value_or(0);
      if (const std::optional<std::string> stat = read_small_file(dir / "memory.stat"))
        used -= std::min(used, parse_memory_stat_field(*stat, files.inactive_file).value_or(0));
      host.cgroup_free = min_of(host.cgroup_free, std::max<int64_t>(*limit - used, 0));
    }
    if (dir == base || !dir.has_parent_path() || dir.parent_path() == dir) break;
    dir = dir.parent_path();
  }
}

struct Part {
  std::string binding;  // how the part is named when it decides the figure
  std::string other;    // how it is named beside the one that decides
  std::optional<int64_t> value;
};

// "<binding part>; <other part>; ..." with the part of least value first.
std::string describe(std::vector<Part> parts) {
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
    return a.value.value_or(INT64_MAX) < b.value.value_or(INT64_MAX);
  });
  std::string out;
  bool first = true;
  for (const Part& p : parts) {
    if (!out.empty()) out += "; ";
    out += first && p.value ? p.binding : p.other;
    first = false;
  }
  return out;
}

std::string cgroup_part(const HostMemory& m) {
  if (!m.cgroup_limit) return "cgroup limit none";
  return fmt::format("cgroup {} limit {}, {} in use", m.cgroup_version,
                     format_bytes(*m.cgroup_limit),
                     format_bytes(*m.cgroup_limit - m.cgroup_free.value_or(*m.cgroup_limit)));
}

}  // namespace

std::string format_bytes(int64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(bytes);
  int u = 0;
  while (std::fabs(v) >= 1024.0 && u < 6) v /= 1024.0, ++u;
  if (u == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::optional<int64_t> HostMemory::available() const {
  return min_of(min_of(mem_available, cgroup_free), knob_limit);
}

std::optional<int64_t> HostMemory::capacity() const {
  return min_of(min_of(mem_total, cgroup_limit), knob_limit);
}

std::string HostMemory::describe_available() const {
  std::vector<Part> parts;
  parts.push_back({"MemAvailable",
                   mem_available ? "MemAvailable " + format_bytes(*mem_available)
                                 : "MemAvailable unknown",
                   mem_available});
  parts.push_back({cgroup_part(*this), cgroup_part(*this), cgroup_free});
  if (knob_limit)
    parts.push_back({"SYMPHONY_MEMORY_LIMIT", "SYMPHONY_MEMORY_LIMIT " + format_bytes(*knob_limit),
                     knob_limit});
  return describe(std::move(parts));
}

std::string HostMemory::describe_capacity() const {
  std::vector<Part> parts;
  parts.push_back({"MemTotal + SwapTotal",
                   mem_total ? "MemTotal + SwapTotal " + format_bytes(*mem_total)
                             : "MemTotal unknown",
                   mem_total});
  parts.push_back({cgroup_part(*this), cgroup_part(*this), cgroup_limit});
  if (knob_limit)
    parts.push_back({"SYMPHONY_MEMORY_LIMIT", "SYMPHONY_MEMORY_LIMIT " + format_bytes(*knob_limit),
                     knob_limit});
  return describe(std::move(parts));
}

HostMemorySources HostMemorySources::system() {
  HostMemorySources sources;
  if (const char* knob = std::getenv("SYMPHONY_MEMORY_LIMIT")) sources.limit_knob = knob;
  return sources;
}

HostMemory read_host_memory(const HostMemorySources& sources) {
  HostMemory host;
  if (const std::optional<std::string> meminfo = read_small_file(sources.proc / "meminfo")) {
    host.mem_available = parse_meminfo_field(*meminfo, "MemAvailable");
    if (const std::optional<int64_t> total = parse_meminfo_field(*meminfo, "MemTotal"))
      host.mem_total = *total + parse_meminfo_field(*meminfo, "SwapTotal").value_or(0);
  }
  if (const std::optional<std::string> text = read_small_file(sources.proc / "self" / "cgroup")) {
    const ProcCgroup cgroup = parse_proc_cgroup(*text);
    fs::path base;
    CgroupFiles files{};
    if (cgroup.version == "v1") {
      base = sources.cgroup / "memory";
      files = {"memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"};
    } else if (cgroup.version == "v2") {
      // A hybrid system mounts the v2 hierarchy under "unified".
      std::error_code ec;
      base = fs::exists(sources.cgroup / "cgroup.controllers", ec) ? sources.cgroup
                                                                   : sources.cgroup / "unified";
      files = {"memory.max", "memory.current", "inactive_file"};
    }
    if (!base.empty()) {
      // Inside a cgroup namespace the process's own cgroup is the mount's root, whatever path
      // /proc/self/cgroup shows relative to an outer root.
      std::error_code ec;
      fs::path start = base / fs::path(cgroup.path).relative_path();
      if (!fs::is_directory(start, ec)) start = base;
      start = start.lexically_normal();
      if (!start.has_filename()) start = start.parent_path();  // drop a trailing '/'
      fs::path normal_base = base.lexically_normal();
      if (!normal_base.has_filename()) normal_base = normal_base.parent_path();
      read_cgroup_chain(normal_base, start, files, host);
      if (host.cgroup_limit) host.cgroup_version = cgroup.version;
    }
  }
  if (sources.limit_knob) host.knob_limit = parse_memory_size(*sources.limit_knob);
  return host;
}

std::optional<int64_t> parse_meminfo_field(std::string_view meminfo, std::string_view key) {
  std::optional<int64_t> result;
  for_each_line(meminfo, [&](std::string_view line) {
    if (result || !line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':')
      return;
    std::string_view rest = trim(line.substr(key.size() + 1));
    int64_t unit = 1;
    if (rest.ends_with("kB")) {
      unit = 1024;
      rest = trim(rest.substr(0, rest.size() - 2));
    }
    const std::optional<int64_t> v = parse_int(rest);
    int64_t bytes;
    if (v && !__builtin_mul_overflow(*v, unit, &bytes)) result = bytes;
  });
  return result;
}

ProcCgroup parse_proc_cgroup(std::string_view text) {
  ProcCgroup v1, v2;
  for_each_line(text, [&](std::string_view line) {
    // hierarchy-ID:controller-list:path
    const size_t a = line.find(':');
    if (a == std::string_view::npos) return;
    const size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) return;
    const std::string_view id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1);
    const std::string path(line.substr(b + 1));
    if (id == "0" && controllers.empty()) {
      v2 = {"v2", path};
      return;
    }
    std::string_view list = controllers;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      if (list.substr(0, comma) == "memory") v1 = {"v1", path};
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  });
  // A v1 memory controller takes the memory from the v2 hierarchy on a hybrid system.
  return !v1.version.empty() ? v1 : v2;
}

std::optional<int64_t> parse_cgroup_limit(std::string_view text) {
  const std::optional<int64_t> v = parse_int(text);
  if (!v || *v >= kNoLimitFrom) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_cgroup_number(std::string_view text) { return parse_int(text); }

std::optional<int64_t> parse_memory_stat_field(std::string_view text, std::string_view key) {
  std::optional<int64_t> result;
  for_each_line(text, [&](std::string_view line) {
    if (result || !line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ' ')
      return;
    result = parse_int(line.substr(key.size() + 1));
  });
  return result;
}

std::optional<int64_t> parse_memory_size(std::string_view text) {
  text = trim(text);
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  if (digits == 0) return std::nullopt;
  const std::string number(text.substr(0, digits));
  std::string unit(trim(text.substr(digits)));
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (unit.ends_with("IB")) unit.resize(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("B")) unit.resize(unit.size() - 1);
  static const std::string_view kSuffixes = "KMGTP";
  double scale = 1;
  if (unit == "B") unit.clear();
  if (!unit.empty()) {
    const size_t i = kSuffixes.find(unit);
    if (unit.size() != 1 || i == std::string_view::npos) return std::nullopt;
    scale = std::ldexp(1.0, 10 * int(i + 1));
  }
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  const double bytes = value * scale;
  if (!(bytes >= 0) || bytes >= 9.2e18) return std::nullopt;
  return int64_t(bytes);
}

}  // namespace symphony
