#include "kernels/column_blocks.h"

#include <fmt/format.h>

#include <array>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::element;
using testkit::random_buffer;

TEST(ColumnBlocks, CopyMovesEachBlockAndBroadcastsAStrideOfZero) {
  for (Exec ex : {Exec::reference(), Exec::cpu()}) {
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(dtype),
                               ex.impl == KernelImpl::kRef ? "ref" : "fast"));
      // src rows: 2 blocks of [a a b] (stride 3); dst rows: 2 blocks of [a a . s s] (stride 5).
      Buffer src(dtype, {2, 6}), shared(dtype, {2, 2}), dst(dtype, {2, 10});
      for (int64_t i = 0; i < 12; ++i) testkit::set_element(src.view(), i, double(i));
      for (int64_t i = 0; i < 4; ++i) testkit::set_element(shared.view(), i, 100.0 + i);
      for (int64_t i = 0; i < 20; ++i) testkit::set_element(dst.view(), i, -1.0);
      copy_column_blocks(ex, src.view(), {0, 3}, dst.view(), {0, 5}, 2, 2);
      copy_column_blocks(ex, shared.view(), {0, 0}, dst.view(), {3, 5}, 2, 2);
      const double want[2][10] = {{0, 1, -1, 100, 101, 3, 4, -1, 100, 101},
                                  {6, 7, -1, 102, 103, 9, 10, -1, 102, 103}};
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < 10; ++c)
          EXPECT_EQ(element(dst.view(), r * 10 + c), want[r][c]) << r << ", " << c;
    }
  }
}

TEST(ColumnBlocks, SumAddsTheBlocks) {
  for (Exec ex : {Exec::reference(), Exec::cpu()}) {
    // Rows 0..8 and 9..17; blocks of two columns at 0, 3 and 6.
    Buffer src(DType::kF32, {2, 9}), dst(DType::kF32, {2, 2});
    for (int64_t i = 0; i < 18; ++i) testkit::set_element(src.view(), i, double(i));
    sum_column_blocks(ex, src.view(), {0, 3}, 3, dst.view());
    EXPECT_EQ(element(dst.view(), 0), 0 + 3 + 6);
    EXPECT_EQ(element(dst.view(), 1), 1 + 4 + 7);
    EXPECT_EQ(element(dst.view(), 2), 9 + 12 + 15);
    EXPECT_EQ(element(dst.view(), 3), 10 + 13 + 16);
  }
}

TEST(ColumnBlocks, CpuMatchesReference) {
  for (auto [rows, blocks, width, src_stride, dst_stride] :
       {std::array<int64_t, 5>{1, 1, 1, 1, 1}, {5, 3, 7, 9, 7}, {17, 8, 64, 128, 64},
        {9, 4, 33, 0, 40}}) {
    SCOPED_TRACE(fmt::format("rows={} blocks={} width={} strides {} {}", rows, blocks, width,
                             src_stride, dst_stride));
    const int64_t src_cols = 2 + (blocks - 1) * src_stride + width;
    const int64_t dst_cols = 1 + (blocks - 1) * dst_stride + width;
    Buffer src = random_buffer(DType::kF32, {rows, src_cols}, uint64_t(rows * 100 + width));
    Buffer a = random_buffer(DType::kF32, {rows, dst_cols}, 7);
    Buffer b = testkit::convert(a.view(), DType::kF32);
    ref::copy_column_blocks(src.view(), {2, src_stride}, a.view(), {1, dst_stride}, blocks,
                            width);
    cpu::copy_column_blocks(src.view(), {2, src_stride}, b.view(), {1, dst_stride}, blocks,
                            width);
    EXPECT_TENSOR_NEAR(b.view(), a.view(), (testkit::Tolerance{0, 0}));
    Buffer sum_ref(DType::kF32, {rows, width}), sum(DType::kF32, {rows, width});
    ref::sum_column_blocks(src.view(), {2, src_stride}, blocks, sum_ref.view());
    cpu::sum_column_blocks(src.view(), {2, src_stride}, blocks, sum.view());
    EXPECT_TENSOR_NEAR(sum.view(), sum_ref.view(), testkit::tolerance<float>());
  }
}

}  // namespace
}  // namespace symphony
