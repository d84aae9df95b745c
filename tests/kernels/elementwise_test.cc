#include "kernels/elementwise.h"

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

TEST(Elementwise, CpuMatchesReference) {
  for (int64_t n : {1, 17, 100003}) {
    SCOPED_TRACE(n);
    Buffer a = testkit::random_buffer(DType::kF32, {n}, 1);
    Buffer b = testkit::random_buffer(DType::kF32, {n}, 2);
    Buffer out(DType::kF32, {n}), out_ref(DType::kF32, {n});
    cpu::add(a.view(), b.view(), out.view());
    ref::add(a.view(), b.view(), out_ref.view());
    EXPECT_TENSOR_NEAR(out.view(), out_ref.view(), testkit::tolerance<float>());
    cpu::axpy(0.25, a.view(), out.view());
    ref::axpy(0.25, a.view(), out_ref.view());
    EXPECT_TENSOR_NEAR(out.view(), out_ref.view(), testkit::tolerance<float>());
  }
}

TEST(Elementwise, ReferenceValues) {
  Buffer a(DType::kF64, {2}), b(DType::kF64, {2});
  a.data<double>()[0] = 1, a.data<double>()[1] = 2, b.data<double>()[0] = 10,
  b.data<double>()[1] = 20;
  ref::axpy(0.5, b.view(), a.view());
  EXPECT_EQ(a.data<double>()[0], 6);
  EXPECT_EQ(a.data<double>()[1], 12);
}

}  // namespace
}  // namespace symphony
