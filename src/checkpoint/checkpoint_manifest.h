#pragma once
// manifest.json of a checkpoint step directory (docs/checkpoints.md): what the training state
// was, how it was laid out, and where every part of every tensor is.
//
//   step-00000100/
//     manifest.json                     this file, written last
//     model-rank00000.safetensors       rank 0's pieces of the weights (and buffers)
//     optim-rank00000.safetensors       rank 0's pieces of the AdamW moments
//     ... one pair per rank that held state
//
// The manifest carries the XXH3-64 of its own canonical content (manifest_xxh3), so an edit or
// a damaged byte is detected before anything in it is trusted; and read_checkpoint_manifest
// refuses a manifest whose step is not the one its directory's name states.
//
// A tensor is stored as pieces. A piece is a box of the tensor (checkpoint/tensor_box.h: an
// offset and a shape per dim; a rank's block of a sharded tensor, parallel/shard_spec.h) and a run
// [begin, end) of that box's row-major elements, under its own key in one file (Megatron-Core's
// ShardedTensor: global_offset, local_shape, flattened_range). The pieces of a tensor with the
// same box hold disjoint runs of it, different boxes do not intersect, and together the pieces
// hold every element of the tensor exactly once, whatever layout saved it: any layout loads any
// checkpoint by mapping what it needs and what the pieces hold to runs of the whole tensor.
// Version 1 and 2 manifests have no boxes: their pieces are runs of the whole tensor.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/tensor_box.h"
#include "core/status.h"
#include "data/sample_stream.h"

namespace symphony {

struct TensorPiece {
  std::string file;  // file name inside the step directory
  std::string key;   // safetensors key of the 1-D piece
  TensorBox box;     // the part of the tensor the piece is cut from
  int64_t begin = 0, end = 0;  // elements of the box, row-major
};

struct CheckpointTensor {
  std::string name;           // "model.layers.0.mlp.gate.weight", "exp_avg.<name>", ...
  std::vector<int64_t> shape;
  std::string dtype = "F32";  // safetensors dtype string
  std::vector<TensorPiece> pieces;
  int64_t numel() const;
};

struct CheckpointFile {
  std::string name;
  int64_t bytes = 0;
  std::string xxh3;  // 16 hex digits (core/checksum.h)
};

struct SavedLayout {
  int world = 1;
  int dp = 1;
  int zero_stage = 0;
  std::string description;  // ParallelLayout::describe()
  int ep = 1;               // expert-parallel ranks (absent in older manifests: 1)
  int pp = 1;               // pipeline stages (absent in older manifests: 1)
};

// The version manifest_to_json writes. Versions 1 (no manifest_xxh3) and 2 (pieces without boxes:
// runs of the whole tensor) are still read.
constexpr int kCheckpointFormatVersion = 3;

struct CheckpointManifest {
  int format_version = kCheckpointFormatVersion;  // as read; writing always writes the current
  int64_t step = 0;             // optimizer steps completed
  int64_t tokens_seen = 0;
  int64_t optimizer_steps = 0;  // AdamW's bias-correction counter
  double lr = 0;                // the learning rate of the last step taken
  uint64_t seed = 0;            // train.seed; training draws no other random numbers
  LoaderState loader;
  std::string tokenizer_fingerprint;  // of the training data, "" when unknown
  std::string config_toml;      // the resolved run config it was saved with
  SavedLayout layout;
  // train.precision = "fp8": the GEMM sites' fallbacks, call counts and amax windows
  // (model/fp8_linears.h), agreed over replicas; null otherwise (and then not written).
  nlohmann::json fp8_state;
  std::vector<CheckpointTensor> tensors;
  std::vector<CheckpointFile> files;

  const CheckpointTensor* find(const std::string& name) const;
};

// The manifest as JSON text, format_version kCheckpointFormatVersion, with manifest_xxh3: the
// XXH3-64 (16 hex digits) of the compact, key-sorted JSON of every other field.
std::string manifest_to_json(const CheckpointManifest& manifest);
// Failure: kCorrupt naming `path` and the field for malformed JSON, an unsupported
// format_version, a missing manifest_xxh3 (versions 2 and 3) or one that does not match the
// content, a missing or mistyped field; naming `path` and the tensor for a piece whose box lies
// outside the tensor or whose run lies outside its box, pieces that do not cover a tensor exactly
// once (overlapping runs of one box, intersecting boxes, elements no piece holds), or a piece in a
// file the manifest does not list. Whitespace and key order do not matter; any change of a value does.
Result<CheckpointManifest> manifest_from_json(std::string_view json,
                                              const std::filesystem::path& path);
// Reads and checks step_dir/manifest.json as manifest_from_json does, and, when the directory's
// name states a step (checkpoint/checkpoint_dir.h step_of_dir_name), that the manifest's step is
// that one. Failure: kNotFound for a missing manifest, kIo for one the OS will not read, kCorrupt
// as above or "step S does not match the directory name", each naming the manifest's path.
Result<CheckpointManifest> read_checkpoint_manifest(const std::filesystem::path& step_dir);

}  // namespace symphony
