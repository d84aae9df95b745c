// The tokenizer.json reader, and the byte-level BPE tokenizer built from what it accepts.
// Input: tokenizer.json text.
// Properties: tokenizer_json_text() of an accepted file reads back to the same text; a tokenizer
// made from it decodes its encoding of any text (here, the input itself) to that text.

#include <string>
#include <vector>

#include "core/check.h"
#include "data/bpe_tokenizer.h"
#include "data/tokenizer_json.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace symphony;
  const std::string_view input = fuzz::as_text(data, size);
  Result<BpeModel> model = parse_tokenizer_json(input, "fuzz/tokenizer.json");
  if (!model.has_value()) return 0;
  const std::string text = tokenizer_json_text(*model);
  Result<BpeModel> again = parse_tokenizer_json(text, "fuzz/tokenizer.json");
  SYM_CHECK(again.has_value(), "tokenizer_json_text() wrote a file that does not read: {}",
            again.error().message());
  SYM_CHECK(tokenizer_json_text(*again) == text, "tokenizer_json_text() changed in a round trip");

  Result<std::unique_ptr<BpeTokenizer>> tokenizer = BpeTokenizer::create(std::move(*model), "");
  if (!tokenizer.has_value()) return 0;
  const std::string_view sample = input.substr(0, 4096);
  for (SpecialTokenMode mode : {SpecialTokenMode::kAsText, SpecialTokenMode::kMatch}) {
    const std::vector<int32_t> ids = (*tokenizer)->encode(sample, mode, /*threads=*/1);
    for (int32_t id : ids)
      SYM_CHECK(id >= 0 && id < (*tokenizer)->vocab_size(), "id {} out of range", id);
    SYM_CHECK((*tokenizer)->decode(ids) == sample, "decode(encode(x)) != x");
  }
  return 0;
}
