#pragma once
// Where `symphony ckpt export-hf` reads a model from. One function, so that new kinds of source
// (checkpoint step directories) are added in one place.

#include <filesystem>

#include "core/status.h"
#include "train/model_file.h"

namespace symphony {

// Loads the model at `path` for export: a Symphony model file (model.safetensors as written by
// save_model_file), or a run directory holding one. The Transformer is built for batch 1,
// sequence 1 (weights only). Failure: kNotFound for a missing path or a directory without
// model.safetensors, and load_model_file's errors (naming the file and tensor).
Result<LoadedModel> load_model_for_export(const std::filesystem::path& path);

}  // namespace symphony
