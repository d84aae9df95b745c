#include "config/presets.h"

namespace symphony {

std::vector<std::string> list_presets() {
  std::vector<std::string> names;
  for (const Preset& preset : embedded_presets()) names.emplace_back(preset.name);
  return names;
}

std::optional<std::string_view> find_preset(std::string_view name) {
  for (const Preset& preset : embedded_presets()) {
    if (preset.name == name) return preset.toml_text;
  }
  return std::nullopt;
}

}  // namespace symphony
