#pragma once
// DataParallel: data-parallel training of one model replica per rank of a `dp` group, with the
// model state sharded by ZeRO stage (Rajbhandari et al., 2020):
//   stage 0  weights, gradients and AdamW moments replicated; gradients all-reduced in buckets.
//   stage 1  as 0, but each rank keeps the moments of, and updates, only its shard of the
//            parameters, then all-gathers the updated weights.
//   stage 2  as 1, and gradients are reduce-scattered unit by unit as backward produces them:
//            a rank holds the gradients of the unit being computed plus its own shard.
//   stage 3  as 2, and weights are sharded too (FSDP): each unit is all-gathered just before use,
//            the next one prefetched, and freed after.
//
// Shards: every parameter unit (model/param_store.h; one decoder layer, the embedding, the head)
// of n elements is cut into dp slices of ceil(n / dp); rank r owns slice r of every unit, and its
// shard is those slices end to end. Memory per rank for weights + gradients + moments goes from
// 4x the parameters (stage 0) to about 1x + 3/dp x (stage 1 keeps full weights and gradients:
// 2x + 2/dp x), 1x + 3/dp x (stage 2) and 4/dp x plus a few unit-sized buffers (stage 3).
//
// Gradients are summed over ranks, so each rank scales its loss by 1 / (dp * micro-batches *
// tokens): the sum is the gradient of the global batch's mean loss.
//
// Communication overlap: stage 0 and 1 group units into buckets of about bucket_mb, counted from
// the LM head back, and start each bucket's all-reduce as soon as backward has finished its last
// unit on the final micro-batch of the step; earlier micro-batches communicate nothing. Stages 2
// and 3 start each unit's reduce-scatter as soon as backward finishes that unit, on every
// micro-batch (holding a full gradient across micro-batches would undo the sharding; DeepSpeed
// does the same), and stage 3 prefetches the next unit's weights while the current one computes.
//
// Protocol per step: begin_step(); per micro-batch begin_micro_batch(last) then
// model.forward_backward(...); end_backward(); grad_norm(); optimizer_step(). Every rank of the
// group runs the same sequence (collectives happen inside the model's unit hooks).
// Thread-safety: none; the training thread only.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "model/transformer.h"
#include "optim/adamw.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "tensor/exec.h"

namespace symphony {

// Bytes one rank's DataParallel state allocates, by category: the model's weight and gradient
// buffers (full or windowed), the shards, the unit slots and communication buffers, and the AdamW
// moments. Computed from the config alone, the same way the constructors allocate;
// tests/parallel/data_parallel_mpi_test.cc checks it against the measured allocation.
struct ShardedMemory {
  int64_t weights = 0;
  int64_t grads = 0;
  int64_t optimizer = 0;
  int64_t communication = 0;
  int64_t total() const { return weights + grads + optimizer + communication; }
};

// A contiguous run of the flat parameter space (ParamStore offsets) and where this rank keeps its
// weights and AdamW moments. Checkpoints save and load the training state through these.
struct StateSlice {
  int64_t offset = 0;  // first element, in ParamStore::info(id).offset coordinates
  int64_t numel = 0;
  float* weights = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
};

class DataParallel final : public UnitHooks {
 public:
  static ShardedMemory plan_memory(const ModelConfig& config, int dp, ZeroStage stage);

  // The storage the model must be constructed with for `stage`.
  static ParamResidency residency_for(ZeroStage stage);

  // Installs itself as the model's unit hooks. REQUIRES: the model was constructed with
  // residency_for(stage) and outlives this object; f32 parameters.
  DataParallel(ZeroStage stage, Comm& dp, Transformer& model, const OptimConfig& optim,
               double bucket_mb);
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Sets every weight this rank keeps to init_params()'s value.
  void init_params(const ModelConfig& config, uint64_t seed);

  void begin_step();
  void begin_micro_batch(bool last);
  Status end_backward();
  // Global L2 norm of the step's summed gradients (identical on every rank).
  Result<double> grad_norm();
  // AdamW on this rank's shard, then the weights every rank needs for the next step.
  Status optimizer_step(const Exec& ex, double lr, double grad_scale);

