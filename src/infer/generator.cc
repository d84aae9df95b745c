#include "infer/generator.h"

namespace symphony {

std::vector<int32_t> generate(const Exec& ex, Transformer& model, std::span<const int32_t> prompt,
                              const GenerateOptions& options,
                              const std::function<void(int32_t)>& on_token) {
  const int64_t capacity = model.max_shape().seq_len;
  SYM_CHECK(!prompt.empty() && int64_t(prompt.size()) < capacity,
            "prompt of {} tokens for a context of {}", prompt.size(), capacity);
  std::vector<KvCache> caches = model.make_kv_caches();
  Buffer logits(DType::kF32, {model.config().vocab_size});
  std::span<const float> logits_span(logits.f32(), size_t(logits.numel()));
  Rng rng(options.seed);
  SamplingScratch scratch;
  std::vector<int32_t> out;
  model.decode(ex, prompt, caches, logits.view());
  const int64_t budget = std::min(options.max_new_tokens, capacity - int64_t(prompt.size()));
  for (int64_t i = 0; i < budget; ++i) {
    int32_t token = sample_token(logits_span, options.sampling, rng, scratch);
    out.push_back(token);
    if (on_token) on_token(token);
    if (token == options.stop_token || i + 1 == budget) break;
    model.decode(ex, std::span<const int32_t>(&out.back(), 1), caches, logits.view());
  }
  return out;
}

}  // namespace symphony
