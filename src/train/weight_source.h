#pragma once
// WeightSource: the weights of a trained or imported model, read under Symphony's tensor names
// (model/param_store.h) whatever holds them:
//   kHfDirectory  a Hugging Face model directory (config.json + model.safetensors or an indexed
//                 set of shards, checkpoint/hf_shards.h) of a model_type of checkpoint/hf_arch.h;
//                 its tensors appear under the names checkpoint/hf_names.h maps them to, each
//                 routed expert's tensor as a row of the stacked (E, ...) one; BF16 and F16 are
//                 converted exactly to F32. Only deepseek_v3 directories hold selection biases
//                 (e_score_correction_bias, under the same names as in model files).
//   kModelFile    a Symphony model file (train/model_file.h): weights and selection biases.
//   kCheckpoint   a checkpoint step directory (checkpoint/checkpoint_manifest.h): its weights and
//                 selection biases, saved under any layout; the optimizer's moments are not
//                 part of the source.
// A read asks for a stretch of a box of a tensor (checkpoint_io.h TensorRead), so each rank of a
// sharded layout reads only the block it holds; nothing but the read's elements is copied
// (safetensors files are memory-mapped).
// Thread-safety: const methods may run concurrently.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/checkpoint_io.h"
#include "checkpoint/hf_config.h"
#include "core/status.h"
#include "model/model_config.h"

namespace symphony {

enum class WeightSourceKind : uint8_t { kHfDirectory, kModelFile, kCheckpoint };

// "Hugging Face model", "model file", "checkpoint".
std::string_view weight_source_kind_name(WeightSourceKind kind);

struct SourceTensor {
  std::string name;            // Symphony's name
  std::vector<int64_t> shape;  // the whole tensor
  std::string file;            // where it lives, for messages: the file (a stacked expert
                               // tensor's first expert's), or the checkpoint's step directory
};

class WeightSource {
 public:
  // What `path` names, first match:
  //   a file                              a Symphony model file;
  //   a directory holding config.json     a Hugging Face model directory;
  //   a directory holding manifest.json,  that checkpoint step directory;
  //     or named step-NNNNNNNN
  //   a directory holding                 that model file (a run directory: its final weights;
  //     model.safetensors                 an `import-hf` output);
  //   a directory whose step-* (or        its newest valid checkpoint; invalid newer ones are
  //     checkpoints/step-*) exist         skipped with a note.
  // Valid checkpoint: its manifest verifies (checkpoint/checkpoint_manifest.h) and every file
  // holding weights has the size and checksum the manifest lists; a step directory named
  // directly must be valid.
  // Failure, each naming the path: kNotFound for a missing path or a directory with none of
  // these; a file that is no Symphony model file (kCorrupt); an invalid config in the source
  // (kInvalidArgument); a tensor that is not F32 in a model file or checkpoint (kCorrupt); the
  // errors of open_hf_directory; a checkpoint that is invalid, or a directory of checkpoints none
  // of which is valid (kCorrupt, or kNotFound for a missing file); kIo when the OS refuses a read.
  static Result<WeightSource> open(const std::filesystem::path& path);

  // The Hugging Face directory `dir`, whose config.json `config` was read from. Checks its tensors
  // as `ckpt import-hf` does: every tensor the architecture has, of the shape config.json implies
  // (kCorrupt naming the file and tensor), present (kNotFound, HfWeights::get), F32, BF16 or F16
  // (kCorrupt); no other tensor but rotary tables and a tied model's lm_head.weight, which are
  // ignored with a note (kCorrupt naming the tensor otherwise). deepseek_v3: the copies of the
  // embedding and LM head its MTP modules store may be absent, and must otherwise equal them
  // (kCorrupt naming both); weights with no tensor of any MTP layer (as transformers saves the
  // model) give a model() without MTP modules, with a note.
  // model() is config.model, except for the MTP modules so left out.
  static Result<WeightSource> open_hf_directory(const std::filesystem::path& dir,
                                                const HfModelConfig& config);

  WeightSource(WeightSource&&) noexcept;
  WeightSource& operator=(WeightSource&&) noexcept;
  ~WeightSource();

  WeightSourceKind kind() const;
  // What is read: the model file, the Hugging Face directory or the checkpoint step directory.
  const std::filesystem::path& path() const;
  // The architecture the source was saved with (config.json's for a Hugging Face directory).
  const ModelConfig& model() const;
  // Every tensor: parameters and selection biases, in the source's order.
  const std::vector<SourceTensor>& tensors() const;
  const SourceTensor* find(const std::string& name) const;  // nullptr when absent
  // Tensors in the source's files (a Hugging Face directory holds one per expert).
  int64_t file_tensors() const;
  // What the user should know: dtype conversions, ignored tensors, skipped checkpoints.
  const std::vector<std::string>& notes() const;

  // Performs `reads`. REQUIRES: each read's tensor is in tensors() with the read's shape, its box
  // inside that shape. Failure: kCorrupt for a checkpoint file that does not hold a listed piece.
  Status read(std::span<const TensorRead> reads) const;

 private:
  struct Impl;
  explicit WeightSource(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<Impl>> open_model_file(const std::filesystem::path& path);
  static Result<std::unique_ptr<Impl>> open_checkpoint(const std::filesystem::path& step_dir);
  // The newest valid one of `step_dirs` (oldest first), checkpoints of `dir`.
  static Result<std::unique_ptr<Impl>> open_newest_checkpoint(
      const std::filesystem::path& dir, std::span<const std::filesystem::path> step_dirs);
  std::unique_ptr<Impl> impl_;
};

}  // namespace symphony
