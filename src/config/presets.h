#pragma once
// Presets: the run configurations in configs/<name>.toml, embedded into the binary at build time
// by cmake/embed_presets.cmake, so `symphony train tiny` works from any directory. The files are
// the source of truth; editing one and rebuilding updates the embedded text.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace symphony {

// One embedded preset.
struct Preset {
  std::string_view name;       // file stem: "tiny" for configs/tiny.toml
  std::string_view toml_text;  // the file's bytes
};

// Every embedded preset, sorted by name. Defined in the generated presets_data.cc.
std::span<const Preset> embedded_presets();

// The preset names, sorted.
std::vector<std::string> list_presets();

// The TOML text of preset `name`, or nullopt when there is none.
std::optional<std::string_view> find_preset(std::string_view name);

}  // namespace symphony
