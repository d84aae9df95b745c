#pragma once
// A trained model in one safetensors file: every parameter under its Hugging Face name (routed
// experts as stacked (E, ...) tensors), each MoE layer's selection bias as
// "model.layers.<l>.mlp.gate.e_score_correction_bias" (DeepSeek-V3's name), and the resolved run
// config as TOML in the metadata key "symphony.config". Full training checkpoints (optimizer
// state, data position) are a separate, sharded format.

#include <filesystem>
#include <memory>
#include <string>

#include "config/run_config.h"
#include "core/status.h"
#include "model/transformer.h"
#include "model/param_names.h"
#include "parallel/mesh.h"

namespace symphony {

// The metadata key holding the run config.
inline constexpr const char* kModelFileConfigKey = "symphony.config";

// REQUIRES: the model holds every parameter whole (one process, or no sharded parameter).
Status save_model_file(const std::filesystem::path& path, const RunConfig& config,
                       Transformer& model);
// Under a layout that shards parameters over mesh axes (expert parallelism): every rank at
// position 0 of the expert replica group (edp) calls it; the blocks of each sharded parameter are
// gathered over their axis and world rank 0 writes the file. Collective over those ranks.
// REQUIRES: the model's own blocks are resident (full weights).
Status save_model_file(const std::filesystem::path& path, const RunConfig& config,
                       Transformer& model, DeviceMesh& mesh);

struct LoadedModel {
  RunConfig config;
  std::unique_ptr<Transformer> model;
};

// Reads the config from the file, builds a Transformer for `max_shape` and loads every tensor.
// Errors name the file and the tensor: missing, unexpected shape or dtype, corrupt file.
Result<LoadedModel> load_model_file(const std::filesystem::path& path, BatchShape max_shape,
                                    Recompute recompute);

}  // namespace symphony
