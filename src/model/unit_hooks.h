#pragma once
// UnitHooks: what the model tells a sharded layout (zero/data_parallel.h) around each use of a
// block of parameters (model/param_store.h; a block holds one unit per replica group). Blocks of
// a Transformer: 0 = embedding, 1..L = the decoder layers, L + 1 = the final norm and the untied
// LM head, then with multi-token prediction L + 1 + k = MTP module k (k = 1..D). With tied
// embeddings the LM head is block 0, used again at the end of the forward pass and first in the
// backward pass; MTP reads the embedding too (block 0, or its copy on the last pipeline stage).
// Under the head split (parallel.pp_head_share) with an untied head, the LM head has a block of
// its own after the final norm's on the last stage, and its copy one on the first stage.
//
// Order for one forward_backward: before_forward(0), after_forward(0), ..., before_forward(L+1),
// after_forward(L+1), [MTP: for k = 1..D before_forward(0), after_forward(0),
// before_forward(L+1+k), after_forward(L+1+k)]; then before_backward(L+1) (and
// before_backward(0) when tied or with MTP), [before_backward(L+1+k) .. after_backward(L+1+k)
// for k = D..1], after_backward(L+1), before_backward(L), ..., after_backward(0). Calls nest per
// block: weights stay needed from before_* to the matching after_*. Under pipeline parallelism the
// passes of several micro-batches interleave (train/pipeline_step.h), each pass a run of whole
// blocks in this order, over the blocks the rank holds.

namespace symphony {

class UnitHooks {
 public:
  virtual ~UnitHooks() = default;
  virtual void before_forward(int block) = 0;   // the block's weights are about to be read
  virtual void after_forward(int block) = 0;
  virtual void before_backward(int block) = 0;  // weights read, gradients accumulated into
  virtual void after_backward(int block) = 0;   // this micro-batch's gradients of the block are done

  // A backward split in two (zero-bubble pipeline schedules, model/weight_grad_queue.h):
  // before_backward(b) .. after_input_grads(b) reads the weights and accumulates some of the
  // gradients; later, before_weight_grads(b) .. after_weight_grads(b) accumulates the rest
  // without reading weights. after_weight_grads marks the micro-batch's gradients of the block
  // done, as after_backward does for an undivided backward.
  virtual void after_input_grads(int block) = 0;
  virtual void before_weight_grads(int block) = 0;
  virtual void after_weight_grads(int block) = 0;
};

}  // namespace symphony
