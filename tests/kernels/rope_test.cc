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
  int64_t rotary = 0;  // table width R; 0: the whole head
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
  for (auto [rows, heads, head_dim, seq_len, pos_offset, rotary] :
       {RopeDims{1, 1, 2, 1, 0}, {5, 3, 6, 5, 2}, {7, 2, 18, 3, 1}, {13, 5, 34, 4, 9},
        {96, 8, 64, 32, 7}, {9, 3, 64, 3, 2, 32}, {7, 2, 18, 7, 0, 2}, {11, 4, 34, 5, 1, 18}}) {
    if (rotary == 0) rotary = head_dim;
    SCOPED_TRACE(fmt::format("rows={} heads={} head_dim={} seq_len={} pos_offset={} rotary={}",
                             rows, heads, head_dim, seq_len, pos_offset, rotary));
    const int64_t cols = heads * head_dim;
    const uint64_t seed = uint64_t(rows * 1000 + cols);
    Buffer table = rope_table(DType::kF32, pos_offset + seq_len + 3, rotary, 10000.0);
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
  for (int64_t rotary : {head_dim, int64_t(4), int64_t(2)}) {
    SCOPED_TRACE(fmt::format("rotary={}", rotary));
    Buffer table = rope_table(DType::kF64, pos_offset + seq_len, rotary, 10.0);
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
}

// Partial RoPE: the first R dims of each head are rotated exactly as a head of dim R would be
// (pairs (i, i + R/2), angles pos * theta^(-2i/R)), the other Dh - R dims are left as they are.
TEST(Rope, PartialRotatesTheFirstDimsOfEachHeadOnly) {
  const int64_t rows = 5, heads = 3, head_dim = 8, rotary = 4, seq_len = 5, pos_offset = 2;
  Buffer partial_table = rope_table(DType::kF64, pos_offset + seq_len, rotary, 500.0);
  Buffer x0 = random_buffer(DType::kF64, {rows, heads * head_dim}, 31);
  // The same rows cut into heads of R dims, rotated as whole heads.
  Buffer front(DType::kF64, {rows, heads * rotary});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < rotary; ++i)
        testkit::set_element(front.view(), (r * heads + h) * rotary + i,
                             testkit::element(x0.view(), (r * heads + h) * head_dim + i));
  rope_forward(Exec::reference(), front.view(), partial_table.view(), rotary, seq_len, pos_offset);
  for (Exec ex : {Exec::reference(), Exec::cpu()}) {
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(dtype),
                               ex.impl == KernelImpl::kRef ? "ref" : "fast"));
      Buffer table = testkit::convert(partial_table.view(), dtype);
      Buffer x = testkit::convert(x0.view(), dtype);
      rope_forward(ex, x.view(), table.view(), head_dim, seq_len, pos_offset);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = 0; i < head_dim; ++i) {
            const int64_t at = (r * heads + h) * head_dim + i;
            const double want = i < rotary
                                    ? testkit::element(front.view(), (r * heads + h) * rotary + i)
                                    : testkit::element(x0.view(), at);
            EXPECT_NEAR(testkit::element(x.view(), at), want, 1e-6)
                << "row " << r << " head " << h << " dim " << i;
          }
    }
  }
}

}  // namespace
}  // namespace symphony
