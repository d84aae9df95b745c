#include "kernels/swiglu.h"

#include <fmt/format.h>

#include <cmath>

#include "kernels/swiglu_math.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

struct Dims2 {
  int64_t rows, cols;
};

TEST(SwiGlu, MathMatchesHandValues) {
  EXPECT_EQ(silu(0.0), 0.0);
  EXPECT_NEAR(silu(1.0), 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  EXPECT_NEAR(silu(-2.0), -2.0 / (1.0 + std::exp(2.0)), 1e-15);
  EXPECT_NEAR(silu_grad(0.0), 0.5, 1e-15);
  // sigmoid(1) * (1 + 1 * (1 - sigmoid(1)))
  const double s1 = 1.0 / (1.0 + std::exp(-1.0));
  EXPECT_NEAR(silu_grad(1.0), s1 * (2.0 - s1), 1e-15);
  // Saturation: no NaN where exp overflows.
  for (float g : {-1000.f, -100.f, 100.f, 1000.f}) {
    EXPECT_TRUE(std::isfinite(silu(g))) << g;
    EXPECT_TRUE(std::isfinite(silu_grad(g))) << g;
  }
  EXPECT_EQ(silu(-1000.f), 0.f);
  EXPECT_EQ(silu(1000.f), 1000.f);
  EXPECT_EQ(silu_grad(1000.f), 1.f);
}

TEST(SwiGlu, CpuMatchesReference) {
  for (auto [rows, cols] : {Dims2{1, 1}, {3, 17}, {5, 33}, {64, 1000}}) {
    SCOPED_TRACE(fmt::format("rows={} cols={}", rows, cols));
    const uint64_t seed = uint64_t(rows * 1000 + cols);
    Buffer gate = random_buffer(DType::kF32, {rows, cols}, seed, -12.0, 12.0);
    Buffer up = random_buffer(DType::kF32, {rows, cols}, seed + 1, -3.0, 3.0);
    Buffer dh = random_buffer(DType::kF32, {rows, cols}, seed + 2);
    Buffer h_ref(DType::kF32, {rows, cols}), h(DType::kF32, {rows, cols});
    ref::swiglu_forward(gate.view(), up.view(), h_ref.view());
    cpu::swiglu_forward(gate.view(), up.view(), h.view());
    EXPECT_TENSOR_NEAR(h.view(), h_ref.view(), testkit::tolerance<float>());

    Buffer dg_ref(DType::kF32, {rows, cols}), du_ref(DType::kF32, {rows, cols});
    Buffer dg(DType::kF32, {rows, cols}), du(DType::kF32, {rows, cols});
    ref::swiglu_backward(gate.view(), up.view(), dh.view(), dg_ref.view(), du_ref.view());
    cpu::swiglu_backward(gate.view(), up.view(), dh.view(), dg.view(), du.view());
    EXPECT_TENSOR_NEAR(dg.view(), dg_ref.view(), testkit::tolerance<float>());
    EXPECT_TENSOR_NEAR(du.view(), du_ref.view(), testkit::tolerance<float>());
  }
}

TEST(SwiGlu, BackwardMayOverwriteItsInputs) {
  const int64_t rows = 7, cols = 19;
  Buffer gate = random_buffer(DType::kF32, {rows, cols}, 31, -4.0, 4.0);
  Buffer up = random_buffer(DType::kF32, {rows, cols}, 32);
  Buffer dh = random_buffer(DType::kF32, {rows, cols}, 33);
  Buffer dg_want(DType::kF32, {rows, cols}), du_want(DType::kF32, {rows, cols});
  swiglu_backward(Exec::cpu(), gate.view(), up.view(), dh.view(), dg_want.view(), du_want.view());
  for (Exec ex : {Exec::cpu(), Exec::reference()}) {
    Buffer g = testkit::convert(gate.view(), DType::kF32);
    Buffer u = testkit::convert(up.view(), DType::kF32);
    swiglu_backward(ex, g.view(), u.view(), dh.view(), g.view(), u.view());
    EXPECT_TENSOR_NEAR(g.view(), dg_want.view(), testkit::tolerance<float>());
    EXPECT_TENSOR_NEAR(u.view(), du_want.view(), testkit::tolerance<float>());
  }
}

TEST(SwiGlu, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 3, cols = 5;
  Buffer gate = random_buffer(DType::kF64, {rows, cols}, 41, -4.0, 4.0);
  Buffer up = random_buffer(DType::kF64, {rows, cols}, 42);
  Buffer dh = random_buffer(DType::kF64, {rows, cols}, 43);
  Buffer h(DType::kF64, {rows, cols});
  auto loss = [&] {  // L = sum(h * dh)
    swiglu_forward(Exec::cpu(), gate.view(), up.view(), h.view());
    double l = 0;
    for (int64_t i = 0; i < h.numel(); ++i) l += h.data<double>()[i] * dh.data<double>()[i];
    return l;
  };
  Buffer dgate(DType::kF64, {rows, cols}), dup(DType::kF64, {rows, cols});
  swiglu_backward(Exec::cpu(), gate.view(), up.view(), dh.view(), dgate.view(), dup.view());
  const double step = 1e-6;
  for (auto [param, grad] : {std::pair{&gate, &dgate}, std::pair{&up, &dup}}) {
    for (int64_t i = 0; i < param->numel(); ++i) {
      const double saved = param->data<double>()[i];
      param->data<double>()[i] = saved + step;
      const double plus = loss();
      param->data<double>()[i] = saved - step;
      const double minus = loss();
      param->data<double>()[i] = saved;
      EXPECT_NEAR(grad->data<double>()[i], (plus - minus) / (2 * step), 1e-8) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace symphony
