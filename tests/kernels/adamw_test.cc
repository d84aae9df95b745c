#include "kernels/adamw.h"

#include <fmt/format.h>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::element;
using testkit::random_buffer;
using testkit::set_element;

TEST(AdamW, OneElementMatchesHandComputedStep) {
  // Step 2 from m = 0.1, v = 0.01, g = 0.5 scaled by 2:
  //   g' = 1;  m = 0.9*0.1 + 0.1*1 = 0.19;  v = 0.99*0.01 + 0.01*1 = 0.0199
  //   m_hat = 0.19 / (1 - 0.9^2) = 1;  v_hat = 0.0199 / (1 - 0.99^2) = 1
  //   p = 1 - 0.01 * (1 / (1 + 1e-8) + 0.1 * 1) = 0.9890000001 (to 1e-18)
  AdamWStep s{.lr = 0.01,
              .beta1 = 0.9,
              .beta2 = 0.99,
              .eps = 1e-8,
              .weight_decay = 0.1,
              .grad_scale = 2.0,
              .step = 2};
  for (auto [dtype, ex] : {std::pair{DType::kF64, Exec::cpu()}, {DType::kF32, Exec::cpu()},
                           {DType::kF32, Exec::reference()}}) {
    SCOPED_TRACE(fmt::format("{} {}", dtype_name(dtype),
                             ex.impl == KernelImpl::kRef ? "ref" : "fast"));
    const double tol = dtype == DType::kF64 ? 1e-15 : 1e-7;
    Buffer p(dtype, {1}), g(dtype, {1}), m(dtype, {1}), v(dtype, {1});
    set_element(p.view(), 0, 1.0);
    set_element(g.view(), 0, 0.5);
    set_element(m.view(), 0, 0.1);
    set_element(v.view(), 0, 0.01);
    adamw_update(ex, p.view(), g.view(), m.view(), v.view(), s);
    EXPECT_NEAR(element(m.view(), 0), 0.19, tol);
    EXPECT_NEAR(element(v.view(), 0), 0.0199, tol);
    EXPECT_NEAR(element(p.view(), 0), 0.9890000001, tol);
  }
}

TEST(AdamW, CpuMatchesReference) {
  for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{1000}, int64_t{50001}}) {
    SCOPED_TRACE(fmt::format("n={}", n));
    const uint64_t seed = uint64_t(n);
    Buffer p_ref = random_buffer(DType::kF32, {n}, seed);
    Buffer p = testkit::convert(p_ref.view(), DType::kF32);
    Buffer m_ref(DType::kF32, {n}), v_ref(DType::kF32, {n});
    Buffer m(DType::kF32, {n}), v(DType::kF32, {n});
    AdamWStep s{.lr = 1e-2, .weight_decay = 0.1, .grad_scale = 0.7};
    for (int64_t step = 1; step <= 3; ++step) {
      Buffer g = random_buffer(DType::kF32, {n}, seed * 10 + uint64_t(step), -2.0, 2.0);
      s.step = step;
      ref::adamw_update(p_ref.view(), g.view(), m_ref.view(), v_ref.view(), s);
      cpu::adamw_update(p.view(), g.view(), m.view(), v.view(), s);
    }
    EXPECT_TENSOR_NEAR(m.view(), m_ref.view(), testkit::tolerance<float>());
    EXPECT_TENSOR_NEAR(v.view(), v_ref.view(), testkit::tolerance<float>());
    EXPECT_TENSOR_NEAR(p.view(), p_ref.view(), testkit::tolerance<float>());
  }
}

TEST(AdamW, MatrixShapesMatchReference) {
  const int64_t rows = 33, cols = 7;
  Buffer p_ref = random_buffer(DType::kF32, {rows, cols}, 3);
  Buffer p = testkit::convert(p_ref.view(), DType::kF32);
  Buffer g = random_buffer(DType::kF32, {rows, cols}, 4);
  Buffer m_ref = random_buffer(DType::kF32, {rows, cols}, 5, -0.1, 0.1);
  Buffer v_ref = random_buffer(DType::kF32, {rows, cols}, 6, 0.0, 0.01);
  Buffer m = testkit::convert(m_ref.view(), DType::kF32);
  Buffer v = testkit::convert(v_ref.view(), DType::kF32);
  AdamWStep s{.lr = 3e-4, .weight_decay = 0.01, .step = 1000};
  adamw_update(Exec::reference(), p_ref.view(), g.view(), m_ref.view(), v_ref.view(), s);
  adamw_update(Exec::cpu(), p.view(), g.view(), m.view(), v.view(), s);
  EXPECT_TENSOR_NEAR(p.view(), p_ref.view(), testkit::tolerance<float>());
  EXPECT_TENSOR_NEAR(m.view(), m_ref.view(), testkit::tolerance<float>());
  EXPECT_TENSOR_NEAR(v.view(), v_ref.view(), testkit::tolerance<float>());
}

}  // namespace
}  // namespace symphony
