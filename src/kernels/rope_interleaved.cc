#include "kernels/rope_interleaved.h"

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

void check_args(ConstView x, ConstView table, RopeSlice s, int64_t seq_len, int64_t pos_offset) {
  SYM_CHECK(s.dim > 0 && s.dim % 2 == 0 && s.begin >= 0 && s.begin + s.dim <= s.head_stride,
            "rope_interleaved: slice [{}, {}) of {} columns per head (the width must be even)",
            s.begin, s.begin + s.dim, s.head_stride);
  SYM_CHECK(x.ndim() == 2 && x.dim(1) % s.head_stride == 0,
            "rope_interleaved: x must be (N, heads*{}), got {} dims with {} columns",
            s.head_stride, x.ndim(), x.dim(-1));
  SYM_CHECK(table.ndim() == 2 && table.dim(1) == s.dim,
            "rope_interleaved: table must be (max_pos, {}), got {} columns", s.dim,
            table.dim(-1));
  SYM_CHECK(table.dtype() == x.dtype(), "rope_interleaved: table is {}, x is {}",
            dtype_name(table.dtype()), dtype_name(x.dtype()));
  SYM_CHECK(seq_len > 0 && pos_offset >= 0 && pos_offset + seq_len <= table.dim(0),
            "rope_interleaved: positions [{}, {}) outside the table's {}", pos_offset,
            pos_offset + seq_len, table.dim(0));
}

}  // namespace

void rope_interleaved_forward(const Exec& ex, View x, ConstView table, RopeSlice slice,
                              int64_t seq_len, int64_t pos_offset) {
  check_args(x, table, slice, seq_len, pos_offset);
  if (use_ref(ex, x)) return ref::rope_interleaved_forward(x, table, slice, seq_len, pos_offset);
  cpu::rope_interleaved_forward(x, table, slice, seq_len, pos_offset);
}

void rope_interleaved_backward(const Exec& ex, View dx, ConstView table, RopeSlice slice,
                               int64_t seq_len, int64_t pos_offset) {
  check_args(dx, table, slice, seq_len, pos_offset);
  if (use_ref(ex, dx)) return ref::rope_interleaved_backward(dx, table, slice, seq_len, pos_offset);
  cpu::rope_interleaved_backward(dx, table, slice, seq_len, pos_offset);
}

}  // namespace symphony
