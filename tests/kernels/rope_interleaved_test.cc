#include "kernels/rope_interleaved.h"

#include <fmt/format.h>

#include <cmath>

#include "kernels/rope.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::element;
using testkit::random_buffer;

TEST(RopeInterleaved, ForwardRotatesAdjacentPairsOfTheSliceOnly) {
  // Heads of 6 columns whose slice [2, 6) holds the pairs (x2, x3) and (x4, x5), at position 2.
  const double theta = 100.0;
  Buffer table = rope_table(DType::kF64, 4, 4, theta);
  for (Exec ex : {Exec::reference(), Exec::cpu()}) {
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(dtype),
                               ex.impl == KernelImpl::kRef ? "ref" : "fast"));
      Buffer t = testkit::convert(table.view(), dtype);
      Buffer x(dtype, {1, 12});
      for (int64_t i = 0; i < 12; ++i) testkit::set_element(x.view(), i, double(i + 1));
      rope_interleaved_forward(ex, x.view(), t.view(), RopeSlice{6, 2, 4}, 1, 2);
      for (int64_t h = 0; h < 2; ++h) {
        const double x0 = 6 * h + 1, x1 = 6 * h + 2, x2 = 6 * h + 3, x3 = 6 * h + 4,
                     x4 = 6 * h + 5, x5 = 6 * h + 6;
        const double a0 = 2.0, a1 = 2.0 / 10.0;  // pos * theta^(-2i/4), i = 0, 1
        const double want[6] = {x0,
                                x1,
                                x2 * std::cos(a0) - x3 * std::sin(a0),
                                x3 * std::cos(a0) + x2 * std::sin(a0),
                                x4 * std::cos(a1) - x5 * std::sin(a1),
                                x5 * std::cos(a1) + x4 * std::sin(a1)};
        for (int64_t i = 0; i < 6; ++i)
          EXPECT_NEAR(element(x.view(), 6 * h + i), want[i], 1e-5) << "head " << h << " col " << i;
      }
    }
  }
}

// Hugging Face's DeepSeek-V3 de-interleaves a head ([x0, x2, .., x1, x3, ..]) and rotates halves:
// that equals this rotation followed by the same permutation.
TEST(RopeInterleaved, EqualsDeinterleaveThenRotateHalf) {
  const int64_t rows = 5, dim = 8, seq_len = 5;
  Buffer table = rope_table(DType::kF64, seq_len, dim, 10000.0);
  Buffer x = random_buffer(DType::kF64, {rows, dim}, 3);
  Buffer permuted(DType::kF64, {rows, dim});
  auto deinterleave = [&](ConstView src, View dst) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < dim / 2; ++i) {
        testkit::set_element(dst, r * dim + i, element(src, r * dim + 2 * i));
        testkit::set_element(dst, r * dim + dim / 2 + i, element(src, r * dim + 2 * i + 1));
      }
  };
  deinterleave(x.view(), permuted.view());
  rope_forward(Exec::reference(), permuted.view(), table.view(), dim, seq_len, 0);
  rope_interleaved_forward(Exec::reference(), x.view(), table.view(), RopeSlice{dim, 0, dim},
                           seq_len, 0);
  Buffer want(DType::kF64, {rows, dim});
  deinterleave(x.view(), want.view());
  EXPECT_TENSOR_NEAR(permuted.view(), want.view(), testkit::tolerance<double>());
}

TEST(RopeInterleaved, CpuMatchesReference) {
  struct Dims {
    int64_t rows, heads, stride, begin, dim, seq_len, pos_offset;
  };
  for (auto [rows, heads, stride, begin, dim, seq_len, pos_offset] :
       {Dims{1, 1, 2, 0, 2, 1, 0}, {5, 3, 10, 4, 6, 5, 2}, {7, 2, 18, 0, 18, 7, 1},
        {13, 4, 40, 8, 32, 13, 9}, {96, 8, 192, 128, 64, 32, 7}}) {
    SCOPED_TRACE(fmt::format("rows={} heads={} slice [{}, {}) of {}", rows, heads, begin,
                             begin + dim, stride));
    const RopeSlice slice{stride, begin, dim};
    const int64_t cols = heads * stride;
    const uint64_t seed = uint64_t(rows * 1000 + cols);
    Buffer table = rope_table(DType::kF32, pos_offset + seq_len + 3, dim, 10000.0);
    Buffer x_ref = random_buffer(DType::kF32, {rows, cols}, seed);
    Buffer x = testkit::convert(x_ref.view(), DType::kF32);
    ref::rope_interleaved_forward(x_ref.view(), table.view(), slice, seq_len, pos_offset);
    cpu::rope_interleaved_forward(x.view(), table.view(), slice, seq_len, pos_offset);
    EXPECT_TENSOR_NEAR(x.view(), x_ref.view(), testkit::tolerance<float>());

    Buffer dx_ref = random_buffer(DType::kF32, {rows, cols}, seed + 1);
    Buffer dx = testkit::convert(dx_ref.view(), DType::kF32);
    ref::rope_interleaved_backward(dx_ref.view(), table.view(), slice, seq_len, pos_offset);
    cpu::rope_interleaved_backward(dx.view(), table.view(), slice, seq_len, pos_offset);
    EXPECT_TENSOR_NEAR(dx.view(), dx_ref.view(), testkit::tolerance<float>());
  }
}

TEST(RopeInterleaved, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 6, heads = 2, stride = 7, seq_len = 3, pos_offset = 1;
  const RopeSlice slice{stride, 3, 4};
  const int64_t cols = heads * stride;
  Buffer table = rope_table(DType::kF64, pos_offset + seq_len, slice.dim, 10.0);
  Buffer x = random_buffer(DType::kF64, {rows, cols}, 21);
  Buffer r = random_buffer(DType::kF64, {rows, cols}, 22);
  Buffer y(DType::kF64, {rows, cols});
  auto loss = [&] {  // L = sum(rope(x) * r)
    testkit::copy_into(x.view(), y.view());
    rope_interleaved_forward(Exec::cpu(), y.view(), table.view(), slice, seq_len, pos_offset);
    double l = 0;
    for (int64_t i = 0; i < y.numel(); ++i) l += y.data<double>()[i] * r.data<double>()[i];
    return l;
  };
  Buffer dx = testkit::convert(r.view(), DType::kF64);  // dL/dy = r
  rope_interleaved_backward(Exec::cpu(), dx.view(), table.view(), slice, seq_len, pos_offset);
  const double h = 1e-6;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double saved = x.data<double>()[i];
    x.data<double>()[i] = saved + h;
    const double up = loss();
    x.data<double>()[i] = saved - h;
    const double down = loss();
    x.data<double>()[i] = saved;
    EXPECT_NEAR(dx.data<double>()[i], (up - down) / (2 * h), 1e-8) << "element " << i;
  }
}

}  // namespace
}  // namespace symphony
