#include "core/leak_check.h"

#include "core/sanitizers.h"

#ifdef SYMPHONY_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace symphony {

void check_leaks_now() {
#ifdef SYMPHONY_ASAN
  // Exits with the sanitizer's exit code when it finds a leak (detect_leaks=1); a later call
  // and the check at exit do nothing.
  __lsan_do_leak_check();
#endif
}

IgnoreLeaksInScope::IgnoreLeaksInScope() {
#ifdef SYMPHONY_ASAN
  __lsan_disable();
#endif
}

IgnoreLeaksInScope::~IgnoreLeaksInScope() {
#ifdef SYMPHONY_ASAN
  __lsan_enable();
#endif
}

}  // namespace symphony
