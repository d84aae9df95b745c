#pragma once
// Whether this is the sanitizer build (cmake/sanitizers.cmake: clang with AddressSanitizer, which
// brings LeakSanitizer, and UndefinedBehaviorSanitizer). Defines SYMPHONY_ASAN there, for code
// that calls the sanitizers' interface, and kAddressSanitizer everywhere.

#if defined(__SANITIZE_ADDRESS__)
#define SYMPHONY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYMPHONY_ASAN 1
#endif
#endif

namespace symphony {

#ifdef SYMPHONY_ASAN
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace symphony
