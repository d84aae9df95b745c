#pragma once
// Shared by the subcommands: exit codes and error reporting.
//   exit 0: success;  1: a runtime failure;  2: bad input (command line, config, data, files).

#include <fmt/format.h>

#include <cstdio>

#include "core/status.h"

namespace symphony::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

// Prints "symphony: error: <message>" and returns the exit code for the status.
inline int report(const Status& status) {
  std::fprintf(stderr, "symphony: error: %s\n", status.message().c_str());
  switch (status.code()) {
    case ErrorCode::kOk: return kExitOk;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kCorrupt: return kExitBadInput;
    default: return kExitFailure;
  }
}

inline std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) bytes /= 1024.0, ++u;
  return fmt::format("{:.2f} {}", bytes, units[u]);
}

inline std::string human_count(double n) {
  if (n >= 1e12) return fmt::format("{:.2f}T", n / 1e12);
  if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f}K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

}  // namespace symphony::cli
