#pragma once
// Where `symphony ckpt export-hf` reads a model from: one function for every kind of source.

#include <filesystem>

#include "core/status.h"
#include "train/model_file.h"

namespace symphony {

// Loads the model at `path` for export: a Symphony model file (model.safetensors as written by
// save_model_file), a checkpoint step directory (checkpoint/checkpoint_manifest.h; its weight
// files are verified), a run directory holding model.safetensors, or else a checkpoint directory
// or run directory whose newest checkpoint is used. The Transformer is built for batch 1,
// sequence 1 (weights only). Failure: kNotFound for a missing path or a directory with none of
// these, load_model_file's errors (naming the file and tensor), and a checkpoint's
// verification errors (naming the file).
Result<LoadedModel> load_model_for_export(const std::filesystem::path& path);

}  // namespace symphony
