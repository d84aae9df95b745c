#include "core/leak_check.h"

#if defined(__SANITIZE_ADDRESS__)
#define SYMPHONY_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SYMPHONY_LEAK_CHECK 1
#endif
#endif

#ifdef SYMPHONY_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

namespace symphony {

void check_leaks_now() {
#ifdef SYMPHONY_LEAK_CHECK
  // Exits with the sanitizer's exit code when it finds a leak (detect_leaks=1); a later call
  // and the check at exit do nothing.
  __lsan_do_leak_check();
#endif
}

IgnoreLeaksInScope::IgnoreLeaksInScope() {
#ifdef SYMPHONY_LEAK_CHECK
  __lsan_disable();
#endif
}

IgnoreLeaksInScope::~IgnoreLeaksInScope() {
#ifdef SYMPHONY_LEAK_CHECK
  __lsan_enable();
#endif
}

}  // namespace symphony
