#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs what is missing, builds, runs
# every test (kernels, gradient checks, PyTorch parity, training, CLI), then the same tests built
# with clang under AddressSanitizer and UndefinedBehaviorSanitizer, then each fuzz target briefly.
# Usage (as root, from anywhere): tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
# OMP_WAIT_POLICY=PASSIVE (set per test by CMake) keeps idle OpenMP threads from spinning when
# tests share the cores.
ctest --test-dir build --output-on-failure --timeout 1200

# The sanitizer build: one clang build serves both the tests and the fuzz targets (fuzz/README.md),
# which need clang's libFuzzer. Warnings are the GCC build's gate above; clang's extra ones are
# shown here but do not fail it. Sanitizer options and suppressions: cmake/sanitizers.cmake.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DSYMPHONY_SANITIZE=address,undefined -DSYMPHONY_FUZZ=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
# All tests but the reshard test's runs on 1 and 4 ranks: its run on 2 ranks goes through the same
# code (its cases include one process resuming alone) and the GCC pass above runs all three. The
# multi-rank equivalence tests train the first few steps of each case here
# (tests/testkit/sanitizer_build.h).
ctest --test-dir build-asan --output-on-failure --timeout 1800 \
  -E '^checkpoint_checkpoint_reshard_mpi_test_np(1|4)$'
fuzz/run_fuzzers.sh build-asan 20
