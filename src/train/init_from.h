#pragma once
// Starting a run from the weights of another model (`symphony train --init-from PATH`): a new run
// in every other respect, with fresh optimizer moments and step counter, data position and
// learning-rate schedule. The weights come from a WeightSource (train/weight_source.h): a
// Hugging Face model directory, a Symphony model file, or a checkpoint.
//
// Each rank fills exactly what it holds under its layout, through the reads a resume performs
// (checkpoint/checkpoint_io.h plan_weight_reads): the blocks of tensor- and expert-parallel
// parameters, its pipeline stage's layers, under ZeRO-3 its slice of each. MoE selection biases
// come from the source where it has them (model files, checkpoints), else they are zero.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model_config.h"
#include "model/transformer.h"
#include "train/weight_source.h"
#include "zero/data_parallel.h"

namespace symphony {

struct InitFromReport {
  WeightSourceKind kind = WeightSourceKind::kModelFile;
  std::filesystem::path path;      // what was read (WeightSource::path)
  int64_t tensors = 0;             // tensors of the config filled from the source, whole model
  int64_t zero_biases = 0;         // MoE layers whose selection bias the source lacks: zero
  std::vector<std::string> notes;  // the source's (WeightSource::notes)
};

// WeightSource::open for --init-from: every failure is bad input, an unreadable path included
// (kIo becomes kInvalidArgument); messages name the path.
Result<WeightSource> open_init_source(const std::filesystem::path& path);

// Whether `source` can initialise a model of `config`; checked in this order, each failure
// kInvalidArgument:
//   1. every tensor the config has (model/transformer.h declare_params) is in the source, with
//      the same shape: "model.layers.3.mlp.gate_proj.weight: (1536, 512) in FILE, (768, 512)
//      for this config", or "PATH has no tensor NAME (SHAPE), which this config needs";
//   2. every tensor of the source has a place in the config: "NAME in FILE has no place in this
//      config" (a selection bias of a layer that is not MoE here included);
//   3. the architecture: the [model] sections agree but for the training-only settings
//      (initializer_range, router_aux_loss_coef, router_z_loss_coef, bias_update_rate,
//      capacity_factor) and, for a dense model, the MoE settings; the message names the first
//      differing key, "model.rope_theta = 1000000 in the source, 10000 here".
// A failure of 1 or 2 that a differing key explains names that key too.
Status check_weight_source(const WeightSource& source, const ModelConfig& config);

// Checks `source` against the model's config (check_weight_source), then fills this rank's
// weights and the selection biases of its pipeline stage. Every rank reads on its own: not
// collective. Failure: check_weight_source's, and the source's read errors.
Result<InitFromReport> init_weights_from(const WeightSource& source, Transformer& model,
                                         DataParallel& data_parallel);

// Refuses (kInvalidArgument, naming both paths) a source inside `run_dir` or `checkpoint_dir`,
// which the run writes: it would replace that model file or prune those checkpoints.
Status check_init_source_outside(const std::filesystem::path& source,
                                 const std::filesystem::path& run_dir,
                                 const std::filesystem::path& checkpoint_dir);

// Refuses (kInvalidArgument, naming the directory and its newest checkpoint) a checkpoint
// directory that already holds checkpoints (step-*), which a new run would overwrite.
Status check_no_checkpoints(const std::filesystem::path& checkpoint_dir);

}  // namespace symphony
