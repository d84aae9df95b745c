#include "kernels/rope.h"

#include <cmath>

namespace symphony {
namespace {

bool use_ref(const Exec& ex, ConstView x) {
  return ex.impl == KernelImpl::kRef || x.dtype() == DType::kF64;
}

void check_rope_args(ConstView x, ConstView table, int64_t head_dim, int64_t seq_len,
                     int64_t pos_offset) {
  SYM_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope: head_dim {} must be even and positive",
            head_dim);
  SYM_CHECK(x.ndim() == 2 && x.dim(1) % head_dim == 0,
            "rope: x must be (N, heads*{}), got {} dims with {} columns", head_dim, x.ndim(),
            x.dim(-1));
  SYM_CHECK(table.ndim() == 2 && table.dim(1) > 0 && table.dim(1) % 2 == 0 &&
                table.dim(1) <= head_dim,
            "rope: table must be (max_pos, R) with R even in (0, {}], got {} columns", head_dim,
            table.dim(-1));
  SYM_CHECK(table.dtype() == x.dtype(), "rope: table is {}, x is {}", dtype_name(table.dtype()),
            dtype_name(x.dtype()));
  SYM_CHECK(seq_len > 0 && pos_offset >= 0 && pos_offset + seq_len <= table.dim(0),
            "rope: positions [{}, {}) outside the table's {}", pos_offset, pos_offset + seq_len,
            table.dim(0));
}

}  // namespace

Buffer rope_table(DType dtype, int64_t max_pos, int64_t rotary_dim, double theta) {
  SYM_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0, "rope_table: rotary_dim {} must be even",
            rotary_dim);
  SYM_CHECK(max_pos >= 0 && theta > 0, "rope_table: max_pos {}, theta {}", max_pos, theta);
  Buffer table(dtype, {max_pos, rotary_dim});
  View t = table.view();
  const int64_t half = rotary_dim / 2;
  // Angles in double whatever the table's dtype: for i = 0 the angle is pos itself, and at long
  // context lengths float rounding of the angle alone would visibly shift the rotation.
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq = std::pow(theta, -2.0 * double(i) / double(rotary_dim));
    for (int64_t pos = 0; pos < max_pos; ++pos) {
      const double angle = double(pos) * inv_freq;
      int64_t at = pos * rotary_dim + i;
      if (dtype == DType::kF64) {
        t.data<double>()[at] = std::cos(angle);
        t.data<double>()[at + half] = std::sin(angle);
      } else {
        t.f32()[at] = float(std::cos(angle));
        t.f32()[at + half] = float(std::sin(angle));
      }
    }
  }
  return table;
}

void rope_forward(const Exec& ex, View x, ConstView table, int64_t head_dim, int64_t seq_len,
                  int64_t pos_offset) {
  check_rope_args(x, table, head_dim, seq_len, pos_offset);
  if (use_ref(ex, x)) return ref::rope_forward(x, table, head_dim, seq_len, pos_offset);
  cpu::rope_forward(x, table, head_dim, seq_len, pos_offset);
}

void rope_backward(const Exec& ex, View dx, ConstView table, int64_t head_dim, int64_t seq_len,
                   int64_t pos_offset) {
  check_rope_args(dx, table, head_dim, seq_len, pos_offset);
  if (use_ref(ex, dx)) return ref::rope_backward(dx, table, head_dim, seq_len, pos_offset);
  cpu::rope_backward(dx, table, head_dim, seq_len, pos_offset);
}

}  // namespace symphony
