#!/usr/bin/env bash
# Byte-level BPE against sentencepiece (Debian's spm_train / spm_encode, --model_type=bpe): the
# same corpus, vocabulary size and thread count. Prints training time and encode MB/s for both and
# the ratios (>1: Symphony is faster). Each figure is the best of --repeats runs, wall clock of
# the whole command (reading, model loading and writing the ids included for both).
#
# Corpora: the Brown corpus (~6 MB, fetched by tools/prepare_demo_corpus.sh) and the same text
# repeated --scale times (tens of MB). spm_encode has no threads option, so encoding is compared
# one thread against one thread; Symphony's multi-threaded encode is printed beside it.
# Installs the sentencepiece package when spm_train is missing (needs root).
#
# Usage: bench/tokenizer_bench.sh [--threads N] [--vocab N] [--repeats N] [--scale N]
#                                 [--symphony PATH] [--work DIR]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads=2
vocab=8192
repeats=3
scale=10
symphony="${repo}/build/symphony"
work="${repo}/build/tokenizer_bench"
while (($#)); do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --vocab) vocab=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --symphony) symphony=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "tokenizer_bench: unknown option $1" >&2; exit 2 ;;
  esac
done

die() {
  echo "tokenizer_bench: error: $*" >&2
  exit 1
}

[[ -x "${symphony}" ]] || die "${symphony} not found: build first (cmake --build build)"
if ! command -v spm_train >/dev/null || ! command -v spm_encode >/dev/null; then
  echo "installing sentencepiece" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends sentencepiece >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends sentencepiece >/dev/null; } ||
    die "cannot install sentencepiece (run as root, or apt-get install sentencepiece)"
fi

mkdir -p "${work}"
[[ -d "${repo}/data/brown/text" ]] || "${repo}/tools/prepare_demo_corpus.sh" >/dev/null
cat "${repo}"/data/brown/text/*.txt > "${work}/brown.txt"
: > "${work}/brown_x${scale}.txt"
for ((i = 0; i < scale; i++)); do cat "${work}/brown.txt" >> "${work}/brown_x${scale}.txt"; done

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
# best_time CMD...: runs CMD `repeats` times (output discarded), prints the shortest wall time.
best_time() {
  local best="" start end t
  for ((r = 0; r < repeats; r++)); do
    start=$(now)
    "$@" >/dev/null 2>&1 || die "failed: $*"
    end=$(now)
    t=$(calc "${end} - ${start}")
    if [[ -z "${best}" ]] || awk "BEGIN { exit !(${t} < ${best}) }"; then best=${t}; fi
  done
  echo "${best}"
}

export OMP_WAIT_POLICY=PASSIVE
echo "threads ${threads}, vocabulary ${vocab}, best of ${repeats} runs; $(nproc) cores"
printf '%-34s %12s %14s %8s\n' "" "symphony" "sentencepiece" "ratio"
for corpus in brown.txt "brown_x${scale}.txt"; do
  input="${work}/${corpus}"
  mb=$(calc "$(stat -c %s "${input}") / 1000000")
  ours_train=$(best_time "${symphony}" tokenizer train --input "${input}" --vocab-size "${vocab}" \
    --out "${work}/symphony.json" --threads "${threads}")
  spm_train_s=$(best_time spm_train --input="${input}" --model_prefix="${work}/spm" \
    --vocab_size="${vocab}" --model_type=bpe --num_threads="${threads}" \
    --max_sentence_length=1000000 --input_sentence_size=0 --minloglevel=2)
  ours_enc1=$(best_time "${symphony}" tokenizer encode --tokenizer "${work}/symphony.json" \
    --input "${input}" --threads 1)
  ours_encn=$(best_time "${symphony}" tokenizer encode --tokenizer "${work}/symphony.json" \
    --input "${input}" --threads "${threads}")
  spm_enc=$(best_time spm_encode --model="${work}/spm.model" --output_format=id --input="${input}")
  printf '%s (%.1f MB)\n' "${corpus}" "${mb}"
  printf '  %-32s %11.2fs %13.2fs %7.1fx\n' "train, ${threads} threads" "${ours_train}" \
    "${spm_train_s}" "$(calc "${spm_train_s} / ${ours_train}")"
  printf '  %-32s %8.1fMB/s %10.1fMB/s %7.1fx\n' "encode, 1 thread" \
    "$(calc "${mb} / ${ours_enc1}")" "$(calc "${mb} / ${spm_enc}")" \
    "$(calc "${spm_enc} / ${ours_enc1}")"
  printf '  %-32s %8.1fMB/s %10.1fMB/s %7.1fx\n' "encode, symphony ${threads} threads" \
    "$(calc "${mb} / ${ours_encn}")" "$(calc "${mb} / ${spm_enc}")" \
    "$(calc "${spm_enc} / ${ours_encn}")"
done
