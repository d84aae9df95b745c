#pragma once
// Saving and loading one rank's part of the training state as tensor pieces
// (checkpoint/checkpoint_manifest.h), in three steps that let the writing happen off the training
// thread:
//   snapshot_rank_state   copies this rank's pieces to host memory (training may then go on);
//   write_rank_files      writes them into the step's temporary directory: two safetensors
//                         files and a rank-NNNNN.json listing their pieces, sizes and checksums;
//   assemble_manifest     (one rank, once every rank has written) merges the rank listings into
//                         the manifest.
// load_rank_state reads, from a checkpoint saved under any layout, exactly the pieces this rank
// holds under its own layout.
//
// What is saved: every parameter under its Hugging Face name, AdamW's moments as
// "exp_avg.<name>" and "exp_avg_sq.<name>", and the MoE selection biases
// (model/param_names.h balance_bias_name), which every rank of a pipeline stage holds
// identically for the stage's layers; the stage's first rank saves them. A pipeline stage's copy
// of a tensor whose primary lives on another stage (parallel/shard_spec.h stage_copy: the tied LM
// head) is not saved; a load fills it, weights and moments, from the tensor it copies.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/checkpoint_manifest.h"
#include "checkpoint/tensor_box.h"
#include "core/status.h"
#include "model/transformer.h"
#include "zero/data_parallel.h"

namespace symphony {

struct RankSnapshot {
  struct Piece {
    std::string tensor;
    std::vector<int64_t> shape;  // the whole tensor's
    TensorBox box;               // this rank's block of it
    int64_t begin = 0, end = 0;  // elements of the box, row-major
    int64_t at = 0;              // where its data starts in the file's data vector
  };
  struct File {
    std::string name;  // "model-rank00000.safetensors"
    std::vector<Piece> pieces;
    std::vector<float> data;
  };
  int rank = 0;
  std::vector<File> files;
  int64_t bytes() const;
};

// One read of a load: elements [begin, end) (row-major within `box`) of tensor `tensor`, whose
// whole shape is `shape` as the model being filled expects it, into dst.
struct TensorRead {
  std::string tensor;
  std::vector<int64_t> shape;
  TensorBox box;
  int64_t begin = 0, end = 0;
  float* dst = nullptr;
};

// The reads that fill this rank's weights: each parameter's block whole where the ParamStore
// holds the weights (ZeRO stages 0-2), else the stretches of it in the slices this rank holds
// (stage 3, zero/data_parallel.h held_slices); then the selection biases of the MoE layers of its
// pipeline stage (model/param_names.h balance_bias_name). A stage copy (the last stage's copy of a
// tied embedding) reads the tensor it copies. Every load of weights plans its reads here.
std::vector<TensorRead> plan_weight_reads(Transformer& model, DataParallel& data_parallel);

// Whether a checkpoint tensor holds AdamW moments ("exp_avg.<name>", "exp_avg_sq.<name>").
bool is_optimizer_tensor(std::string_view name);

// Fills `snapshot` (whose buffers are reused: after the first save, a snapshot allocates and
// faults in no memory) with this rank's pieces.
void snapshot_rank_state(Transformer& model, DataParallel& data_parallel, int rank,
                         RankSnapshot& snapshot);

// Writes the snapshot's files and rank-NNNNN.json into `dir`, each file atomically and fsynced.
// Failure: kIo naming the file (a full disk included); what was written is removed.
Status write_rank_files(const RankSnapshot& snapshot, const std::filesystem::path& dir);

// Reads rank-00000.json ... rank-(world-1).json from `dir` into `manifest`'s tensors and files
// and removes them. Failure: kCorrupt/kNotFound naming a missing or malformed listing.
Status assemble_manifest(const std::filesystem::path& dir, int world, CheckpointManifest& manifest);

// Verifies the size and checksum of every file of `manifest` this rank's load would read (all of
// them with `all`). Failure: kCorrupt naming the file and what differs, kNotFound for a missing one.
Status verify_checkpoint_files(const CheckpointManifest& manifest,
                               const std::filesystem::path& step_dir,
                               const std::vector<std::string>& files);
// The files a load into this layout reads.
std::vector<std::string> files_needed(const CheckpointManifest& manifest, Transformer& model,
                                      DataParallel& data_parallel);

// Fills this rank's weights, moments and selection biases from the checkpoint in `step_dir`, and
// sets the optimizer's step counter. REQUIRES: the checkpoint's files were verified.
// Failure: kInvalidArgument when a tensor is missing or has another shape (a different model),
// naming the tensor and both shapes; kCorrupt for a file that does not hold a listed piece.
Status load_rank_state(const CheckpointManifest& manifest, const std::filesystem::path& step_dir,
                       Transformer& model, DataParallel& data_parallel);

// Performs `reads` from the pieces of the checkpoint in `step_dir`, whatever boxes they were saved
// in, opening each file once. REQUIRES: the files holding them were verified. Failure: as
// load_rank_state's.
Status read_checkpoint_pieces(const CheckpointManifest& manifest,
                              const std::filesystem::path& step_dir,
                              std::span<const TensorRead> reads);

// Fills every weight and selection bias of `model` (full weight storage of this rank's blocks,
// e.g. one process for export or generation) from the checkpoint, after verifying the files that
// hold them.
Status load_checkpoint_weights(const CheckpointManifest& manifest,
                               const std::filesystem::path& step_dir, Transformer& model);

// The elements of `box` of tensor `name` (row-major within the box, F32), gathered from the pieces
// that hold them, whatever boxes they were saved in; read_checkpoint_tensor reads the whole
// tensor. REQUIRES: the files holding them were verified. Failure: kInvalidArgument for a tensor
// the checkpoint lacks, one that is not F32, or a box outside the tensor; kCorrupt for a file that
// does not hold a listed piece.
Result<std::vector<float>> read_checkpoint_box(const CheckpointManifest& manifest,
                                               const std::filesystem::path& step_dir,
                                               const std::string& name, const TensorBox& box);
Result<std::vector<float>> read_checkpoint_tensor(const CheckpointManifest& manifest,
                                                  const std::filesystem::path& step_dir,
                                                  const std::string& name);

}  // namespace symphony
