#include "kernels/rmsnorm.h"

#include <cstring>

#include <fmt/format.h>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

struct Dims2 {
  int64_t rows, cols;
};

TEST(RmsNorm, CpuMatchesReference) {
  for (auto [rows, cols] : {Dims2{1, 1}, {3, 17}, {64, 512}, {7, 1000}}) {
    SCOPED_TRACE(fmt::format("rows={} cols={}", rows, cols));
    uint64_t seed = uint64_t(rows * 1000 + cols);
    Buffer x = random_buffer(DType::kF32, {rows, cols}, seed);
    Buffer w = random_buffer(DType::kF32, {cols}, seed + 1, 0.5, 1.5);
    Buffer dy = random_buffer(DType::kF32, {rows, cols}, seed + 2);
    Buffer y_ref(DType::kF32, {rows, cols}), inv_ref(DType::kF32, {rows});
    Buffer y(DType::kF32, {rows, cols}), inv(DType::kF32, {rows});
    ref::rmsnorm_forward(x.view(), w.view(), 1e-6, y_ref.view(), inv_ref.view());
    cpu::rmsnorm_forward(x.view(), w.view(), 1e-6, y.view(), inv.view());
    EXPECT_TENSOR_NEAR(y.view(), y_ref.view(), testkit::tolerance<float>());
    EXPECT_TENSOR_NEAR(inv.view(), inv_ref.view(), testkit::tolerance<float>());

    Buffer dx_ref(DType::kF32, {rows, cols}), dw_ref(DType::kF32, {cols});
    Buffer dx(DType::kF32, {rows, cols}), dw(DType::kF32, {cols});
    ref::rmsnorm_backward(x.view(), w.view(), inv_ref.view(), dy.view(), dx_ref.view(),
                          dw_ref.view());
    cpu::rmsnorm_backward(x.view(), w.view(), inv.view(), dy.view(), dx.view(), dw.view());
    EXPECT_TENSOR_NEAR(dx.view(), dx_ref.view(), (testkit::Tolerance{1e-5, 1e-3}));
    EXPECT_TENSOR_NEAR(dw.view(), dw_ref.view(), (testkit::Tolerance{1e-4, 1e-3}));
  }
}

// Callers that keep x and inv_rms instead of y (bf16-saved activations) get forward's y back
// bitwise, from every implementation and dtype.
TEST(RmsNorm, ApplyGivesForwardsValuesBitwise) {
  for (DType dtype : {DType::kF32, DType::kF64})
    for (Exec ex : {Exec::cpu(), Exec::reference()}) {
      for (auto [rows, cols] : {Dims2{1, 1}, {5, 17}, {33, 512}}) {
        SCOPED_TRACE(fmt::format("rows={} cols={} f64={} ref={}", rows, cols,
                                 dtype == DType::kF64, ex.impl == KernelImpl::kRef));
        Buffer x = random_buffer(dtype, {rows, cols}, uint64_t(rows + cols));
        Buffer w = random_buffer(dtype, {cols}, 7, 0.5, 1.5);
        Buffer y(dtype, {rows, cols}), inv(dtype, {rows}), again(dtype, {rows, cols});
        rmsnorm_forward(ex, x.view(), w.view(), 1e-6, y.view(), inv.view());
        rmsnorm_apply(ex, x.view(), w.view(), inv.view(), again.view());
        EXPECT_EQ(std::memcmp(y.view().raw(), again.view().raw(),
                              size_t(y.numel() * dtype_bytes(dtype))), 0);
      }
    }
}

TEST(RmsNorm, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 3, cols = 5;
  Buffer x = random_buffer(DType::kF64, {rows, cols}, 11);
  Buffer w = random_buffer(DType::kF64, {cols}, 12, 0.5, 1.5);
  Buffer dy = random_buffer(DType::kF64, {rows, cols}, 13);
  Buffer y(DType::kF64, {rows, cols}), inv(DType::kF64, {rows});
  auto loss = [&] {  // L = sum(y * dy)
    ref::rmsnorm_forward(x.view(), w.view(), 1e-6, y.view(), inv.view());
    double l = 0;
    for (int64_t i = 0; i < y.numel(); ++i) l += y.data<double>()[i] * dy.data<double>()[i];
    return l;
  };
  loss();
  Buffer dx(DType::kF64, {rows, cols}), dw(DType::kF64, {cols});
  ref::rmsnorm_backward(x.view(), w.view(), inv.view(), dy.view(), dx.view(), dw.view());
  const double h = 1e-6;
  for (auto [param, grad] : {std::pair{&x, &dx}, std::pair{&w, &dw}}) {
    for (int64_t i = 0; i < param->numel(); ++i) {
      double saved = param->data<double>()[i];
      param->data<double>()[i] = saved + h;
      double up = loss();
      param->data<double>()[i] = saved - h;
      double down = loss();
      param->data<double>()[i] = saved;
      EXPECT_NEAR(grad->data<double>()[i], (up - down) / (2 * h), 1e-7) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace symphony
