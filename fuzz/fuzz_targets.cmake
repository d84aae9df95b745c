# libFuzzer targets, one per parser: fuzz/<name>_fuzz.cc -> executable fuzz_<name>, with seed
# inputs in fuzz/corpus/<name>/ and the inputs that once crashed it in fuzz/regressions/<name>/.
# Included from the top-level CMakeLists.txt when SYMPHONY_FUZZ is on (clang, with
# SYMPHONY_SANITIZE); fuzz/README.md says how to run them.

# Coverage feedback (edges and comparisons) for the code the targets reach: the parsers and the
# checks they call. Not the kernels and the model: a callback for every comparison in their loops
# would slow the tests of this build several times over.
file(GLOB_RECURSE SYMPHONY_FUZZ_COVERED_SOURCES CONFIGURE_DEPENDS src/config/*.cc
     src/checkpoint/*.cc src/data/*.cc src/core/*.cc)
list(APPEND SYMPHONY_FUZZ_COVERED_SOURCES ${CMAKE_SOURCE_DIR}/src/model/model_config.cc)
set_property(SOURCE ${SYMPHONY_FUZZ_COVERED_SOURCES} APPEND PROPERTY COMPILE_OPTIONS
             -fsanitize=fuzzer-no-link)

add_library(symphony_fuzz_support STATIC fuzz/fuzz_support.cc)
target_compile_options(symphony_fuzz_support PRIVATE ${SYMPHONY_WARNINGS})
target_link_libraries(symphony_fuzz_support PUBLIC symphony_core)

file(GLOB SYMPHONY_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cc)
foreach(source ${SYMPHONY_FUZZ_SOURCES})
  get_filename_component(name ${source} NAME_WE)
  string(REGEX REPLACE "_fuzz$" "" name ${name})
  add_executable(fuzz_${name} ${source})
  target_compile_options(fuzz_${name} PRIVATE ${SYMPHONY_WARNINGS} -fsanitize=fuzzer)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_${name} PRIVATE symphony_fuzz_support)
  # Every regression and seed input once (-runs=0 runs the given corpora and stops).
  set(inputs ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name})
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/fuzz/regressions/${name})
    list(PREPEND inputs ${CMAKE_SOURCE_DIR}/fuzz/regressions/${name})
  endif()
  add_test(NAME fuzz_${name}_regressions
           COMMAND fuzz_${name} -runs=0 -timeout=10 -rss_limit_mb=2048 ${inputs})
  set_tests_properties(fuzz_${name}_regressions PROPERTIES LABELS fuzz)
endforeach()
