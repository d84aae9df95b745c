#pragma once
// Invariant checks that are always on. A failed check means a bug in Symphony, not bad input:
// bad input is reported with Status (core/status.h).

#include <fmt/format.h>

#include <string>

namespace symphony {

// Prints "symphony: fatal: <message>" (prefixed with the rank once a distributed runtime is up),
// runs the registered fatal hooks (flush metrics, abort peers) and terminates the process.
[[noreturn]] void fatal(const std::string& message);

// A hook run by fatal() before exiting, e.g. a metrics log flush. Hooks run newest first.
using FatalHook = void (*)();
void add_fatal_hook(FatalHook hook);

}  // namespace symphony

#define SYM_CHECK(cond, ...)                                                                  \
  do {                                                                                        \
    if (!(cond)) [[unlikely]] {                                                               \
      ::symphony::fatal(fmt::format("{}:{}: check failed: {}: {}", __FILE__, __LINE__, #cond, \
                                    fmt::format(__VA_ARGS__)));                               \
    }                                                                                         \
  } while (0)

#ifdef NDEBUG
#define SYM_DCHECK(cond, ...) \
  do {                        \
  } while (0)
#else
#define SYM_DCHECK(cond, ...) SYM_CHECK(cond, __VA_ARGS__)
#endif
