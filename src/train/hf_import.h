#pragma once
// Import of a Hugging Face model directory (config.json + model.safetensors, single or indexed)
// of a model_type of checkpoint/hf_arch.h into a Symphony model directory that
// `symphony generate` loads:
//   model.safetensors  save_model_file's format: weights, selection biases (deepseek_v3's
//                      e_score_correction_bias; zero for the other architectures), the run config
//   config.toml        the run config (model section from config.json, defaults elsewhere)
//   tokenizer.json     copied when the source has one that Symphony's loader reads; the config's
//                      data.tokenizer_path then names it (absolute path)

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/hf_arch.h"
#include "checkpoint/hf_config.h"
#include "config/run_config.h"
#include "core/status.h"
#include "model/transformer.h"

namespace symphony {

struct HfImportReport {
  HfArch arch = HfArch::kLlama;
  RunConfig config;  // model: config.json's, less MTP modules the weights leave out
  int64_t tensors = 0;             // read from the source
  std::vector<std::string> notes;  // what the user should know (conversions, tokenizer)
};

// A Hugging Face model read into memory, for commands that use it without writing it out.
struct HfModel {
  HfImportReport report;               // report.config: model section from config.json
  std::unique_ptr<Transformer> model;  // built for batch 1, sequence 1; selection biases as
                                       // stored (deepseek_v3) or zero
};

// Reads and parses `hf_dir`/config.json (checkpoint/hf_config.h parse_hf_config). Failure:
// kNotFound naming a missing config.json, kIo an unreadable one, parse_hf_config's errors.
Result<HfModelConfig> read_hf_config(const std::filesystem::path& hf_dir);

// Reads `hf_dir`'s config.json and weights, as import_hf does, without writing anything.
// Failure: import_hf's, except those of writing.
Result<HfModel> read_hf_model(const std::filesystem::path& hf_dir);

// Reads `hf_dir` and writes `out` (created if needed; files in it are replaced atomically).
// Tensors may be F32, BF16 or F16 (converted exactly to F32).
// Failure, each message naming the file and tensor or field: parse_hf_config's errors for
// config.json; kNotFound for a missing config.json, weights file or tensor; kCorrupt for a tensor
// of the wrong shape or an unsupported dtype, and for tensors the architecture does not have
// (biases, for example), which Symphony would silently drop; kIo for write failures.
Result<HfImportReport> import_hf(const std::filesystem::path& hf_dir,
                                 const std::filesystem::path& out);

}  // namespace symphony
