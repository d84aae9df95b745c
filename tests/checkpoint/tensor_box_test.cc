// TensorBox: box_runs and box_element_index against a reference that walks every element of the
// box by its coordinates, on hand-checked examples and on random boxes of 1 to 4 dims.
#include "checkpoint/tensor_box.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace symphony {
namespace {

using Dims = std::vector<int64_t>;

// The tensor element of every box element, in the box's row-major order, by walking the box's
// coordinates (last dim fastest) and summing coordinate times stride.
std::vector<int64_t> reference_indices(const Dims& tensor, const TensorBox& box) {
  const size_t n = tensor.size();
  Dims stride(n, 1);
  for (size_t d = n; d-- > 1;) stride[d - 1] = stride[d] * tensor[d];
  std::vector<int64_t> out;
  if (box.numel() == 0) return out;
  Dims coord(n, 0);
  while (true) {
    int64_t index = 0;
    for (size_t d = 0; d < n; ++d) index += (box.offset[d] + coord[d]) * stride[d];
    out.push_back(index);
    size_t d = n;
    while (d > 0 && ++coord[d - 1] == box.shape[d - 1]) coord[--d] = 0;
    if (d == 0) break;
  }
  return out;
}

// Box elements [begin, end) as maximal runs, built element by element from the reference.
std::vector<BoxRun> reference_runs(const Dims& tensor, const TensorBox& box, int64_t begin,
                                   int64_t end) {
  const std::vector<int64_t> index = reference_indices(tensor, box);
  std::vector<BoxRun> runs;
  for (int64_t i = begin; i < end; ++i) {
    if (!runs.empty() && runs.back().end == index[size_t(i)]) {
      ++runs.back().end;
    } else {
      runs.push_back({index[size_t(i)], index[size_t(i)] + 1, i});
    }
  }
  return runs;
}

std::string describe(const std::vector<BoxRun>& runs) {
  std::string s;
  for (const BoxRun& r : runs) s += fmt::format("[{}, {}) at {}; ", r.begin, r.end, r.box_begin);
  return s;
}

TEST(TensorBox, HeaderExample) {
  const Dims tensor = {4, 6};
  const TensorBox box{{1, 2}, {2, 3}};
  const std::vector<BoxRun> want = {{9, 11, 1}, {14, 16, 3}};
  EXPECT_EQ(box_runs(tensor, box, 1, 5), want) << describe(box_runs(tensor, box, 1, 5));
  EXPECT_EQ(box_element_index(tensor, box, 0), 8);
  EXPECT_EQ(box_element_index(tensor, box, 5), 16);
}

TEST(TensorBox, BlocksAlongDimZeroAreOneRunAlongDimOneARunPerRow) {
  const Dims experts = {8, 4, 6};  // (E, F, D)
  // Experts 2..3 (ep 4, rank 1): one run of the tensor, whatever stretch of the box.
  EXPECT_EQ(box_runs(experts, {{2, 0, 0}, {2, 4, 6}}, 0, 48), (std::vector<BoxRun>{{48, 96, 0}}));
  EXPECT_EQ(box_runs(experts, {{2, 0, 0}, {2, 4, 6}}, 5, 30), (std::vector<BoxRun>{{53, 78, 5}}));
  // F cut in two (a dim-1 block): one run per expert.
  const std::vector<BoxRun> dim1 = box_runs(experts, {{0, 2, 0}, {8, 2, 6}}, 0, 96);
  ASSERT_EQ(dim1.size(), 8u);
  for (int64_t e = 0; e < 8; ++e)
    EXPECT_EQ(dim1[size_t(e)], (BoxRun{e * 24 + 12, e * 24 + 24, e * 12}));
  // The whole tensor, and an empty stretch.
  EXPECT_EQ(box_runs(experts, TensorBox::whole(experts), 7, 100),
            (std::vector<BoxRun>{{7, 100, 7}}));
  EXPECT_TRUE(box_runs(experts, TensorBox::whole(experts), 3, 3).empty());
  // A scalar.
  EXPECT_EQ(box_runs({}, TensorBox::whole({}), 0, 1), (std::vector<BoxRun>{{0, 1, 0}}));
  EXPECT_EQ(box_element_index({}, TensorBox::whole({}), 0), 0);
}

TEST(TensorBox, RandomBoxesMatchTheReference) {
  std::mt19937_64 rng(20240611);
  auto uniform = [&](int64_t lo, int64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t ndim = size_t(uniform(1, 4));
    Dims tensor(ndim);
    TensorBox box{Dims(ndim), Dims(ndim)};
    for (size_t d = 0; d < ndim; ++d) {
      tensor[d] = uniform(1, 5);
      box.shape[d] = uniform(1, tensor[d]);
      box.offset[d] = uniform(0, tensor[d] - box.shape[d]);
      // Often the whole dim, so that runs span several dims.
      if (uniform(0, 2) == 0) box.offset[d] = 0, box.shape[d] = tensor[d];
    }
    const int64_t n = box.numel();
    const int64_t begin = uniform(0, n), end = uniform(begin, n);
    SCOPED_TRACE(fmt::format("tensor [{}] box {} elements [{}, {})", fmt::join(tensor, ", "),
                             box.describe(), begin, end));
    ASSERT_TRUE(box_inside(tensor, box));
    const std::vector<BoxRun> got = box_runs(tensor, box, begin, end);
    const std::vector<BoxRun> want = reference_runs(tensor, box, begin, end);
    ASSERT_EQ(got, want) << "got " << describe(got) << "\nwant " << describe(want);
    const std::vector<int64_t> index = reference_indices(tensor, box);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(box_element_index(tensor, box, i), index[size_t(i)]);
  }
}

TEST(TensorBox, InsideChecksEveryDimWithoutOverflow) {
  const Dims tensor = {4, 6};
  EXPECT_TRUE(box_inside(tensor, {{0, 0}, {4, 6}}));
  EXPECT_TRUE(box_inside(tensor, {{3, 5}, {1, 1}}));
  EXPECT_TRUE(box_inside(tensor, {{4, 6}, {0, 0}}));  // empty, at the end
  EXPECT_FALSE(box_inside(tensor, {{0, 4}, {4, 3}}));
  EXPECT_FALSE(box_inside(tensor, {{-1, 0}, {2, 2}}));
  EXPECT_FALSE(box_inside(tensor, {{0, 0}, {5, 1}}));
  EXPECT_FALSE(box_inside(tensor, {{0, 0}, {-1, 1}}));
  EXPECT_FALSE(box_inside(tensor, {{0}, {4}}));  // another number of dims
  EXPECT_FALSE(box_inside(tensor, {{0, 0, 0}, {4, 6, 1}}));
  const int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(box_inside(tensor, {{big, 0}, {4, 6}}));
  EXPECT_FALSE(box_inside(tensor, {{2, 0}, {big, 6}}));
  EXPECT_TRUE(box_inside({}, TensorBox::whole({})));
}

TEST(TensorBox, IntersectOnlyWhenSharingAnElement) {
  EXPECT_TRUE(boxes_intersect({{0, 0}, {4, 3}}, {{0, 2}, {4, 3}}));
  EXPECT_FALSE(boxes_intersect({{0, 0}, {4, 3}}, {{0, 3}, {4, 3}}));  // side by side
  EXPECT_FALSE(boxes_intersect({{0, 0}, {2, 6}}, {{2, 0}, {2, 6}}));
  EXPECT_FALSE(boxes_intersect({{0, 0}, {2, 3}}, {{2, 3}, {2, 3}}));  // corner to corner
  EXPECT_TRUE(boxes_intersect({{1, 1}, {2, 2}}, {{2, 2}, {2, 2}}));
  EXPECT_FALSE(boxes_intersect({{1, 1}, {0, 2}}, {{0, 0}, {4, 6}}));  // empty
  EXPECT_TRUE(boxes_intersect(TensorBox::whole({}), TensorBox::whole({})));
}

}  // namespace
}  // namespace symphony
