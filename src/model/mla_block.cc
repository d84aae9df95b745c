#include "model/mla_block.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/column_blocks.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope_interleaved.h"
#include "model/linear.h"
#include "model/weight_grad_queue.h"

namespace symphony {
namespace {

Buffer act(DType dtype, Shape shape) { return Buffer(dtype, shape, MemoryCategory::kActivations); }
Buffer act_if(bool keep, DType dtype, Shape shape) { return keep ? act(dtype, shape) : Buffer(); }

// The widths of a (local) config's heads and latents.
struct Dims {
  int64_t d, heads, nope, rope, v, dq, lora, q_lora;
  explicit Dims(const ModelConfig& c)
      : d(c.hidden_size),
        heads(c.num_attention_heads),
        nope(c.qk_nope_head_dim),
        rope(c.qk_rope_head_dim),
        v(c.v_head_dim),
        dq(c.qk_nope_head_dim + c.qk_rope_head_dim),
        lora(c.kv_lora_rank),
        q_lora(c.q_lora_rank) {}
  int64_t kv_cols() const { return nope + v; }       // per head of the up-projection
  int64_t latent_cols() const { return lora + rope; }  // per cached position
};

int64_t decode_rows(int64_t rows) { return std::min(rows, MlaScratch::kDecodeRows); }

}  // namespace

std::vector<int64_t> MlaActs::stashed_widths(const ModelConfig& config) {
  const Dims m(config);
  std::vector<int64_t> widths{m.heads * m.dq, m.heads * m.dq, m.heads * m.v, m.heads * m.v,
                              m.lora};
  if (m.q_lora > 0) widths.push_back(m.q_lora);  // q_a
  widths.push_back(m.lora);                      // c_norm
  if (m.q_lora > 0) widths.push_back(m.q_lora);  // q_lat
  return widths;
}

MlaActs::MlaActs(const ModelConfig& config, int64_t rows, int64_t local_rows, DType dtype)
    : SubLayerActs(dtype, rows, local_rows, config.hidden_size, stashed_widths(config)),
      inv_rms(act(dtype, {local_rows})),
      q_inv(act_if(config.q_lora_rank > 0, dtype, {rows})),
      c_inv(act(dtype, {rows})),
      lse(act(dtype, {rows, config.num_attention_heads})),
      c_norm_at_(stored(config)) {}

MlaActs::MlaActs(const ModelConfig& config, int64_t rows, int64_t local_rows,
                 ActScratch& scratch, View normed)
    : SubLayerActs(scratch, normed, rows, local_rows, config.hidden_size, stashed_widths(config),
                   stored(config)),
      inv_rms(act(DType::kF32, {local_rows})),
      q_inv(act_if(config.q_lora_rank > 0, DType::kF32, {rows})),
      c_inv(act(DType::kF32, {rows})),
      lse(act(DType::kF32, {rows, config.num_attention_heads})),
      c_norm_at_(stored(config)) {}

CheckedInt MlaActs::numel(const ModelConfig& config, CheckedInt rows, CheckedInt local_rows,
                          bool bf16) {
  const Dims m(config);
  CheckedInt e = local_rows + rows + rows * m.heads;                   // inv_rms, c_inv, lse
  if (m.q_lora > 0) e += rows;                                         // q_inv
  const std::vector<int64_t> widths = stashed_widths(config);
  if (!bf16) return e + local_rows * m.d + rows * ActStash::working_elems(1, widths);  // and h
  // The stored tensors in bf16, two values per float.
  return e + ActStash::bf16_elems(
                 rows * ActStash::working_elems(1, std::span(widths).first(stored(config))));
}

MlaScratch::MlaScratch(const ModelConfig& config, int64_t rows, DType dtype) {
  const Dims m(config);
  const int64_t dec = decode_rows(rows);
  dh = act(dtype, {rows, m.d});
  dq = act(dtype, {rows, m.heads * m.dq});
  dk = act(dtype, {rows, m.heads * m.dq});
  dv = act(dtype, {rows, m.heads * m.v});
  dout = act(dtype, {rows, m.heads * m.v});
  dkv = act(dtype, {rows, m.heads * m.kv_cols()});
  dk_rope = act(dtype, {rows, m.rope});
  dc = act(dtype, {rows, m.lora});
  dq_lat = act_if(m.q_lora > 0, dtype, {rows, m.q_lora});
  dec_q = act(dtype, {dec, m.latent_cols()});
  dec_o = act(dtype, {dec, m.latent_cols()});
  dec_lse = act(dtype, {dec, 1});
  dec_nope = act(dtype, {dec, m.nope});
  dec_lat = act(dtype, {dec, m.lora});
  dec_v = act(dtype, {dec, m.v});
}

CheckedInt MlaScratch::numel(const ModelConfig& config, CheckedInt rows) {
  const Dims m(config);
  CheckedInt e = rows * m.d;                                           // dh
  e += rows * (m.heads * m.dq) * 2 + rows * (m.heads * m.v) * 2;      // dq, dk, dv, dout
  e += rows * (m.heads * m.kv_cols()) + rows * m.rope + rows * m.lora;  // dkv, dk_rope, dc
  if (m.q_lora > 0) e += rows * m.q_lora;                              // dq_lat
  const CheckedInt dec = rows.overflowed() ? rows : CheckedInt(decode_rows(rows.value_or(0)));
  e += dec * (m.latent_cols() * 2 + 1 + m.nope + m.lora + m.v);        // the decode buffers
  return e;
}

ModelConfig MlaBlock::local_config(const ModelConfig& config, const ShardPlacement& placement) {
  const int64_t tp = placement.size[int(Axis::kTensor)];
  ModelConfig local = config;
  local.num_attention_heads = config.num_attention_heads / tp;
  local.num_key_value_heads = local.num_attention_heads;  // every head has its own keys
  return local;
}

MlaBlock::MlaBlock(const ModelConfig& config, const std::string& prefix, ParamStore& store)
    : config_(local_config(config, store.placement())) {
  SYM_CHECK(config.mla(), "MlaBlock of a config without model.kv_lora_rank");
  const Dims m(config);  // the whole model's heads: the global shapes
  const ShardSpec by_head{Axis::kTensor, 0};
  const ShardSpec by_input{Axis::kTensor, 1};
  const std::string attn = prefix + ".self_attn.";
  norm_ = store.add(prefix + ".input_layernorm.weight", {m.d}, Decay::kNo);
  if (m.q_lora > 0) {
    q_a_ = store.add(attn + "q_a_proj.weight", {m.q_lora, m.d}, Decay::kYes);
    q_a_norm_ = store.add(attn + "q_a_layernorm.weight", {m.q_lora}, Decay::kNo);
    q_b_ = store.add(attn + "q_b_proj.weight", {m.heads * m.dq, m.q_lora}, Decay::kYes, by_head);
  } else {
    q_ = store.add(attn + "q_proj.weight", {m.heads * m.dq, m.d}, Decay::kYes, by_head);
  }
  kv_a_ = store.add(attn + "kv_a_proj_with_mqa.weight", {m.latent_cols(), m.d}, Decay::kYes);
  kv_a_norm_ = store.add(attn + "kv_a_layernorm.weight", {m.lora}, Decay::kNo);
  kv_b_ = store.add(attn + "kv_b_proj.weight", {m.heads * m.kv_cols(), m.lora}, Decay::kYes,
                    by_head);
  o_ = store.add(attn + "o_proj.weight", {m.d, m.heads * m.v}, Decay::kYes, by_input);
}

std::vector<ParamId> MlaBlock::partial_grads(bool sequence_parallel) const {
  std::vector<ParamId> ids;
  if (sequence_parallel) ids.push_back(norm_);  // each rank normed its own rows
  for (ParamId id : {q_a_, q_a_norm_, kv_a_, kv_a_norm_})
    if (id >= 0) ids.push_back(id);  // each rank's part from its own heads
  return ids;
}

void MlaBlock::project(const Exec& ex, const ParamStore& store, ConstView rope, TensorParallel& tp,
                       ConstView h, int64_t n, int64_t seq_len, int64_t pos_offset, MlaActs& a,
                       MlaScratch& sc) const {
  const Dims m(config_);
  const double eps = config_.rms_norm_eps;
  View q = a.q(n), c = a.c(n), c_norm = a.c_norm(n);
  View k_rope = sc.dk_rope.view().rows(0, n);
  // kv_a's rows [0, kv_lora) make c and the rest k_rope: two products with row blocks of one
  // weight give both as dense matrices.
  const ConstView kv_a = store.param(kv_a_);
  const ConstView kv_a_c = kv_a.rows(0, m.lora), kv_a_rope = kv_a.rows(m.lora, m.latent_cols());
  if (m.q_lora > 0) {
    View q_a = a.q_a(n), q_lat = a.q_lat(n);
    const ConstView w[] = {store.param(q_a_), kv_a_c, kv_a_rope};
    const View y[] = {q_a, c, k_rope};
    tp.column_parallel_forward(ex, h, w, y);
    rmsnorm_forward(ex, q_a, store.param(q_a_norm_), eps, q_lat, a.q_inv.view().rows(0, n));
    linear_forward(ex, q_lat, store.param(q_b_), q);
  } else {
    const ConstView w[] = {store.param(q_), kv_a_c, kv_a_rope};
    const View y[] = {q, c, k_rope};
    tp.column_parallel_forward(ex, h, w, y);
  }
  rmsnorm_forward(ex, c, store.param(kv_a_norm_), eps, c_norm, a.c_inv.view().rows(0, n));
  rope_interleaved_forward(ex, q, rope, RopeSlice{m.dq, m.nope, m.rope}, seq_len, pos_offset);
  rope_interleaved_forward(ex, k_rope, rope, RopeSlice{m.rope, 0, m.rope}, seq_len, pos_offset);
}

void MlaBlock::forward(const Exec& ex, const ParamStore& store, ConstView rope,
                       const BatchShape& shape, TensorParallel& tp, ConstView x, MlaActs& a,
                       MlaScratch& sc, View x_out) const {
  const Dims m(config_);
  const int64_t n = shape.rows(), local = x.dim(0);
  View h = a.h(local);
  rmsnorm_forward(ex, x, store.param(norm_), config_.rms_norm_eps, h,
                  a.inv_rms.view().rows(0, local));
  project(ex, store, rope, tp, h, n, shape.seq_len, 0, a, sc);
  // The up-projection, then every head's key [k_nope_h | k_rope] and value v_h.
  View q = a.q(n), k = a.k(n), v = a.v(n);
  View kv = sc.dkv.view().rows(0, n);
  linear_forward(ex, a.c_norm(n), store.param(kv_b_), kv);
  copy_column_blocks(ex, kv, {0, m.kv_cols()}, k, {0, m.dq}, m.heads, m.nope);
  copy_column_blocks(ex, sc.dk_rope.view().rows(0, n), {0, 0}, k, {m.nope, m.dq}, m.heads,
                     m.rope);
  copy_column_blocks(ex, kv, {m.nope, m.kv_cols()}, v, {0, m.v}, m.heads, m.v);
  const AttentionShape s{shape.batch, shape.seq_len, shape.seq_len, m.heads, m.heads, m.dq, m.v};
  View out = a.out(n);
  attention_forward(ex, s, q, k, v, out, a.lse.view().rows(0, n));
  tp.row_parallel_forward(ex, out, store.param(o_), x_out);
  a.save(ex, n);
  add(ex, x_out, x, x_out);
}

void MlaBlock::backward(const Exec& ex, ParamStore& store, ConstView rope,
                        const BatchShape& shape, TensorParallel& tp, ConstView x, MlaActs& a,
                        MlaScratch& sc, ConstView dx_out, View dx) const {
  const Dims m(config_);
  const int64_t n = shape.rows(), local = x.dim(0);
  WeightGradQueue* queue = store.weight_grad_queue();
  a.restore(ex, n);
  if (a.recomputes_h()) {  // the norms' outputs from their saved inputs and inverse RMS values
    rmsnorm_apply(ex, x, store.param(norm_), a.inv_rms.view().rows(0, local), a.h(local));
    rmsnorm_apply(ex, a.c(n), store.param(kv_a_norm_), a.c_inv.view().rows(0, n), a.c_norm(n));
    if (m.q_lora > 0)
      rmsnorm_apply(ex, a.q_a(n), store.param(q_a_norm_), a.q_inv.view().rows(0, n), a.q_lat(n));
  }
  ConstView out = a.out(n);
  View dout = sc.dout.view().rows(0, n);
  // The saved normed input is gathered again (sequence parallelism) while the gradients up to
  // the down-projections run.
  ConstView h = tp.gather_start(a.h(local), 1);
  tp.row_parallel_backward(ex, out, store.param(o_), dx_out, dout, store.grad(o_), queue);

  View dq = sc.dq.view().rows(0, n), dk = sc.dk.view().rows(0, n), dv = sc.dv.view().rows(0, n);
  const AttentionShape s{shape.batch, shape.seq_len, shape.seq_len, m.heads, m.heads, m.dq, m.v};
  attention_backward(ex, s, a.q(n), a.k(n), a.v(n),
                     out, a.lse.view().rows(0, n), dout, dq, dk, dv);
  rope_interleaved_backward(ex, dq, rope, RopeSlice{m.dq, m.nope, m.rope}, shape.seq_len, 0);
  // The keys' gradient splits into the up-projection's key columns and, summed over the heads
  // that share it, k_rope's.
  View dkv = sc.dkv.view().rows(0, n), dk_rope = sc.dk_rope.view().rows(0, n);
  copy_column_blocks(ex, dk, {0, m.dq}, dkv, {0, m.kv_cols()}, m.heads, m.nope);
  copy_column_blocks(ex, dv, {0, m.v}, dkv, {m.nope, m.kv_cols()}, m.heads, m.v);
  sum_column_blocks(ex, dk, {m.nope, m.dq}, m.heads, dk_rope);
  rope_interleaved_backward(ex, dk_rope, rope, RopeSlice{m.rope, 0, m.rope}, shape.seq_len, 0);

  // Through the up-projections and the latent norms (in place); under tensor parallelism each
  // rank's latent gradients are the parts of its own heads.
  const ConstView c_norm = a.c_norm(n);
  View dc = sc.dc.view().rows(0, n);
  linear_backward_input(ex, store.param(kv_b_), dkv, dc, Accumulate::kNo);
  linear_backward_weight(ex, c_norm, dkv, store.grad(kv_b_), queue);
  rmsnorm_backward(ex, a.c(n), store.param(kv_a_norm_), a.c_inv.view().rows(0, n),
                   dc, dc, store.grad(kv_a_norm_));
  View dq_in = dq;  // the gradient of h's query projection
  if (m.q_lora > 0) {
    dq_in = sc.dq_lat.view().rows(0, n);
    linear_backward_input(ex, store.param(q_b_), dq, dq_in, Accumulate::kNo);
    linear_backward_weight(ex, a.q_lat(n), dq, store.grad(q_b_), queue);
    rmsnorm_backward(ex, a.q_a(n), store.param(q_a_norm_),
                     a.q_inv.view().rows(0, n), dq_in, dq_in, store.grad(q_a_norm_));
  }

  // The input gradient first: its sum over tp runs beside the weight gradients.
  const ParamId q_in = m.q_lora > 0 ? q_a_ : q_;
  const ConstView kv_a = store.param(kv_a_);
  View kv_a_grad = store.grad(kv_a_);
  View dh = sc.dh.view().rows(0, local);
  View partial = tp.partial_for(dh, n);
  linear_backward_input(ex, store.param(q_in), dq_in, partial, Accumulate::kNo);
  linear_backward_input(ex, kv_a.rows(0, m.lora), dc, partial, Accumulate::kYes);
  linear_backward_input(ex, kv_a.rows(m.lora, m.latent_cols()), dk_rope, partial,
                        Accumulate::kYes);
  tp.reduce_start(partial, dh);
  tp.gather_wait();
  linear_backward_weight(ex, h, dq_in, store.grad(q_in), queue);
  linear_backward_weight(ex, h, dc, kv_a_grad.rows(0, m.lora), queue);
  linear_backward_weight(ex, h, dk_rope, kv_a_grad.rows(m.lora, m.latent_cols()), queue);
  tp.reduce_wait();
  // The norm's input gradient replaces dh in place, then joins the residual gradient.
  rmsnorm_backward(ex, x, store.param(norm_), a.inv_rms.view().rows(0, local), dh, dh,
                   store.grad(norm_));
  add(ex, dx_out, dh, dx);
}

void MlaBlock::forward_cached(const Exec& ex, const ParamStore& store, ConstView rope,
                              ConstView x, MlaActs& a, MlaScratch& sc, KvCache& cache,
                              View x_out) const {
  const Dims m(config_);
  const int64_t n = x.dim(0), past = cache.length;
  SYM_CHECK(past + n <= cache.latent.shape()[0], "latent cache full: {} + {} > {}", past, n,
            cache.latent.shape()[0]);
  View h = a.h(n);
  rmsnorm_forward(ex, x, store.param(norm_), config_.rms_norm_eps, h, a.inv_rms.view().rows(0, n));
  TensorParallel one_rank;
  project(ex, store, rope, one_rank, h, n, /*seq_len=*/n, past, a, sc);
  View latent = cache.latent.view().rows(past, past + n);
  copy_column_blocks(ex, a.c_norm(n), {0, 0}, latent, {0, 0}, 1, m.lora);
  copy_column_blocks(ex, sc.dk_rope.view().rows(0, n), {0, 0}, latent, {m.lora, 0}, 1, m.rope);
  cache.length = past + n;

  // One head at a time over chunks of the new rows. Keys and values are both the cached
  // [RMSNorm(c) | k_rope] rows: a head's output is P·[RMSNorm(c) | k_rope], whose first kv_lora
  // columns are the latent output P·RMSNorm(c) (the rest is not used). The scale is that of the
  // full heads, 1/sqrt(nope + rope), not of the latent width.
  const ConstView kv_b = store.param(kv_b_);
  const int64_t chunk = sc.dec_q.shape()[0], width = m.latent_cols();
  View out = a.out(n);
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t r1 = std::min(n, r0 + chunk), rows = r1 - r0;
    const ConstView q = a.q(n).rows(r0, r1);
    View q_head = sc.dec_q.view().rows(0, rows), o_head = sc.dec_o.view().rows(0, rows);
    View nope = sc.dec_nope.view().rows(0, rows), lat = sc.dec_lat.view().rows(0, rows);
    View v_head = sc.dec_v.view().rows(0, rows);
    const ConstView cached = cache.latent.view().rows(0, past + r1);
    AttentionShape s{1, rows, past + r1, 1, 1, width, width};
    s.scale = 1.0 / std::sqrt(double(m.dq));
    for (int64_t head = 0; head < m.heads; ++head) {
      const int64_t first = head * m.kv_cols();
      const ConstView w_uk = kv_b.rows(first, first + m.nope);               // (nope, kv_lora)
      const ConstView w_uv = kv_b.rows(first + m.nope, first + m.kv_cols());  // (v, kv_lora)
      // The absorbed query [q_nope_h·Wuk_h | q_rope_h].
      copy_column_blocks(ex, q, {head * m.dq, 0}, nope, {0, 0}, 1, m.nope);
      gemm(ex, Trans::kNo, Trans::kNo, 1.0, nope, w_uk, 0.0, lat);
      copy_column_blocks(ex, lat, {0, 0}, q_head, {0, 0}, 1, m.lora);
      copy_column_blocks(ex, q, {head * m.dq + m.nope, 0}, q_head, {m.lora, 0}, 1, m.rope);
      attention_forward(ex, s, q_head, cached, cached, o_head, sc.dec_lse.view().rows(0, rows));
      // The head's output: its latent output through Wuv_h.
      copy_column_blocks(ex, o_head, {0, 0}, lat, {0, 0}, 1, m.lora);
      linear_forward(ex, lat, w_uv, v_head);
      copy_column_blocks(ex, v_head, {0, 0}, out.rows(r0, r1), {head * m.v, 0}, 1, m.v);
    }
  }
  linear_forward(ex, out, store.param(o_), x_out);
  add(ex, x_out, x, x_out);
}

}  // namespace symphony
