// The Transformer's multi-token prediction modules (model/transformer.h, model/mtp_block.h):
// forward after the final norm of the last virtual stage, backward between the main LM head's
// and the last layer's. Each module's layer runs through layer_forward / layer_backward like the
// main model's layers, so it has the model's attention, feed-forward kind, tensor and expert
// parallelism, recomputation and deferred weight gradients.
#include <algorithm>

#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/rmsnorm.h"
#include "model/transformer.h"

namespace symphony {

void Transformer::reset_mtp_losses() {
  std::fill(mtp_losses_.begin(), mtp_losses_.end(), CrossEntropyResult{});
}

void Transformer::mtp_shift(const BatchShape& shape, int64_t k, std::span<const int32_t> tokens,
                            std::span<const int32_t> targets) {
  // Positions past a sequence's end have no token k ahead: they read token 0 and count in no
  // loss. Attention is causal, so they change no position that has a target.
  const int64_t t_len = shape.seq_len;
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t i = 0; i < t_len; ++i) {
      const int64_t row = b * t_len + i;
      const bool inside = i + k < t_len;
      mtp_tokens_[size_t(row)] = inside ? tokens[size_t(row + k)] : 0;
      if (!targets.empty()) mtp_targets_[size_t(row)] = inside ? targets[size_t(row + k)] : -1;
    }
}

void Transformer::mtp_forward(const Exec& ex, const BatchShape& shape, int chunk, int slot,
                              std::span<const int32_t> tokens, const LossScales& scales) {
  const int64_t n = shape.rows(), local = tp_.local_rows(n);
  const int64_t depths = int64_t(mtp_blocks_.size());
  SYM_CHECK(int64_t(tokens.size()) == n, "{} tokens for {} rows", tokens.size(), n);
  const std::span<const int32_t> shifted(mtp_tokens_.data(), size_t(n));
  ConstView h_prev = chunk_output(chunk, slot, n);
  for (int64_t k = 1; k <= depths; ++k) {
    const int64_t l = config_.num_hidden_layers + k - 1;
    MtpActs& a = mtp_acts_[size_t(slot * depths + k - 1)];
    mtp_shift(shape, k, tokens, {});
    // Vocabulary-parallel lookup, as the first stage's embedding.
    View emb = a.emb.view().rows(0, local);
    hook_before_forward(mtp_embedding_block());
    View partial = tp_.partial_for(emb, n);
    embedding_forward(ex, params_.param(mtp_embedding()), shifted, partial, vocab_first_);
    tp_.reduce(partial, emb);
    hook_after_forward(mtp_embedding_block());

    const int block = layer_block_[size_t(l)];
    const MtpBlock& module = mtp_blocks_[size_t(k - 1)];
    View x = a.x.view().rows(0, local), h = a.h.view().rows(0, local);
    hook_before_forward(block);
    module.combine_forward(ex, params_, emb, h_prev, a, x);
    layer_forward(ex, l, shape, x, acts_for(slot, l), scales, h, moe_stats_[size_t(l)]);
    rmsnorm_forward(ex, h, params_.param(module.head_norm()), config_.rms_norm_eps,
                    a.head_h.view().rows(0, local), a.head_inv.view().rows(0, local));
    hook_after_forward(block);
    h_prev = h;
  }
}

void Transformer::mtp_backward(const Exec& ex, const BatchShape& shape, int chunk, int slot,
                               std::span<const int32_t> tokens,
                               std::span<const int32_t> targets, const LossScales& scales,
                               View dres, bool defer, int key) {
  const int64_t n = shape.rows(), local = tp_.local_rows(n), t_len = shape.seq_len;
  const int64_t depths = int64_t(mtp_blocks_.size());
  SYM_CHECK(int64_t(tokens.size()) == n && int64_t(targets.size()) == n,
            "{} tokens and {} targets for {} rows", tokens.size(), targets.size(), n);
  const std::span<const int32_t> shifted(mtp_tokens_.data(), size_t(n));
  const std::span<const int32_t> shifted_targets(mtp_targets_.data(), size_t(n));
  View g = mtp_dres_.view().rows(0, local), dh = dh_.view().rows(0, local);
  // The gradient of h^{k-1} that module k leaves for module k - 1 (and, from module 1, for the
  // main model's output).
  View carry = mtp_scratch_.dh.view().rows(0, local);
  const double per_depth = config_.mtp_loss_weight / double(depths);
  for (int64_t k = depths; k >= 1; --k) {
    const int64_t l = config_.num_hidden_layers + k - 1;
    MtpActs& a = mtp_acts_[size_t(slot * depths + k - 1)];
    const MtpBlock& module = mtp_blocks_[size_t(k - 1)];
    const int block = layer_block_[size_t(l)];
    const bool sp = !mtp_head_partial_.empty();
    const std::span<const ParamId> head_partial(mtp_head_partial_.data() + (sp ? k - 1 : 0),
                                                sp ? 1 : 0);
    const std::span<const ParamId> combine_partial(
        mtp_combine_partial_.data() + (sp ? 3 * (k - 1) : 0), sp ? 3 : 0);
    mtp_shift(shape, k, tokens, targets);
    hook_before_backward(block);
    weight_grad_queue_->set_block(block);

    // L_k is the mean over the T - k positions of each sequence that have a target k + 1 ahead.
    const double scale =
        t_len > k ? per_depth * scales.token * double(t_len) / double(t_len - k) : 0.0;
    ConstView h = a.h.view().rows(0, local);
    const CrossEntropyResult ce =
        head_loss(ex, a.head_h.view().rows(0, local), n, shifted_targets, scale, true);
    mtp_losses_[size_t(k - 1)].loss_sum += ce.loss_sum;
    mtp_losses_[size_t(k - 1)].count += ce.count;
    start_partial_grads(head_partial, {});
    rmsnorm_backward(ex, h, params_.param(module.head_norm()), a.head_inv.view().rows(0, local),
                     dh, g, params_.grad(module.head_norm()));
    finish_partial_grads(head_partial, {});
    if (k < depths) add(ex, g, carry, g);

    ConstView x = a.x.view().rows(0, local);
    LayerActs& layer_acts = acts_for(slot, l);
    if (recompute_ == Recompute::kFull)
      layer_forward(ex, l, shape, x, layer_acts, scales, layer_out_scratch_.view().rows(0, local),
                    scratch_stats_[size_t(l)]);
    layer_backward(ex, l, shape, x, layer_acts, scales, g, moe_stats_[size_t(l)]);

    ConstView h_prev = k == 1 ? chunk_output(chunk, slot, n)
                              : mtp_acts_[size_t(slot * depths + k - 2)].h.view().rows(0, local);
    start_partial_grads(combine_partial, {});
    module.combine_backward(ex, params_, a.emb.view().rows(0, local), h_prev, g, a, mtp_scratch_);
    finish_partial_grads(combine_partial, {});
    embedding_backward(ex, shifted, tp_.gather(mtp_scratch_.de.view().rows(0, local), 0),
                       params_.grad(mtp_embedding()), vocab_first_);
    if (defer && weight_grad_queue_->recorded(key, block))
      hook_after_input_grads(block);
    else
      hook_after_backward(block);
  }
  add(ex, dres, carry, dres);
}

}  // namespace symphony
