#pragma once
// The leak check of the sanitizer build (cmake/sanitizers.cmake), run before a library that
// unloads its plugins is shut down.
//
// OpenMPI loads its components with dlopen and unloads them in MPI_Finalize. Whatever the
// components still hold when they are unloaded is, to LeakSanitizer's check at exit, memory that
// nothing points to, allocated from code it can no longer name; suppressing it by library needed
// the slow (DWARF) unwinder on every allocation, which made the multi-rank tests 3-10 times
// slower. Checking before MPI_Finalize, while the components and what they point to are still
// loaded, finds every leak of our code (nothing of ours allocates after that) and, with the fast
// unwinder, can name the component of any leak of OpenMPI's own (tools/lsan_suppressions.txt).
// The check at exit is then skipped. A no-op outside the sanitizer build.

namespace symphony {

void check_leaks_now();

// Allocations the calling thread makes while one of these lives are never reported as leaks: for
// MPI_Init, where OpenMPI opens every component, keeps some strings of those it does not select
// and unloads them, so no check can name their code.
class IgnoreLeaksInScope {
 public:
  IgnoreLeaksInScope();
  ~IgnoreLeaksInScope();
  IgnoreLeaksInScope(const IgnoreLeaksInScope&) = delete;
  IgnoreLeaksInScope& operator=(const IgnoreLeaksInScope&) = delete;
};

}  // namespace symphony
