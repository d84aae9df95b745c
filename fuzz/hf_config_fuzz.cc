// The Hugging Face config.json reader.
// Input: config.json text.
// Property: a config that reads is written by hf_config_json_text() as text that reads back to the
// same model configuration.

#include <string>

#include "checkpoint/hf_config.h"
#include "core/check.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace symphony;
  Result<HfModelConfig> config = parse_hf_config(fuzz::as_text(data, size), "fuzz/config.json");
  if (!config.has_value()) return 0;
  // The writer takes the architecture the model maps onto, which may differ from the file's
  // model_type (a qwen3_moe config without experts is a qwen3 model).
  Result<HfArch> arch = choose_hf_arch(config->model);
  if (!arch.has_value()) return 0;
  const std::string text = hf_config_json_text(config->model, *arch, 0);
  Result<HfModelConfig> again = parse_hf_config(text, "fuzz/config.json");
  SYM_CHECK(again.has_value(), "hf_config_json_text() wrote a config that does not read: {}\n{}",
            again.error().message(), text);
  SYM_CHECK(hf_config_json_text(again->model, *arch, 0) == text,
            "hf_config_json_text() changed after a round trip:\n{}", text);
  return 0;
}
