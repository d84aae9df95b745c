#pragma once
// Export of a Symphony model as a Hugging Face model directory (docs/hf_export.md, "Hugging
// Face export/import"):
//   config.json             model_type chosen by choose_hf_arch (checkpoint/hf_arch.h)
//   model.safetensors       F32 weights under the architecture's names (checkpoint/hf_names.h),
//                           or model-0000i-of-0000N.safetensors + model.safetensors.index.json
//   generation_config.json  eos/bos token ids when a tokenizer is written
//   tokenizer.json          the model's tokenizer as a byte-level BPE (checkpoint/hf_tokenizer.h)
// The export is exact: transformers' implementation of the model_type computes the logits the
// engine computes, or the export is refused.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint/hf_arch.h"
#include "config/run_config.h"
#include "core/status.h"
#include "model/transformer.h"

namespace symphony {

struct HfExportOptions {
  int64_t max_shard_bytes = 5'000'000'000;  // transformers' default max_shard_size, "5GB"
  // Tokenizer spec (data/tokenizer.h) written as tokenizer.json; empty: the run's
  // data.tokenizer_path, or "bytes" when that is empty (as `symphony generate` does); "none":
  // no tokenizer.json and no token ids in the configs.
  std::string tokenizer;
};

struct HfExportReport {
  HfArch arch = HfArch::kLlama;
  std::vector<std::string> files;  // written into the output directory
  int64_t tensors = 0;
  int64_t tensor_bytes = 0;
  std::vector<std::string> notes;  // what the user should know (tokenizer used, dropped settings)
};

// Writes the Hugging Face directory `out` for `model`, built from `config`. Everything is staged
// in "<out>.partial" and renamed to `out` at the end, so `out` is complete or absent.
// Failure: kInvalidArgument for a model no supported architecture reproduces (choose_hf_arch's
// errors; a non-zero aux-loss-free selection bias of an architecture other than deepseek_v3,
// which exports it as e_score_correction_bias, naming the tensor), for `out` existing and not
// empty, or for a tokenizer whose ids exceed model.vocab_size; the tokenizer loader's errors;
// kIo naming the file for write failures.
Result<HfExportReport> export_hf(const RunConfig& config, Transformer& model,
                                 const std::filesystem::path& out, const HfExportOptions& options);

}  // namespace symphony
