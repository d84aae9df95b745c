// node gpt2_parity.js ENCODER_DIR TEXT_FILE OUR_IDS_FILE
// Encodes TEXT_FILE with the gpt-3-encoder package (GPT-2's encoder in JavaScript) and compares
// the ids with OUR_IDS_FILE (space-separated, from `symphony tokenizer encode`). Exits 1 and shows
// the first difference when they disagree.
'use strict';
const fs = require('fs');
const path = require('path');

const [encoderDir, textFile, oursFile] = process.argv.slice(2);
const { encode, decode } = require(path.resolve(encoderDir, 'Encoder.js'));
const text = fs.readFileSync(textFile, 'utf-8');

// gpt-3-encoder appends to its result with Array.concat, quadratic in the text's length, so the
// text is encoded in pieces of a few KB. Each cut is at a newline that follows a non-space ASCII
// character: the regex always ends a match before such a newline and starts one at it, so the
// pieces' encodings concatenate to the encoding of the whole text.
function encodeInPieces(s) {
  const out = [];
  let start = 0;
  for (let p = s.indexOf('\n', 1); p >= 0; p = s.indexOf('\n', p + 1)) {
    const c = s.charCodeAt(p - 1);
    const safe = c < 128 && c !== 32 && (c < 9 || c > 13);
    if (safe && p - start >= 4096) {
      for (const t of encode(s.slice(start, p))) out.push(t);
      start = p;
    }
  }
  for (const t of encode(s.slice(start))) out.push(t);
  return out;
}
const theirs = encodeInPieces(text);
const ours = fs.readFileSync(oursFile, 'utf-8').trim().split(/\s+/).filter((s) => s.length)
    .map(Number);

let first = -1;
const n = Math.min(ours.length, theirs.length);
for (let i = 0; i < n; i++) {
  if (ours[i] !== theirs[i]) {
    first = i;
    break;
  }
}
if (first < 0 && ours.length !== theirs.length) first = n;
if (first >= 0) {
  const from = Math.max(0, first - 8);
  console.error(`MISMATCH at token ${first} (ours ${ours.length} tokens, gpt-3-encoder ` +
                `${theirs.length})`);
  console.error(`  ours:          ${JSON.stringify(ours.slice(from, first + 8))}`);
  console.error(`  gpt-3-encoder: ${JSON.stringify(theirs.slice(from, first + 8))}`);
  console.error(`  text there:    ${JSON.stringify(decode(theirs.slice(from, first + 8)))}`);
  process.exit(1);
}
const lines = text.split('\n').length - 1;
console.log(`OK: ${theirs.length} tokens identical to gpt-3-encoder over ${lines} lines ` +
            `(${Buffer.byteLength(text)} bytes)`);
