#pragma once
// Which decoder layers each pipeline stage runs (parallel/pipeline_schedule.h for the terms):
// the layers are split into p * v virtual stages, virtual stage `chunk * p + stage` on rank
// `stage`, the embedding with virtual stage 0 and the final norm, LM head and loss with the last.
// Pure arithmetic, shared by the model (which layers it builds), the memory plan and the trainer.

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace symphony {

struct LayerRange {
  int64_t begin = 0, end = 0;  // [begin, end) of the decoder layers
  int64_t size() const { return end - begin; }
  bool contains(int64_t l) const { return l >= begin && l < end; }
};

// One rank's part of a pipeline. The default is no pipeline: one chunk holding every layer.
struct PipelineStages {
  int stages = 1;          // p: parallel.pp
  int virtual_stages = 1;  // v: parallel.vpp, the model chunks per rank
  int stage = 0;           // this rank's stage, 0..p-1
  int in_flight = 1;       // micro-batches whose activations one chunk keeps at once
  int deferred = 0;        // weight-gradient passes pending at once (zero-bubble schedules)
  std::vector<int64_t> layers;  // [virtual stage] decoder layers (p * v); empty: all in one

  int chunks() const { return virtual_stages; }
  int num_virtual() const { return stages * virtual_stages; }
  int virtual_stage(int chunk) const { return chunk * stages + stage; }
  // The layers of this rank's chunk `chunk`. REQUIRES: layers is empty or has p * v entries
  // summing to num_layers.
  LayerRange chunk_layers(int chunk, int64_t num_layers) const;
  // Virtual stage 0 (the embedding) and the last one (the head) of the whole pipeline.
  bool is_first(int chunk) const { return virtual_stage(chunk) == 0; }
  bool is_last(int chunk) const { return virtual_stage(chunk) == num_virtual() - 1; }
  bool holds_embedding() const { return stage == 0; }
  bool holds_head() const { return stage == stages - 1; }
};

// Splits `layer_cost.size()` layers over `count` virtual stages, each at least one layer,
// minimising the cost of the most expensive one; `first_cost` is added to the first virtual stage
// (the embedding), `last_cost` to the last (final norm, LM head and loss). Ties go to the split
// with more layers early. REQUIRES: 1 <= count <= layer_cost.size().
std::vector<int64_t> balance_pipeline_layers(std::span<const double> layer_cost, int count,
                                             double first_cost, double last_cost);

// An explicit split (parallel.pp_layers): `count` non-negative entries summing to num_layers.
// Errors (kInvalidArgument) name parallel.pp_layers, the entries and what they should be.
Status check_pipeline_layers(std::span<const int64_t> layers, int count, int64_t num_layers);

}  // namespace symphony
