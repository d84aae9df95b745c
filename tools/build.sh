#!/usr/bin/env bash
# Configures and builds Symphony into build/ (Release, warnings as errors).
# Usage: tools/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSYMPHONY_WERROR=ON "$@" >/dev/null
cmake --build build -j "$(nproc)"
