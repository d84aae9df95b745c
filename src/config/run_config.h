#pragma once
// A complete run configuration: the model architecture and the training, optimizer and data
// settings, loaded from a TOML file or an embedded preset (configs/<name>.toml), with
// `section.key=value` overrides applied on top.
//
// Flow: TOML text -> toml++ tree -> overrides applied to the tree -> typed structs -> validate.
// Every failure is a Status naming where it came from: "configs/tiny.toml:7: unknown key
// model.num_expert; did you mean model.num_experts?".

#include <span>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint_config.h"
#include "core/status.h"
#include "data/data_config.h"
#include "model/model_config.h"
#include "monitor/monitor_config.h"
#include "optim/optim_config.h"
#include "parallel/layout.h"
#include "train/fp8_config.h"
#include "train/train_config.h"

namespace symphony {

struct RunConfig {
  ModelConfig model;
  TrainConfig train;
  OptimConfig optim;
  DataConfig data;
  ParallelConfig parallel;
  CheckpointConfig checkpoint;
  MonitorConfig monitor;
  Fp8Config fp8;
  std::string source;  // the file path or preset name this config was loaded from
};

// Loads `preset_or_path`, applies `overrides` ("section.key=value", applied in order, later ones
// win) and validates the result.
// `preset_or_path` names a file when it ends in ".toml" or contains '/'; otherwise it names an
// embedded preset (see config/presets.h), or, when no preset has that name, a file.
// Errors: kNotFound for a missing file or preset; kInvalidArgument for bad TOML, an unknown
// section or key, a value of the wrong type, a malformed override or a failed validation.
Result<RunConfig> load_run_config(std::string_view preset_or_path,
                                  std::span<const std::string> overrides);

// As load_run_config, from TOML text; `source_name` is used in error messages and as
// RunConfig::source.
Result<RunConfig> parse_run_config(std::string_view toml_text, std::string_view source_name,
                                   std::span<const std::string> overrides = {});

// Writes every field of every section as TOML, floating-point values in their shortest form that
// reads back to the same double: parse_run_config(to_toml(c), ...) reproduces c exactly (except
// `source`, which is written as a comment). Defined in toml_loader.cc, beside the field table it
// shares with the loader.
std::string to_toml(const RunConfig& config);

// Value checks of one section, beyond those of ModelConfig::validate(). Each message names the
// key as "train.<key>" / "optim.<key>" / "data.<key>" and its value.
Status validate(const TrainConfig& train);
Status validate(const OptimConfig& optim);
Status validate(const DataConfig& data);
Status validate(const ParallelConfig& parallel);
Status validate(const CheckpointConfig& checkpoint);
Status validate(const MonitorConfig& monitor);

// Every section's checks plus those between sections (train.seq_len against
// model.max_position_embeddings, optim.warmup_steps against train.steps).
Status validate(const RunConfig& config);

}  // namespace symphony
