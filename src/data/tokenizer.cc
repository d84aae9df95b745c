#include "data/tokenizer.h"

#include <filesystem>
#include <memory>

#include "data/bpe_tokenizer.h"
#include "data/byte_tokenizer.h"
#include "data/tokenizer_json.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;

Result<std::unique_ptr<Tokenizer>> make_bpe(Result<BpeModel> model, std::string spec) {
  if (!model.has_value()) return model.error();
  Result<std::unique_ptr<BpeTokenizer>> tokenizer =
      BpeTokenizer::create(std::move(model).value(), spec);
  if (!tokenizer.has_value()) return tokenizer.error().with_context("{}", spec);
  return std::unique_ptr<Tokenizer>(std::move(tokenizer).value());
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> load_tokenizer(std::string_view spec) {
  if (spec == ByteTokenizer::kName) {
    return std::unique_ptr<Tokenizer>(std::make_unique<ByteTokenizer>());
  }
  const std::string text(spec);
  if (const size_t comma = text.find(','); comma != std::string::npos) {
    return make_bpe(load_gpt2_tokenizer(text.substr(0, comma), text.substr(comma + 1)), text);
  }
  std::error_code ec;
  const fs::path path(text);
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "tokenizer.json", ec)) {
      return make_bpe(load_tokenizer_json(path / "tokenizer.json"), text);
    }
    if (fs::exists(path / "encoder.json", ec) && fs::exists(path / "vocab.bpe", ec)) {
      return make_bpe(load_gpt2_tokenizer(path / "encoder.json", path / "vocab.bpe"), text);
    }
    return Error::not_found("tokenizer directory {} holds neither tokenizer.json nor "
                            "encoder.json + vocab.bpe", text);
  }
  if (fs::exists(path, ec)) return make_bpe(load_tokenizer_json(path), text);
  return Error::invalid(
      "unknown tokenizer '{}' (no such file or directory); available: {}, a tokenizer.json "
      "file, a directory holding "
      "tokenizer.json or GPT-2's encoder.json + vocab.bpe, or ENCODER_JSON,VOCAB_BPE",
      spec, ByteTokenizer::kName);
}

}  // namespace symphony
