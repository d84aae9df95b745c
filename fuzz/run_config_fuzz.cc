// The run-config loader: TOML text -> toml++ tree -> `--set` overrides -> RunConfig -> validate().
// Input: TOML text, then, after each NUL byte, one `section.key=value` override.
// Property: a config that loads is written by to_toml() as text that loads to the same config.

#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/check.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace symphony;
  const std::vector<std::string_view> parts = fuzz::split_at_nul(fuzz::as_text(data, size));
  const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
  Result<RunConfig> config = parse_run_config(parts[0], "fuzz.toml", overrides);
  if (!config.has_value()) {
    SYM_CHECK(!config.error().message().empty(), "an error without a message");
    return 0;
  }
  const std::string text = to_toml(*config);
  Result<RunConfig> again = parse_run_config(text, "fuzz.toml");
  SYM_CHECK(again.has_value(), "to_toml() wrote a config that does not load: {}\n{}",
            again.error().message(), text);
  SYM_CHECK(to_toml(*again) == text, "to_toml() changed after a round trip:\n{}", text);
  return 0;
}
