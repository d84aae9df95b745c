#pragma once
// How much memory this process can use, read from Linux: /proc/meminfo (MemAvailable, MemTotal,
// SwapTotal) and the memory cgroup the process is in (v2: memory.max and memory.current; v1:
// memory.limit_in_bytes and memory.usage_in_bytes), with the cgroup's ancestors, whose limits
// bind too. A cgroup's reclaimable page cache (inactive_file in memory.stat) is not counted as
// used: the kernel drops it before it kills anything, and counting it would refuse runs on a
// machine that just read a large dataset.
//
// The debug knob SYMPHONY_MEMORY_LIMIT (bytes, or a number with a K/M/G/T suffix, powers of 1024)
// lowers both figures further, as a cgroup limit would: it lets tests and users rehearse a smaller
// machine. It can only lower them.
//
// The parse_* functions take file text, so each format is testable without the files.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace symphony {

// "41.2 GiB", "512.0 MiB", "12 B": one decimal, binary units.
std::string format_bytes(int64_t bytes);

struct HostMemory {
  std::optional<int64_t> mem_available;  // /proc/meminfo MemAvailable
  std::optional<int64_t> mem_total;      // /proc/meminfo MemTotal + SwapTotal
  std::optional<int64_t> cgroup_limit;   // the tightest limit of the cgroup and its ancestors
  std::optional<int64_t> cgroup_free;    // the least (limit - usage) among them
  std::string cgroup_version;            // "v1", "v2", or "" when no memory cgroup was found
  std::optional<int64_t> knob_limit;     // SYMPHONY_MEMORY_LIMIT

  // Bytes the process can allocate now: the least of MemAvailable, the cgroup's free bytes and
  // the knob; std::nullopt when none of them is known (then nothing can be checked).
  std::optional<int64_t> available() const;
  // The most the process could ever hold: the least of MemTotal + SwapTotal, the cgroup limit and
  // the knob; std::nullopt when none is known.
  std::optional<int64_t> capacity() const;
  // Where available() comes from, for messages: "MemAvailable; cgroup limit none",
  // "cgroup v2 limit 24.0 GiB, 3.1 GiB in use; MemAvailable 60.2 GiB".
  std::string describe_available() const;
  // The same for capacity(): "MemTotal + SwapTotal; cgroup limit none".
  std::string describe_capacity() const;
};

// Where read_host_memory looks; tests point it at a fake tree.
struct HostMemorySources {
  std::filesystem::path proc = "/proc";            // reads meminfo and self/cgroup
  std::filesystem::path cgroup = "/sys/fs/cgroup";  // the cgroup file systems' mount point
  std::optional<std::string> limit_knob;           // SYMPHONY_MEMORY_LIMIT's text, if set
  // The real system, and the knob from the environment.
  static HostMemorySources system();
};

// Reads what the sources hold. Missing or unreadable files leave their fields empty: outside
// Linux, or in a sandbox without /proc, nothing is known and nothing is refused. An unparseable
// knob is ignored with the rest: it is a debug aid, not configuration.
HostMemory read_host_memory(const HostMemorySources& sources = HostMemorySources::system());

// "MemAvailable:   23597600 kB" -> 24163942400: the field `key` of /proc/meminfo text, in bytes.
std::optional<int64_t> parse_meminfo_field(std::string_view meminfo, std::string_view key);

// The memory cgroup of /proc/self/cgroup text: the v1 "memory" controller's path when there is
// one (a v1 or hybrid system), else the v2 path ("0::/path").
struct ProcCgroup {
  std::string version;  // "v1", "v2", or "" when the text names neither
  std::string path;     // relative to the hierarchy's mount, starting with '/'
};
ProcCgroup parse_proc_cgroup(std::string_view text);

// A cgroup limit file (v2 memory.max, v1 memory.limit_in_bytes): the limit in bytes, or
// std::nullopt for "max", v1's "unlimited" (values from 2^62 up) or unparseable text.
std::optional<int64_t> parse_cgroup_limit(std::string_view text);

// A number in a cgroup file (memory.current, memory.usage_in_bytes).
std::optional<int64_t> parse_cgroup_number(std::string_view text);

// The field `key` of memory.stat text ("inactive_file 57344").
std::optional<int64_t> parse_memory_stat_field(std::string_view text, std::string_view key);

// SYMPHONY_MEMORY_LIMIT's syntax: "25769803776", "24G", "512M", "1.5T" (powers of 1024).
std::optional<int64_t> parse_memory_size(std::string_view text);

}  // namespace symphony