  // Stage 3: makes every weight resident in one full buffer (for saving a model file), until
  // release_full_weights(). Other stages: nothing to do. Collective.
  Status gather_full_weights();
  void release_full_weights();

  // This rank's part of the state to save: slice r of every unit (see "Shards" above), at every
  // stage, so the ranks of a group write disjoint parts that cover everything.
  std::vector<StateSlice> saved_slices();
  // The state this rank holds and must be loaded: every unit whole at stage 0, else the slices
  // it owns. Stages 0-2 also hold every weight in the ParamStore (weights_replicated()), which a
  // load fills whole.
  std::vector<StateSlice> held_slices();
  bool weights_replicated() const { return stage_ < ZeroStage::kParameters; }

  ZeroStage stage() const { return stage_; }
  Comm& comm() { return dp_; }
  AdamW& optimizer() { return *optimizer_; }
  int64_t shard_numel() const { return shard_numel_; }
  // Status of the collectives started inside hooks (which cannot return one); end_backward()
  // and optimizer_step() report it too.
  const Status& hook_status() const { return hook_status_; }
  // Seconds the last end_backward() spent waiting for gradient communication still in flight
  // after backward finished: the part of it not hidden behind computation.
  double exposed_comm_s() const { return exposed_comm_s_; }

  void before_forward(int unit) override;
  void after_forward(int unit) override;
  void before_backward(int unit) override;
  void after_backward(int unit) override;

 private:
  struct Bucket {
    int first_unit = 0, end_unit = 0;  // units [first, end)
    int units_ready = 0;
    CommHandle handle;
  };
  struct WeightSlot {
    Buffer data;          // one gathered unit (padded to dp slices)
    int unit = -1;        // the unit it holds (or is gathering), -1 for none
    int users = 0;        // before_* calls not yet matched by after_*
    int64_t last_use = 0;
    CommHandle gather;
  };
  struct GradSlot {
    Buffer data;          // one unit's gradient (padded), then the reduce-scatter's input
    Buffer reduced;       // this rank's reduced slice
    int unit = -1;        // accumulating or reducing unit, -1 when free
    int users = 0;
    bool reducing = false;
    CommHandle handle;
  };

  // Elements per rank of a unit of `numel` elements: ceil(numel / dp), 16-float aligned.
  static int64_t slice_numel(int64_t numel, int64_t dp);
  int64_t slice(int unit) const { return unit_slice_[size_t(unit)]; }
  void note(Status s);
  // Stage 0/1.
  void unit_grads_ready(int unit);
  // Stage 3 weights.
  void acquire_weights(int unit);
  void release_weights(int unit);
  void prefetch_weights(int unit);
  WeightSlot* find_weight_slot(int unit);
  WeightSlot& free_weight_slot();
  void start_gather(WeightSlot& slot, int unit);
  // Stage 2/3 gradients.
  void acquire_grads(int unit);
  void release_grads(int unit);
  void finish_reduction(GradSlot& slot);
  Status all_gather_weights_into_full();

  ZeroStage stage_;
  Comm& dp_;
  Transformer& model_;
  ParamStore& store_;
  std::unique_ptr<AdamW> optimizer_;
  std::vector<int64_t> unit_slice_;         // [unit] elements per rank
  std::vector<int64_t> unit_shard_offset_;  // [unit] where its slice sits in the shard
  int64_t shard_numel_ = 0;
  int64_t max_padded_unit_ = 0;
  std::vector<AdamWSegment> segments_;      // this rank's part of every tensor
  Buffer shard_weights_;                    // stage 3
  Buffer shard_grads_;                      // stage 2, 3
  Buffer gather_scratch_;                   // stage 1, 2: one padded unit
  Buffer full_weights_;                     // gather_full_weights()
  std::vector<Bucket> buckets_;             // stage 0, 1
  std::vector<int> unit_bucket_;            // [unit] -> bucket
  std::vector<WeightSlot> weight_slots_;    // stage 3
  std::vector<GradSlot> grad_slots_;        // stage 2, 3
  bool last_micro_batch_ = true;
  bool backward_phase_ = false;
  int64_t use_clock_ = 0;
  Status hook_status_;
  double exposed_comm_s_ = 0;
};

}  // namespace symphony
