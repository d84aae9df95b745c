#include "kernels/attention.h"

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView q) {
  return ex.impl == KernelImpl::kRef || q.dtype() == DType::kF64;
}

void check_shape(const AttentionShape& s) {
  SYM_CHECK(s.batch >= 0 && s.q_len >= 0 && s.head_dim >= 1 && s.kv_heads >= 1,
            "attention: batch {}, q_len {}, head_dim {}, kv_heads {}", s.batch, s.q_len, s.head_dim,
            s.kv_heads);
  SYM_CHECK(s.heads >= s.kv_heads && s.heads % s.kv_heads == 0,
            "attention: {} query heads do not split into {} kv heads", s.heads, s.kv_heads);
  SYM_CHECK(s.q_len <= s.kv_len, "attention: q_len {} exceeds kv_len {}", s.q_len, s.kv_len);
  SYM_CHECK(s.v_head_dim >= 0 && s.scale >= 0.0, "attention: v_head_dim {}, scale {}",
            s.v_head_dim, s.scale);
}

// `what` names the tensor in the message.
void check_view(const char* what, ConstView v, DType dtype, int64_t rows, int64_t cols) {
  SYM_CHECK(v.ndim() == 2 && v.dim(0) == rows && v.dim(1) == cols,
            "attention: {} must be ({}, {}), got {}-d ({}, {})", what, rows, cols, v.ndim(),
            v.dim(0), v.ndim() > 1 ? v.dim(1) : 0);
  SYM_CHECK(v.dtype() == dtype, "attention: {} is {}, q is {}", what, dtype_name(v.dtype()),
            dtype_name(dtype));
}

void check_forward(const AttentionShape& s, ConstView q, ConstView k, ConstView v, ConstView out,
                   ConstView lse) {
  check_shape(s);
  const int64_t nq = s.batch * s.q_len, nkv = s.batch * s.kv_len;
  const DType dt = q.dtype();
  check_view("q", q, dt, nq, s.heads * s.head_dim);
  check_view("k", k, dt, nkv, s.kv_heads * s.head_dim);
  check_view("v", v, dt, nkv, s.kv_heads * s.value_dim());
  check_view("out", out, dt, nq, s.heads * s.value_dim());
  check_view("lse", lse, dt, nq, s.heads);
}

}  // namespace

void attention_forward(const Exec& ex, const AttentionShape& s, ConstView q, ConstView k,
                       ConstView v, View out, View lse) {
  check_forward(s, q, k, v, out, lse);
  if (use_ref(ex, q)) return ref::attention_forward(s, q, k, v, out, lse);
  cpu::attention_forward(s, q, k, v, out, lse);
}

void attention_backward(const Exec& ex, const AttentionShape& s, ConstView q, ConstView k,
                        ConstView v, ConstView out, ConstView lse, ConstView dout, View dq, View dk,
                        View dv) {
  check_forward(s, q, k, v, out, lse);
  const int64_t nq = s.batch * s.q_len, nkv = s.batch * s.kv_len;
  const DType dt = q.dtype();
  check_view("dout", dout, dt, nq, s.heads * s.value_dim());
  check_view("dq", dq, dt, nq, s.heads * s.head_dim);
  check_view("dk", dk, dt, nkv, s.kv_heads * s.head_dim);
  check_view("dv", dv, dt, nkv, s.kv_heads * s.value_dim());
  if (use_ref(ex, q)) return ref::attention_backward(s, q, k, v, out, lse, dout, dq, dk, dv);
  cpu::attention_backward(s, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace symphony
