#include "data/bpe_tokenizer.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>

#include "data/pretokenize.h"
#include "data/token_file.h"
#include "data/word_cache.h"

namespace symphony {
namespace {

// Longer words are merged every time rather than cached: they rarely repeat.
constexpr size_t kMaxCachedWordBytes = 256;

uint64_t hash_bytes(std::string_view bytes, uint64_t state) {
  return fnv1a64(std::as_bytes(std::span(bytes.data(), bytes.size())), state);
}

template <typename T>
uint64_t hash_value(T value, uint64_t state) {
  return fnv1a64(std::as_bytes(std::span(&value, 1)), state);
}

}  // namespace

std::string bpe_fingerprint(const BpeModel& model) {
  uint64_t h = hash_bytes("bpe:v1:byte-level:gpt2-regex", kFnv1a64Init);
  h = hash_value<int64_t>(model.id_limit(), h);
  for (int32_t id = 0; id < model.id_limit(); ++id) {
    const std::string& bytes = model.token_bytes(id);
    h = hash_value<uint64_t>(bytes.size(), h);
    h = hash_bytes(bytes, h);
  }
  h = hash_value<uint64_t>(model.merges().size(), h);
  for (const auto& [left, right] : model.merges()) {
    h = hash_value<int32_t>(left, h);
    h = hash_value<int32_t>(right, h);
  }
  h = hash_value<uint64_t>(model.specials().size(), h);
  for (const SpecialToken& special : model.specials()) {
    h = hash_value<int32_t>(special.id, h);
    h = hash_value<uint64_t>(special.content.size(), h);
    h = hash_bytes(special.content, h);
  }
  return fmt::format("{:016x}", h);
}

BpeTokenizer::BpeTokenizer(BpeModel model, std::string name)
    : model_(std::move(model)), name_(std::move(name)) {
  fingerprint_ = bpe_fingerprint(model_);
  vocab_size_ = (int64_t(model_.id_limit()) + kVocabMultiple - 1) / kVocabMultiple * kVocabMultiple;
  for (const SpecialToken& special : model_.specials()) {
    if (special.content.find('\n') != std::string::npos) specials_contain_newline_ = true;
  }
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(BpeModel model, std::string name) {
  if (model.specials().empty()) {
    return Error::corrupt("no special tokens: an end-of-text token such as <|endoftext|> is needed");
  }
  int32_t eot = model.specials().front().id;
  for (const SpecialToken& special : model.specials()) {
    if (special.content == "<|endoftext|>") eot = special.id;
  }
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer(std::move(model), std::move(name)));
  tokenizer->eot_token_ = eot;
  return tokenizer;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  return encode(text, SpecialTokenMode::kAsText, 0);
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, SpecialTokenMode mode,
                                          int threads) const {
  if (threads <= 0) threads = omp_get_max_threads();
  const bool can_split = !(mode == SpecialTokenMode::kMatch && specials_contain_newline_);
  if (threads <= 1 || text.size() < kParallelMinBytes || !can_split) {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3);
    WordCache cache;
    BpeWordScratch scratch;
    encode_segment(text, mode, cache, scratch, out);
    return out;
  }
  // Several chunks per thread so that uneven chunks balance out.
  const size_t target = std::max<size_t>(size_t{256} << 10, text.size() / (size_t(threads) * 8));
  std::vector<size_t> cuts = {0};
  while (cuts.back() < text.size()) {
    const size_t want = cuts.back() + target;
    cuts.push_back(want >= text.size() ? text.size() : next_safe_split(text, want));
  }
  const auto num_chunks = static_cast<int64_t>(cuts.size() - 1);
  std::vector<std::vector<int32_t>> parts(static_cast<size_t>(num_chunks));
#pragma omp parallel num_threads(threads)
  {
    WordCache cache;
    BpeWordScratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < num_chunks; ++c) {
      const size_t begin = cuts[size_t(c)], end = cuts[size_t(c) + 1];
      std::vector<int32_t>& part = parts[size_t(c)];
      part.reserve((end - begin) / 3);
      encode_segment(text.substr(begin, end - begin), mode, cache, scratch, part);
    }
  }
  size_t total = 0;
  for (const auto& part : parts) total += part.size();
  std::vector<int32_t> out;
  out.reserve(total);
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

void BpeTokenizer::encode_segment(std::string_view text, SpecialTokenMode mode, WordCache& cache,
                                  BpeWordScratch& scratch, std::vector<int32_t>& out) const {
  if (mode == SpecialTokenMode::kAsText) {
    encode_plain(text, cache, scratch, out);
    return;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    // The earliest occurrence of any special token; the longest one where several start there.
    size_t best_at = text.size(), best_len = 0;
    int32_t best_id = -1;
    for (const SpecialToken& special : model_.specials()) {
      const size_t at = text.find(special.content, pos);
      if (at == std::string_view::npos) continue;
      if (at < best_at || (at == best_at && special.content.size() > best_len)) {
        best_at = at, best_len = special.content.size(), best_id = special.id;
      }
    }
    encode_plain(text.substr(pos, best_at - pos), cache, scratch, out);
    if (best_id < 0) break;
    out.push_back(best_id);
    pos = best_at + best_len;
  }
}

void BpeTokenizer::encode_plain(std::string_view text, WordCache& cache, BpeWordScratch& scratch,
                                std::vector<int32_t>& out) const {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = pretoken_end(text, pos);
    const std::string_view word = text.substr(pos, end - pos);
    pos = end;
    if (word.size() == 1) {
      out.push_back(model_.byte_token(static_cast<uint8_t>(word[0])));
    } else if (word.size() > kMaxCachedWordBytes) {
      model_.encode_word(word, scratch, out);
    } else if (!cache.find(word, out)) {
      const size_t first = out.size();
      model_.encode_word(word, scratch, out);
      cache.insert(word, out.data() + first, out.size() - first);
    }
  }
}

std::string BpeTokenizer::decode(std::span<const int32_t> tokens) const {
  std::string text;
  text.reserve(tokens.size() * 4);
  for (int32_t token : tokens) {
    if (token >= 0 && token < model_.id_limit()) text.append(model_.token_bytes(token));
  }
  return text;
}

}  // namespace symphony
