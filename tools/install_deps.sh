#!/usr/bin/env bash
# Installs the Debian packages Symphony builds, tests and runs with, when any is missing.
# Usage: tools/install_deps.sh   (as root on Debian 12)
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang-14 libclang-rt-14-dev libomp-14-dev llvm-14
  libdnnl-dev libblis-dev libopenblas-openmp-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  zlib1g-dev libzstd-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev libicu-dev
  openmpi-bin libopenmpi-dev
  libcpp-httplib-dev prometheus
  python3 python3-torch python3-numpy
  sentencepiece
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm fetch the demo corpus and run reference tokenizers. A machine that already has
# them (for instance NodeSource's nodejs, which bundles npm and conflicts with Debian's npm) keeps
# its own; Debian's are installed only where the commands are absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
