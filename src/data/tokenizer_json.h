#pragma once
// Tokenizer files. docs/tokenizer.md describes the formats.
//  - Hugging Face tokenizer.json with a byte-level BPE: "model" {"type": "BPE", "vocab": {token:
//    id}, "merges": ["a b", …] or [["a", "b"], …]}, a ByteLevel pre-tokenizer (GPT-2's regex, no
//    prefix space), a ByteLevel decoder and "added_tokens" for the special tokens.
//  - GPT-2's encoder.json ({token: id}) and vocab.bpe ("#version" line, then one "a b" merge a
//    line); "<|endoftext|>" in encoder.json becomes the special token.
// Tokens in these files are byte-level strings (data/byte_level.h).
// Every error names the file and what is wrong in it: JSON syntax (with the byte offset), a
// missing or mistyped field (by its JSON path), an id of twice the number of tokens listed plus
// 1024 or more (ids number the tokens from 0 without large gaps), a merge naming a token not in
// the vocabulary, a pre-tokenizer or option this engine does not implement.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"
#include "data/bpe_model.h"

namespace symphony {

// Parses tokenizer.json text; `source` names it in errors (a path).
Result<BpeModel> parse_tokenizer_json(std::string_view json_text, std::string_view source);
Result<BpeModel> load_tokenizer_json(const std::filesystem::path& path);

// The tokenizer.json text for `model`: vocab in id order, merges as "a b" strings (the form every
// version of the tokenizers library reads), special tokens in added_tokens and in the vocab.
std::string tokenizer_json_text(const BpeModel& model);
// Writes tokenizer_json_text(model) to `path` atomically. Failure: kIo naming the path.
Status save_tokenizer_json(const BpeModel& model, const std::filesystem::path& path);

Result<BpeModel> load_gpt2_tokenizer(const std::filesystem::path& encoder_json,
                                     const std::filesystem::path& vocab_bpe);

}  // namespace symphony
