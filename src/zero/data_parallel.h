#pragma once
// DataParallel: the training state of one model replica per data-parallel rank, sharded by ZeRO
// stage (Rajbhandari et al., 2020) over each parameter's replica group (parallel/shard_spec.h:
// dense parameters over dp x cp, expert parameters over edp):
//   stage 0  weights, gradients and AdamW moments replicated; gradients all-reduced in buckets.
//   stage 1  as 0, but each rank keeps the moments of, and updates, only its shard of the
//            parameters, then all-gathers the updated weights.
//   stage 2  as 1, and gradients are reduce-scattered unit by unit as backward produces them:
//            a rank holds the gradients of the block being computed plus its own shard.
//   stage 3  as 2, and weights are sharded too (FSDP): each block's units are all-gathered just
//            before use, the next block prefetched, and freed after.
//
// Shards: zero/shard_layout.h. Memory per rank for weights + gradients + moments goes from 4x the
// parameters it holds (stage 0) to about 2x + 2/g x (stage 1), 1x + 3/g x (stage 2) and 4/g x plus
// a few unit-sized buffers (stage 3), g the replica group's size.
//
// Gradients are summed over the replicas, so each rank scales its loss by 1 / (global batch
// tokens): the sum is the gradient of the global batch's mean loss. An expert's gradient is
// already the sum over its ep group's tokens (the exchange brought them to it).
//
// Communication overlap: stage 0 and 1 group units of one replica group into buckets of about
// bucket_mb, counted from the LM head back, and start each bucket's all-reduce as soon as
// backward has finished its last unit on the final micro-batch of the step; earlier micro-batches
// communicate nothing. Stages 2 and 3 start each unit's reduce-scatter as soon as backward
// finishes its block, on every micro-batch (holding a full gradient across micro-batches would
// undo the sharding; DeepSpeed does the same), and stage 3 prefetches the next block's weights
// while the current one computes.
//
// Gradient wire format (parallel.grad_dtype): fp32, or bf16: a unit's gradient is rounded to bf16
// into a communication buffer, reduced in bf16 (every partial sum rounded again) and widened back
// into the fp32 gradient (stage 0, 1) or added to the fp32 shard (stage 2, 3). Half the bytes of
// fp32, at the cost of about 2^-9 relative error per rounding. Groups of one rank reduce nothing
// and keep fp32. Accumulation over micro-batches and the optimizer stay fp32.
//
// Protocol per step: begin_step(); per micro-batch begin_micro_batch(last) then
// model.forward_backward(...); end_backward(); sharded_grad_norm() (zero/grad_norm.h);
// optimizer_step(). Every rank runs the same sequence (collectives happen inside the model's unit
// hooks).
// Thread-safety: none; the training thread only.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/precision.h"
#include "core/status.h"
#include "model/transformer.h"
#include "optim/adamw.h"
#include "optim/optim_config.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "parallel/mesh.h"
#include "tensor/exec.h"
#include "zero/shard_layout.h"

namespace symphony {

class DataParallel final : public UnitHooks {
 public:
  // The storage the model must be constructed with for `stage`.
  static ParamResidency residency_for(ZeroStage stage);

  // Installs itself as the model's unit hooks. REQUIRES: the model was constructed with
  // residency_for(stage) and the mesh's placement (ModelParallel::of(mesh)), and both outlive
  // this object; f32 parameters.
  DataParallel(ZeroStage stage, DeviceMesh& mesh, Transformer& model, const OptimConfig& optim,
               double bucket_mb, Precision grad_dtype = Precision::kFp32);
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Sets every weight this rank keeps to init_params()'s value.
  void init_params(const ModelConfig& config, uint64_t seed);

  void begin_step();
  void begin_micro_batch(bool last);
  Status end_backward();
  // The reduced gradients of the part of unit u this rank owns (zero/shard_layout.h), after
  // end_backward(): a view of the full gradients at stages 0 and 1, of the shard at 2 and 3.
  ConstView owned_grads(int u) const;
  // Sums owned_grads(u) over `group`, whose ranks hold copies of the unit with the same shard
  // layout (the embedding and its copy on the last pipeline stage), or at stage 0, whose
  // optimizer steps whole units, all of unit u's gradients. After end_backward(). Collective
  // over `group`.
  Status sum_owned_grads(int u, Comm& group);
  // AdamW on this rank's shard, then the weights every rank needs for the next step.
  Status optimizer_step(const Exec& ex, double lr, double grad_scale);

  // Stage 3: makes every weight resident in one full buffer (for saving a model file), until
  // release_full_weights(). Other stages: nothing to do. Collective.
  Status gather_full_weights();
  void release_full_weights();

