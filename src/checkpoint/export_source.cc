#include "checkpoint/export_source.h"

namespace symphony {

Result<LoadedModel> load_model_for_export(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(path, ec)) {
    file = path / "model.safetensors";
    if (!std::filesystem::exists(file, ec))
      return Error::not_found(
          "{}: a directory without model.safetensors; give a run directory "
          "or a Symphony model file",
          path.string());
  } else if (!std::filesystem::exists(path, ec)) {
    return Error::not_found("{}: no such file or directory", path.string());
  }
  return load_model_file(file, {1, 1}, RecomputeMode::kFull);
}

}  // namespace symphony
