#pragma once
// Which decoder layers each pipeline stage runs (parallel/pipeline_schedule.h for the terms):
// the layers are split into p * v virtual stages, virtual stage `chunk * p + stage` on rank
// `stage`, the embedding with virtual stage 0 and the final norm, LM head and loss with the last.
// A split is counted in sub-layers, two per decoder layer: its attention (input norm, attention,
// residual add) and its feed-forward (post-attention norm, MLP or MoE, residual add). A stage
// boundary may fall between the two, so a layer's attention runs on one stage and its
// feed-forward on the next; what travels between them is the residual stream after the
// attention, the same rows as between whole layers.
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

// Which sub-layers of a decoder layer a chunk runs.
enum class LayerPart : uint8_t { kWhole, kAttention, kFeedForward };
inline bool runs_attention(LayerPart p) { return p != LayerPart::kFeedForward; }
inline bool runs_feed_forward(LayerPart p) { return p != LayerPart::kAttention; }
// The part of decoder layer `layer` within the sub-layers [sublayers.begin, sublayers.end)
// (sub-layer 2l is layer l's attention, 2l + 1 its feed-forward).
// REQUIRES: the range holds at least one of the layer's sub-layers.
LayerPart layer_part(LayerRange sublayers, int64_t layer);

// One rank's part of a pipeline. The default is no pipeline: one chunk holding every layer.
struct PipelineStages {
  int stages = 1;          // p: parallel.pp
  int virtual_stages = 1;  // v: parallel.vpp, the model chunks per rank
  int stage = 0;           // this rank's stage, 0..p-1
  int in_flight = 1;       // micro-batches whose activations one chunk keeps at once
  int deferred = 0;        // weight-gradient passes pending at once (zero-bubble schedules)
  // The last stage runs the loss in its forward passes and keeps each slot's logit gradients
  // (pipeline_loss_in_forward; without tensor parallelism, whose vocabulary-parallel loss stays
  // in the backward).
  bool loss_in_forward = false;
  std::vector<int64_t> sublayers;  // [virtual stage] sub-layers (p * v); empty: all in one
  // The head split (parallel.pp_head_share): the share of each micro-batch's rows whose LM head
  // and loss stage 0 runs in its H passes; 0: none.
  double head_share = 0;
  bool split_head() const { return head_share > 0; }
  // How many of a micro-batch's n rows the first stage scores (the last ones): head_share * n
  // rounded, at least 1 and, with two rows or more, at most n - 1; 0 without the head split.
  int64_t remote_head_rows(int64_t n) const;

  int chunks() const { return virtual_stages; }
  int num_virtual() const { return stages * virtual_stages; }
  int virtual_stage(int chunk) const { return chunk * stages + stage; }
  // The sub-layers of this rank's chunk `chunk`, [begin, end) of 2 * num_layers.
  // REQUIRES: sublayers is empty or has p * v entries summing to 2 * num_layers.
  LayerRange chunk_sublayers(int chunk, int64_t num_layers) const;
  // The decoder layers chunk `chunk` runs a part of (layer_part says which).
  LayerRange chunk_layers(int chunk, int64_t num_layers) const;
  // Virtual stage 0 (the embedding) and the last one (the head) of the whole pipeline.
  bool is_first(int chunk) const { return virtual_stage(chunk) == 0; }
  bool is_last(int chunk) const { return virtual_stage(chunk) == num_virtual() - 1; }
  bool holds_embedding() const { return stage == 0; }
  bool holds_head() const { return stage == stages - 1; }
};

// Splits `layer_cost.size()` units (layers or sub-layers) over `count` virtual stages, each at
// least one unit, minimising the cost of the most expensive one; `first_cost` is added to the
// first virtual stage (the embedding), `last_cost` to the last (final norm, LM head and loss).
// Ties go to the split with more units early. REQUIRES: 1 <= count <= layer_cost.size().
std::vector<int64_t> balance_pipeline_layers(std::span<const double> layer_cost, int count,
                                             double first_cost, double last_cost);

// An explicit split (parallel.pp_layers): `count` non-negative entries, each a whole or half
// number of layers (a half puts a layer's attention and its feed-forward on two stages), summing
// to num_layers. Errors (kInvalidArgument) name parallel.pp_layers, the entries and what they
// should be.
Status check_pipeline_layers(std::span<const double> layers, int count, int64_t num_layers);
// The sub-layer counts of a split checked by check_pipeline_layers.
std::vector<int64_t> sublayer_counts(std::span<const double> layers);

}  // namespace symphony