  // This rank's part of the state to save: its slice of every unit (zero/shard_layout.h), at
  // every stage, so the replicas of a unit write disjoint parts that cover it.
  std::vector<StateSlice> saved_slices();
  // The state this rank holds and must be loaded: every unit whole at stage 0, else the slices
  // it owns. Stages 0-2 also hold every weight in the ParamStore (weights_replicated()), which a
  // load fills whole.
  std::vector<StateSlice> held_slices();
  bool weights_replicated() const { return stage_ < ZeroStage::kParameters; }

  ZeroStage stage() const { return stage_; }
  // The data-parallel group of dense parameters (dp x cp): the ranks that each run their own
  // micro-batches of the global batch.
  Comm& comm() { return mesh_.replicas(ReplicaGroup::kDense); }
  DeviceMesh& mesh() { return mesh_; }
  const ParamStore& store() const { return store_; }
  AdamW& optimizer() { return *optimizer_; }
  const ShardLayout& shards() const { return shards_; }
  int64_t shard_numel() const { return shards_.shard_numel(); }
  // Status of the collectives started inside hooks (which cannot return one); end_backward()
  // and optimizer_step() report it too.
  const Status& hook_status() const { return hook_status_; }
  // Seconds the last end_backward() spent waiting for gradient communication still in flight
  // after backward finished: the part of it not hidden behind computation.
  double exposed_comm_s() const { return exposed_comm_s_; }

  void before_forward(int block) override;
  void after_forward(int block) override;
  void before_backward(int block) override;
  void after_backward(int block) override;
  void after_input_grads(int block) override;
  void before_weight_grads(int block) override;
  void after_weight_grads(int block) override;

 private:
  struct Bucket {
    std::vector<int> units;  // of one replica group, from the head back
    int units_ready = 0;
    std::vector<CommHandle> handles;  // one per run of units contiguous in memory
    std::vector<std::pair<int64_t, int64_t>> wire_runs;  // bf16 wire: element ranges to widen
  };
  struct WeightSlot {
    ReplicaGroup group = ReplicaGroup::kDense;  // holds units of this group only
    Buffer data;          // one gathered unit (padded to whole slices)
    int unit = -1;        // the unit it holds (or is gathering), -1 for none
    int users = 0;        // before_* calls not yet matched by after_*
    int64_t last_use = 0;
    CommHandle gather;
  };
  struct GradSlot {
    ReplicaGroup group = ReplicaGroup::kDense;
    Buffer data;          // one unit's gradient (padded), then the reduce-scatter's input
    Buffer reduced;       // this rank's reduced slice
    Buffer wire;          // bf16 wire: data rounded to bf16, then ...
    Buffer wire_reduced;  // ... this rank's slice reduced in bf16
    int unit = -1;        // accumulating or reducing unit, -1 when free
    int users = 0;
    bool reducing = false;
    CommHandle handle;
  };

  int64_t slice(int unit) const { return shards_.slice(unit); }
  Comm& comm_of(int unit) { return mesh_.replicas(store_.unit(unit).replicas); }
  // Whether a group's (a unit's) gradients go over the wire in bf16.
  bool bf16_wire(ReplicaGroup group) {
    return grad_dtype_ == Precision::kBf16 && mesh_.replicas(group).size() > 1;
  }
  bool bf16_wire(int unit) { return bf16_wire(store_.unit(unit).replicas); }
  void note(Status s);
  // Stage 0/1.
  void unit_grads_ready(int unit);
  // Stage 3 weights.
  void acquire_weights(int unit);
  void release_weights(int unit);
  void prefetch_weights(int unit);
  WeightSlot* find_weight_slot(int unit);
  WeightSlot& free_weight_slot(ReplicaGroup group);
  // A slot large enough for unit u (scratch outside the step).
  WeightSlot& scratch_slot(int unit);
  void start_gather(WeightSlot& slot, int unit);
  // Stage 2/3 gradients.
  void acquire_grads(int unit);
  void release_grads(int unit);
  void finish_reduction(GradSlot& slot);
  Status all_gather_weights_into_full();

  ZeroStage stage_;
  Precision grad_dtype_;
  DeviceMesh& mesh_;
  Transformer& model_;
  ParamStore& store_;
  ShardLayout shards_;
  std::unique_ptr<AdamW> optimizer_;
  std::vector<AdamWSegment> segments_;      // this rank's part of every tensor
  Buffer shard_weights_;                    // stage 3
  Buffer shard_grads_;                      // stage 2, 3
  Buffer gather_scratch_;                   // stage 1, 2: one padded unit
  Buffer wire_grads_;                       // stage 0, 1 with a bf16 wire: every gradient
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
