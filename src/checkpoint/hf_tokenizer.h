#pragma once
// The tokenizer.json written beside an exported Hugging Face model.

#include "core/status.h"
#include "data/bpe_model.h"
#include "data/tokenizer.h"

namespace symphony {

// `tokenizer` as a byte-level BPE that the tokenizers library encodes identically:
//   - a BpeTokenizer: its own model;
//   - the byte tokenizer ("bytes"): 256 single-byte tokens with ids 0..255 = the byte values, no
//     merges, and <|endoftext|> = 256 as a special token. Byte-level pre-tokenisation then
//     splits text into single bytes whatever the regex does, so ids equal ByteTokenizer's.
// Failure: kInvalidArgument for a tokenizer of another kind.
Result<BpeModel> bpe_model_for_hf(const Tokenizer& tokenizer);

// Whether `tokenizer` is the byte tokenizer's tokenizer.json form above, read back (a
// BpeTokenizer with exactly that model). It encodes as the byte tokenizer does, so a model
// exported with it may be treated as the byte tokenizer's, the tokenizer it was trained with and
// whose fingerprint its datasets record.
bool is_byte_tokenizer_for_hf(const Tokenizer& tokenizer);

}  // namespace symphony
