#pragma once
// Causal grouped-query self-attention. Query head h reads key/value head h / (H / Hkv). Scores
// are scaled by `scale` (1/sqrt(Dh) unless set). Queries and keys have Dh columns per head,
// values and outputs Dv (v_head_dim; Dh unless set): multi-head latent attention
// (model/mla_block.h) has 192-wide query/key heads and 128-wide value heads in DeepSeek-V3.
// Query row i (0-based within its sequence) attends to key rows j <= i + (kv_len - q_len): with
// q_len == kv_len that is plain causal training attention; with q_len < kv_len the queries are
// the newest tokens of a KV cache (generation).
//
// The fast kernel tiles queries and keys and keeps an online softmax (running max and sum per
// row), so no (T, T) score matrix is ever held; backward recomputes the scores tile by tile
// from the saved logsumexp.
//
// q, dq: (B*q_len, H*Dh);  out, dout: (B*q_len, H*Dv);  k, dk: (B*kv_len, Hkv*Dh);
// v, dv: (B*kv_len, Hkv*Dv);  lse: (B*q_len, H).
// Backward overwrites dq, dk, dv. All views share one dtype.

#include <cmath>
#include <cstdint>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

struct AttentionShape {
  int64_t batch = 1;
  int64_t q_len = 1;
  int64_t kv_len = 1;
  int64_t heads = 1;
  int64_t kv_heads = 1;
  int64_t head_dim = 1;
  int64_t v_head_dim = 0;  // Dv; 0: the same as head_dim
  double scale = 0.0;      // applied to q·k; 0: 1/sqrt(head_dim)

  int64_t value_dim() const { return v_head_dim > 0 ? v_head_dim : head_dim; }
  double softmax_scale() const { return scale > 0.0 ? scale : 1.0 / std::sqrt(double(head_dim)); }
};

void attention_forward(const Exec& ex, const AttentionShape& s, ConstView q, ConstView k,
                       ConstView v, View out, View lse);
void attention_backward(const Exec& ex, const AttentionShape& s, ConstView q, ConstView k,
                        ConstView v, ConstView out, ConstView lse, ConstView dout, View dq,
                        View dk, View dv);

namespace ref {
void attention_forward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View out,
                       View lse);
void attention_backward(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                        ConstView out, ConstView lse, ConstView dout, View dq, View dk, View dv);
}  // namespace ref
namespace cpu {
void attention_forward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, View out,
                       View lse);
// The backward pass's schedules (attention_cpu.cc) give bitwise equal results; kAuto picks one
// from the shape and the thread count.
enum class AttentionBackwardPasses : uint8_t { kAuto, kOne, kTwo };
void attention_backward(const AttentionShape& s, ConstView q, ConstView k, ConstView v,
                        ConstView out, ConstView lse, ConstView dout, View dq, View dk, View dv,
                        AttentionBackwardPasses passes = AttentionBackwardPasses::kAuto);
}  // namespace cpu

}  // namespace symphony
