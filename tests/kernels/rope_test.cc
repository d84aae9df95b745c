#include "kernels/rope.h"

#include <fmt/format.h>

#include <cmath>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::element;
using testkit::random_buffer;

struct RopeDims {
  int64_t rows, heads, head_dim, seq_len, pos_offset;
};

TEST(Rope, TableHoldsCosThenSin) {
  const int64_t max_pos = 5, head_dim = 6;
  const double theta = 10000.0;
  Buffer t64 = rope_table(DType::kF64, max_pos, head_dim, theta);
  Buffer t32 = rope_table(DType::kF32, max_pos, head_dim, theta);
  ASSERT_EQ(t64.shape(), (Shape{max_pos, head_dim}));
  // Position 3, pair 1: inv_freq = 10000^(-2/6), written out by hand.
  const double angle = 3.0 * std::pow(10000.0, -1.0 / 3.0);
  EXPECT_NEAR(element(t64.view(), 3 * head_dim + 1), std::cos(angle), 1e-15);
  EXPECT_NEAR(element(t64.view(), 3 * head_dim + 3 + 1), std::sin(angle), 1e-15);
  // Position 0 is the identity rotation.
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(element(t64.view(), i), 1.0);
    EXPECT_EQ(element(t64.view(), 3 + i), 0.0);
  }
  EXPECT_TENSOR_NEAR(t32.view(), t64.view(), (testkit::Tolerance{1e-7, 0}));
}

TEST(Rope, ForwardRotatesHalvesLikeHuggingFace) {
  // One head of Dh = 4 at position 2: the pairs are (x0, x2) and (x1, x3), not (x0, x1).
  const double theta = 100.0;
  Buffer table = rope_table(DType::kF64, 4, 4, theta);
  for (Exec ex : {Exec::reference(), Exec::cpu()}) {
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(dtype),
                               ex.impl == KernelImpl::kRef ? "ref" : "fast"));
      Buffer t = testkit::convert(table.view(), dtype);
      Buffer x(dtype, {2, 4});
      for (int64_t i = 0; i < 8; ++i) testkit::set_element(x.view(), i, double(i + 1));
      // seq_len 1 with offset 2: both rows sit at position 2.
      rope_forward(ex, x.view(), t.view(), 4, 1, 2);
      for (int64_t r = 0; r < 2; ++r) {
        const double x0 = 4 * r + 1, x1 = 4 * r + 2, x2 = 4 * r + 3, x3 = 4 * r + 4;
        const double a0 = 2.0, a1 = 2.0 / 10.0;  // pos * theta^(-2i/4), i = 0, 1
        const double want[4] = {x0 * std::cos(a0) - x2 * std::sin(a0),
                                x1 * std::cos(a1) - x3 * std::sin(a1),
                                x2 * std::cos(a0) + x0 * std::sin(a0),
                                x3 * std::cos(a1) + x1 * std::sin(a1)};
        for (int64_t i = 0; i < 4; ++i)
          EXPECT_NEAR(element(x.view(), 4 * r + i), want[i], 1e-5) << "row " << r << " col " << i;
      }
    }
  }
}

TEST(Rope, CpuMatchesReference) {
  for (auto [rows, heads, head_dim, seq_len, pos_offset] :
       {RopeDims{1, 1, 2, 1, 0}, {5, 3, 6, 5, 2}, {7, 2, 18, 3, 1}, {13, 5, 34, 4, 9},
        {96, 8, 64, 32, 7}}) {
    SCOPED_TRACE(fmt::format("rows={} heads={} head_dim={} seq_len={} pos_offset={}", rows, heads,
                             head_dim, seq_len, pos_offset));
    const int64_t cols = heads * head_dim;
    const uint64_t seed = uint64_t(rows * 1000 + cols);
    Buffer table = rope_table(DType::kF32, pos_offset + seq_len + 3, head_dim, 10000.0);
    Buffer x_ref = random_buffer(DType::kF32, {rows, cols}, seed);
    Buffer x = testkit::convert(x_ref.view(), DType::kF32);
    ref::rope_forward(x_ref.view(), table.view(), head_dim, seq_len, pos_offset);
    cpu::rope_forward(x.view(), table.view(), head_dim, seq_len, pos_offset);
    EXPECT_TENSOR_NEAR(x.view(), x_ref.view(), testkit::tolerance<float>());

    Buffer dx_ref = random_buffer(DType::kF32, {rows, cols}, seed + 1);
    Buffer dx = testkit::convert(dx_ref.view(), DType::kF32);
    ref::rope_backward(dx_ref.view(), table.view(), head_dim, seq_len, pos_offset);
    cpu::rope_backward(dx.view(), table.view(), head_dim, seq_len, pos_offset);
    EXPECT_TENSOR_NEAR(dx.view(), dx_ref.view(), testkit::tolerance<float>());
  }
}

TEST(Rope, BackwardUndoesForward) {
  // A rotation is orthogonal: its adjoint is its inverse.
  const int64_t rows = 9, heads = 3, head_dim = 10, seq_len = 4;
  Buffer table = rope_table(DType::kF32, 16, head_dim, 500.0);
  Buffer x0 = random_buffer(DType::kF32, {rows, heads * head_dim}, 5);
  Buffer x = testkit::convert(x0.view(), DType::kF32);
  rope_forward(Exec::cpu(), x.view(), table.view(), head_dim, seq_len, 3);
  EXPECT_GT(testkit::max_rel_error(x.view(), x0.view()), 1e-2);  // it did rotate
  rope_backward(Exec::cpu(), x.view(), table.view(), head_dim, seq_len, 3);
  EXPECT_TENSOR_NEAR(x.view(), x0.view(), (testkit::Tolerance{1e-6, 1e-5}));
}

TEST(Rope, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 6, heads = 2, head_dim = 6, seq_len = 4, pos_offset = 1;
  const int64_t cols = heads * head_dim;
  Buffer table = rope_table(DType::kF64, pos_offset + seq_len, head_dim, 10.0);
  Buffer x = random_buffer(DType::kF64, {rows, cols}, 21);
  Buffer r = random_buffer(DType::kF64, {rows, cols}, 22);
  Buffer y(DType::kF64, {rows, cols});
  auto loss = [&] {  // L = sum(rope(x) * r)
    testkit::copy_into(x.view(), y.view());
    rope_forward(Exec::cpu(), y.view(), table.view(), head_dim, seq_len, pos_offset);
    double l = 0;
    for (int64_t i = 0; i < y.numel(); ++i) l += y.data<double>()[i] * r.data<double>()[i];
    return l;
  };
  Buffer dx = testkit::convert(r.view(), DType::kF64);  // dL/dy = r
  rope_backward(Exec::cpu(), dx.view(), table.view(), head_dim, seq_len, pos_offset);
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
