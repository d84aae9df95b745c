#include "model/attention_block.h"

#include <cstring>

#include "kernels/elementwise.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "model/linear.h"
#include "model/weight_grad_queue.h"

namespace symphony {
namespace {
Buffer act(DType dtype, Shape shape) { return Buffer(dtype, shape, MemoryCategory::kActivations); }
}  // namespace

std::vector<int64_t> AttentionActs::stashed_widths(const ModelConfig& c) {
  std::vector<int64_t> widths{c.q_dim(), c.kv_dim(), c.kv_dim(), c.q_dim()};
  if (c.qk_norm) widths.insert(widths.end(), {c.q_dim(), c.kv_dim()});
  return widths;
}

AttentionActs::AttentionActs(const ModelConfig& c, int64_t rows, int64_t local_rows, DType dtype)
    : SubLayerActs(dtype, rows, local_rows, c.hidden_size, stashed_widths(c)),
      inv_rms(act(dtype, {local_rows})),
      q_inv(c.qk_norm ? act(dtype, {rows * c.num_attention_heads}) : Buffer()),
      k_inv(c.qk_norm ? act(dtype, {rows * c.num_key_value_heads}) : Buffer()),
      lse(act(dtype, {rows, c.num_attention_heads})) {}

AttentionActs::AttentionActs(const ModelConfig& c, int64_t rows, int64_t local_rows,
                             ActScratch& scratch, View normed)
    : SubLayerActs(scratch, normed, rows, local_rows, c.hidden_size, stashed_widths(c),
                   stashed_widths(c).size()),
      inv_rms(act(DType::kF32, {local_rows})),
      q_inv(c.qk_norm ? act(DType::kF32, {rows * c.num_attention_heads}) : Buffer()),
      k_inv(c.qk_norm ? act(DType::kF32, {rows * c.num_key_value_heads}) : Buffer()),
      lse(act(DType::kF32, {rows, c.num_attention_heads})) {}

AttentionScratch::AttentionScratch(const ModelConfig& c, int64_t rows, DType dtype)
    : dh(act(dtype, {rows, c.hidden_size})),
      dq(act(dtype, {rows, c.q_dim()})),
      dk(act(dtype, {rows, c.kv_dim()})),
      dv(act(dtype, {rows, c.kv_dim()})),
      dout(act(dtype, {rows, c.q_dim()})) {}

ModelConfig AttentionBlock::local_config(const ModelConfig& config,
                                         const ShardPlacement& placement) {
  const int64_t tp = placement.size[int(Axis::kTensor)];
  ModelConfig local = config;
  local.num_attention_heads = config.num_attention_heads / tp;
  local.num_key_value_heads =
      config.num_key_value_heads >= tp ? config.num_key_value_heads / tp : 1;
  return local;
}

AttentionBlock::AttentionBlock(const ModelConfig& config, const std::string& prefix,
                               ParamStore& store)
    : config_(local_config(config, store.placement())) {
  const int64_t d = config.hidden_size;
  const int tp = store.placement().size[int(Axis::kTensor)];
  kv_replicas_ = tp > config.num_key_value_heads ? int(tp / config.num_key_value_heads) : 1;
  const ShardSpec by_head{Axis::kTensor, 0};
  const ShardSpec by_kv_head{Axis::kTensor, 0, int(config.num_key_value_heads)};
  const ShardSpec by_input{Axis::kTensor, 1};
  norm_ = store.add(prefix + ".input_layernorm.weight", {d}, Decay::kNo);
  q_ = store.add(prefix + ".self_attn.q_proj.weight", {config.q_dim(), d}, Decay::kYes, by_head);
  k_ = store.add(prefix + ".self_attn.k_proj.weight", {config.kv_dim(), d}, Decay::kYes,
                 by_kv_head);
  v_ = store.add(prefix + ".self_attn.v_proj.weight", {config.kv_dim(), d}, Decay::kYes,
                 by_kv_head);
  o_ = store.add(prefix + ".self_attn.o_proj.weight", {d, config.q_dim()}, Decay::kYes, by_input);
  if (config.qk_norm) {
    q_norm_ = store.add(prefix + ".self_attn.q_norm.weight", {config.head_dim}, Decay::kNo);
    k_norm_ = store.add(prefix + ".self_attn.k_norm.weight", {config.head_dim}, Decay::kNo);
  }
}

std::vector<ParamId> AttentionBlock::partial_grads(bool sequence_parallel) const {
  std::vector<ParamId> ids;
  if (sequence_parallel) ids.push_back(norm_);  // each rank normed its own rows
  if (config_.qk_norm) ids.insert(ids.end(), {q_norm_, k_norm_});  // each rank its own heads
  return ids;
}

void AttentionBlock::project(const Exec& ex, const ParamStore& store, ConstView rope,
                             TensorParallel& tp, ConstView h, int64_t n, int64_t seq_len,
                             int64_t pos_offset, AttentionActs& a) const {
  const int64_t dh = config_.head_dim, heads = config_.num_attention_heads,
                kv_heads = config_.num_key_value_heads;
  View q = a.q(n), k = a.k(n), v = a.v(n);
  const ConstView w[] = {store.param(q_), store.param(k_), store.param(v_)};
  if (config_.qk_norm) {
    View q_raw = a.q_raw(n), k_raw = a.k_raw(n);
    const View y[] = {q_raw, k_raw, v};
    tp.column_parallel_forward(ex, h, w, y);
    rmsnorm_forward(ex, q_raw.reshape({n * heads, dh}), store.param(q_norm_), config_.rms_norm_eps,
                    q.reshape({n * heads, dh}), a.q_inv.view().rows(0, n * heads));
    rmsnorm_forward(ex, k_raw.reshape({n * kv_heads, dh}), store.param(k_norm_),
                    config_.rms_norm_eps, k.reshape({n * kv_heads, dh}),
                    a.k_inv.view().rows(0, n * kv_heads));
  } else {
    const View y[] = {q, k, v};
    tp.column_parallel_forward(ex, h, w, y);
  }
  rope_forward(ex, q, rope, dh, seq_len, pos_offset);
  rope_forward(ex, k, rope, dh, seq_len, pos_offset);
}

void AttentionBlock::forward(const Exec& ex, const ParamStore& store, ConstView rope,
                             const BatchShape& shape, TensorParallel& tp, ConstView x,
                             AttentionActs& a, View x_out) const {
  const int64_t n = shape.rows(), local = x.dim(0);
  View h = a.h(local);
  rmsnorm_forward(ex, x, store.param(norm_), config_.rms_norm_eps, h,
                  a.inv_rms.view().rows(0, local));
  project(ex, store, rope, tp, h, n, shape.seq_len, 0, a);
  AttentionShape s{shape.batch, shape.seq_len, shape.seq_len, config_.num_attention_heads,
                   config_.num_key_value_heads, config_.head_dim};
  View out = a.out(n);
  attention_forward(ex, s, a.q(n), a.k(n), a.v(n),
                    out, a.lse.view().rows(0, n));
  tp.row_parallel_forward(ex, out, store.param(o_), x_out);
  a.save(ex, n);
  add(ex, x_out, x, x_out);
}

void AttentionBlock::backward(const Exec& ex, ParamStore& store, ConstView rope,
                              const BatchShape& shape, TensorParallel& tp, ConstView x,
                              AttentionActs& a, AttentionScratch& sc, ConstView dx_out,
                              View dx) const {
  const int64_t n = shape.rows(), local = x.dim(0);
  const int64_t dh = config_.head_dim, heads = config_.num_attention_heads,
                kv_heads = config_.num_key_value_heads;
  a.restore(ex, n);
  if (a.recomputes_h())
    rmsnorm_apply(ex, x, store.param(norm_), a.inv_rms.view().rows(0, local), a.h(local));
  ConstView out = a.out(n);
  View dout = sc.dout.view().rows(0, n);
  // The saved normed input is gathered again (sequence parallelism) while the output projection
  // and attention gradients run; the output gradient's rows are gathered chunk by chunk.
  ConstView h = tp.gather_start(a.h(local), 1);
  tp.row_parallel_backward(ex, out, store.param(o_), dx_out, dout, store.grad(o_),
                           store.weight_grad_queue());

  View dq = sc.dq.view().rows(0, n), dk = sc.dk.view().rows(0, n), dv = sc.dv.view().rows(0, n);
  AttentionShape s{shape.batch, shape.seq_len, shape.seq_len, heads, kv_heads, dh};
  attention_backward(ex, s, a.q(n), a.k(n), a.v(n),
                     out, a.lse.view().rows(0, n), dout, dq, dk, dv);
  rope_backward(ex, dq, rope, dh, shape.seq_len, 0);
  rope_backward(ex, dk, rope, dh, shape.seq_len, 0);

  if (config_.qk_norm) {
    // dq and dk become gradients of the raw projections, in place.
    rmsnorm_backward(ex, a.q_raw(n).reshape({n * heads, dh}),
                     store.param(q_norm_), a.q_inv.view().rows(0, n * heads),
                     dq.reshape({n * heads, dh}), dq.reshape({n * heads, dh}),
                     store.grad(q_norm_));
    rmsnorm_backward(ex, a.k_raw(n).reshape({n * kv_heads, dh}),
                     store.param(k_norm_), a.k_inv.view().rows(0, n * kv_heads),
                     dk.reshape({n * kv_heads, dh}), dk.reshape({n * kv_heads, dh}),
                     store.grad(k_norm_));
  }
  // The input gradient first: its sum over tp runs beside the weight gradients.
  View dh_view = sc.dh.view().rows(0, local);
  View partial = tp.partial_for(dh_view, n);
  linear_backward_input(ex, store.param(q_), dq, partial, Accumulate::kNo);
  linear_backward_input(ex, store.param(k_), dk, partial, Accumulate::kYes);
  linear_backward_input(ex, store.param(v_), dv, partial, Accumulate::kYes);
  tp.reduce_start(partial, dh_view);
  tp.gather_wait();
  WeightGradQueue* queue = store.weight_grad_queue();
  {
    const Bf16SharedOperand shared(h);
    linear_backward_weight(ex, h, dq, store.grad(q_), queue);
    linear_backward_weight(ex, h, dk, store.grad(k_), queue);
    linear_backward_weight(ex, h, dv, store.grad(v_), queue);
  }
  tp.reduce_wait();
  // The norm's input gradient replaces dh in place, then joins the residual gradient.
  rmsnorm_backward(ex, x, store.param(norm_), a.inv_rms.view().rows(0, local), dh_view, dh_view,
                   store.grad(norm_));
  add(ex, dx_out, dh_view, dx);
}

void AttentionBlock::forward_cached(const Exec& ex, const ParamStore& store, ConstView rope,
                                    ConstView x, AttentionActs& a, KvCache& cache,
                                    View x_out) const {
  const int64_t n = x.dim(0);
  const int64_t past = cache.length;
  SYM_CHECK(past + n <= cache.k.shape()[0], "KV cache full: {} + {} > {}", past, n,
            cache.k.shape()[0]);
  View h = a.h(n);
  rmsnorm_forward(ex, x, store.param(norm_), config_.rms_norm_eps, h, a.inv_rms.view().rows(0, n));
  TensorParallel one_rank;
  project(ex, store, rope, one_rank, h, n, /*seq_len=*/n, past, a);
  const int64_t kv_bytes = n * config_.kv_dim() * dtype_bytes(a.k(n).dtype());
  std::memcpy(cache.k.view().rows(past, past + n).raw(), a.k(n).raw(), size_t(kv_bytes));
  std::memcpy(cache.v.view().rows(past, past + n).raw(), a.v(n).raw(), size_t(kv_bytes));
  cache.length = past + n;
  AttentionShape s{1, n, past + n, config_.num_attention_heads, config_.num_key_value_heads,
                   config_.head_dim};
  View out = a.out(n);
  attention_forward(ex, s, a.q(n), cache.k.view().rows(0, past + n),
                    cache.v.view().rows(0, past + n), out, a.lse.view().rows(0, n));
  linear_forward(ex, out, store.param(o_), x_out);
  add(ex, x_out, x, x_out);
}

}  // namespace symphony
