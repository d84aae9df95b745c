#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs what is missing, builds, runs
# every test (kernels, gradient checks, PyTorch parity, training, CLI).
# Usage (as root, from anywhere): tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
# OMP_WAIT_POLICY=PASSIVE (set per test by CMake) keeps idle OpenMP threads from spinning when
# tests share the cores.
ctest --test-dir build --output-on-failure --timeout 1200
