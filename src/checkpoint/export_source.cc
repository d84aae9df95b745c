#include "checkpoint/export_source.h"

#include "checkpoint/checkpoint_dir.h"
#include "checkpoint/checkpoint_io.h"
#include "checkpoint/checkpoint_manifest.h"
#include "config/run_config.h"

namespace symphony {

namespace fs = std::filesystem;

namespace {

Result<LoadedModel> load_checkpoint_model(const fs::path& step_dir) {
  SYM_TRY_ASSIGN(CheckpointManifest manifest, read_checkpoint_manifest(step_dir));
  Result<RunConfig> config = parse_run_config(
      manifest.config_toml, (step_dir / "manifest.json").string() + " [config]", {});
  if (!config.has_value()) return config.error();
  LoadedModel loaded{std::move(config).value(), nullptr};
  Result<std::unique_ptr<Transformer>> model = Transformer::create(
      loaded.config.model, DType::kF32, BatchShape{1, 1}, Recompute::kFull);
  if (!model.has_value()) return model.error().with_context("{}", step_dir.string());
  loaded.model = std::move(model).value();
  SYM_TRY(load_checkpoint_weights(manifest, step_dir, *loaded.model));
  return loaded;
}

}  // namespace

Result<LoadedModel> load_model_for_export(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return Error::not_found("{}: no such file or directory", path.string());
  if (!fs::is_directory(path, ec)) return load_model_file(path, {1, 1}, Recompute::kFull);
  if (fs::exists(path / "manifest.json", ec)) return load_checkpoint_model(path);
  if (fs::exists(path / "model.safetensors", ec))
    return load_model_file(path / "model.safetensors", {1, 1}, Recompute::kFull);
  for (const fs::path& dir : {path, path / "checkpoints"}) {
    const std::vector<StepDir> steps = list_step_dirs(dir);
    if (!steps.empty()) return load_checkpoint_model(steps.back().path);
  }
  return Error::not_found("{}: holds no model.safetensors and no checkpoint; give a run directory, "
                          "a checkpoint (step) directory or a Symphony model file", path.string());
}

}  // namespace symphony
