#include "optim/grad_norm.h"

#include <cmath>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

TEST(GradNorm, MatchesDoubleReference) {
  for (int64_t n : {1, 17, 300001}) {
    Buffer g = testkit::random_buffer(DType::kF32, {n}, uint64_t(n));
    double want = 0;
    for (int64_t i = 0; i < n; ++i) want += double(g.f32()[i]) * double(g.f32()[i]);
    EXPECT_NEAR(grad_norm_local(g.view()), std::sqrt(want), 1e-6 * std::sqrt(want)) << n;
  }
}

TEST(GradNorm, ClipFactor) {
  EXPECT_DOUBLE_EQ(grad_clip_factor(4.0, 1.0), 0.25);
  EXPECT_DOUBLE_EQ(grad_clip_factor(0.5, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(grad_clip_factor(4.0, 0.0), 1.0);  // clipping off
  EXPECT_DOUBLE_EQ(grad_clip_factor(0.0, 1.0), 1.0);
}

}  // namespace
}  // namespace symphony
