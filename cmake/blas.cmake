# Chooses the GEMM library, all from Debian packages:
#   openblas-openmp  libopenblas-openmp-dev: OpenBLAS threaded with OpenMP, so BLAS and the
#                    engine's own kernels share one thread pool (no two pools spinning for cores)
#   openblas         libopenblas-pthread-dev: OpenBLAS with its own pthreads pool
#   blis             libblis-dev (OpenMP build)
#   onednn           libdnnl-dev: oneDNN's dnnl_sgemm (JIT kernels, OpenMP runtime)
# `symphony bench train` / `symphony bench gemm` measure them; README records the figures behind
# the default.
add_library(symphony_blas INTERFACE)
if(SYMPHONY_BLAS STREQUAL "blis")
  find_library(BLIS_LIBRARY NAMES blis PATHS /usr/lib/x86_64-linux-gnu/blis-openmp NO_DEFAULT_PATH)
  if(NOT BLIS_LIBRARY)
    find_library(BLIS_LIBRARY NAMES blis REQUIRED)
  endif()
  target_include_directories(symphony_blas INTERFACE /usr/include/x86_64-linux-gnu/blis-openmp)
  target_link_libraries(symphony_blas INTERFACE ${BLIS_LIBRARY})
  target_compile_definitions(symphony_blas INTERFACE SYMPHONY_BLAS_BLIS=1)
elseif(SYMPHONY_BLAS STREQUAL "onednn")
  find_library(DNNL_LIBRARY NAMES dnnl REQUIRED)
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h REQUIRED)
  target_include_directories(symphony_blas SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
  target_link_libraries(symphony_blas INTERFACE ${DNNL_LIBRARY})
  target_compile_definitions(symphony_blas INTERFACE SYMPHONY_BLAS_ONEDNN=1)
elseif(SYMPHONY_BLAS STREQUAL "openblas-openmp")
  find_library(OPENBLAS_LIBRARY NAMES openblas blas PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp
               NO_DEFAULT_PATH REQUIRED)
  target_include_directories(symphony_blas INTERFACE /usr/include/x86_64-linux-gnu/openblas-openmp)
  target_link_libraries(symphony_blas INTERFACE ${OPENBLAS_LIBRARY})
  target_compile_definitions(symphony_blas INTERFACE SYMPHONY_BLAS_OPENBLAS_OPENMP=1)
elseif(SYMPHONY_BLAS STREQUAL "openblas")
  find_library(OPENBLAS_LIBRARY NAMES openblas PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread
               NO_DEFAULT_PATH REQUIRED)
  target_include_directories(symphony_blas INTERFACE /usr/include/x86_64-linux-gnu/openblas-pthread)
  target_link_libraries(symphony_blas INTERFACE ${OPENBLAS_LIBRARY})
  target_compile_definitions(symphony_blas INTERFACE SYMPHONY_BLAS_OPENBLAS=1)
else()
  message(FATAL_ERROR
          "SYMPHONY_BLAS must be blis, onednn, openblas-openmp or openblas, got '${SYMPHONY_BLAS}'")
endif()
