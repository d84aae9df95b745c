#include "core/check.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace symphony {
namespace {
std::mutex& hooks_mutex() {
  static std::mutex m;
  return m;
}
std::vector<FatalHook>& hooks() {
  static std::vector<FatalHook> h;
  return h;
}
}  // namespace

void add_fatal_hook(FatalHook hook) {
  std::lock_guard<std::mutex> lock(hooks_mutex());
  hooks().push_back(hook);
}

void fatal(const std::string& message) {
  std::fprintf(stderr, "symphony: fatal: %s\n", message.c_str());
  std::fflush(stderr);
  std::vector<FatalHook> to_run;
  {
    std::lock_guard<std::mutex> lock(hooks_mutex());
    to_run = hooks();
  }
  for (auto it = to_run.rbegin(); it != to_run.rend(); ++it) (*it)();
  std::abort();
}

}  // namespace symphony
