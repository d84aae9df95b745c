# Sanitizer builds. SYMPHONY_SANITIZE=address,undefined compiles and links every target with those
# sanitizers and -fno-sanitize-recover=all, so undefined behaviour stops the program and fails its
# test. tools/test.sh builds such a build with clang into build-asan, together with the fuzz
# targets (SYMPHONY_FUZZ, fuzz/fuzz_targets.cmake), and runs its tests.
if(SYMPHONY_SANITIZE)
  add_compile_options(-fsanitize=${SYMPHONY_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${SYMPHONY_SANITIZE})
  # ASan's checks keep `#pragma omp simd` loops from vectorising, which clang reports as a warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-Wno-pass-failed)
  endif()
endif()
if(SYMPHONY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SYMPHONY_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # symphony_core then carries coverage instrumentation whose hooks the sanitizer runtimes define
  # (as no-ops outside libFuzzer), so every program linking it needs one.
  if(NOT SYMPHONY_SANITIZE)
    message(FATAL_ERROR "SYMPHONY_FUZZ needs SYMPHONY_SANITIZE, e.g. address,undefined")
  endif()
endif()

# Run-time options of the sanitizers, for every test (symphony_sanitizer_test_environment) and, via
# <build>/sanitizer_env.sh, for fuzz/run_fuzzers.sh:
#  - detect_leaks: LeakSanitizer runs at exit. tools/lsan_suppressions.txt names the libraries
#    whose own leaks are suppressed: OpenMPI and the runtimes it loads, which keep their
#    allocations until exit by design.
#  - detect_stack_use_after_return=1: instrumented functions keep their locals in fake frames on
#    the heap, so a use after return is caught. Code that is not instrumented (oneDNN's
#    JIT-compiled GEMMs, libomp's threads, OpenMPI) runs on the real stack as before, so it works
#    with all of them; it costs the tests about 5-25%.
#  - halt_on_error / print_stacktrace: UBSan reports carry a stack and stop the program.
#  - external_symbolizer_path: stacks name functions and lines (Debian installs llvm-symbolizer-14
#    without the plain name that the runtime looks for).
find_program(SYMPHONY_LLVM_SYMBOLIZER NAMES llvm-symbolizer-14 llvm-symbolizer)
set(symbolizer "")
if(SYMPHONY_LLVM_SYMBOLIZER)
  set(symbolizer ":external_symbolizer_path=${SYMPHONY_LLVM_SYMBOLIZER}")
endif()
set(SYMPHONY_SANITIZER_ENV
    "ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${symbolizer}"
    "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tools/lsan_suppressions.txt:print_suppressions=0"
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${symbolizer}")
if(SYMPHONY_SANITIZE)
  list(TRANSFORM SYMPHONY_SANITIZER_ENV PREPEND "export " OUTPUT_VARIABLE exports)
  list(JOIN exports "\n" exports)
  file(WRITE ${CMAKE_BINARY_DIR}/sanitizer_env.sh "# Written by cmake/sanitizers.cmake.\n${exports}\n")
endif()

# Adds SYMPHONY_SANITIZER_ENV to the environment of every test defined so far; called after the
# last add_test. Processes of mpirun check for leaks before MPI_Finalize unloads OpenMPI's
# components (src/core/leak_check.h), so the fast unwinder serves them too.
function(symphony_sanitizer_test_environment)
  if(NOT SYMPHONY_SANITIZE)
    return()
  endif()
  get_property(tests DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY TESTS)
  foreach(test ${tests})
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT ${SYMPHONY_SANITIZER_ENV})
  endforeach()
endfunction()
