#include <vector>

#include "kernels/bf16_convert.h"
#include "kernels/gemm.h"

namespace symphony::ref {
namespace {

template <typename T>
void gemm_typed(Trans trans_a, Trans trans_b, double alpha, ConstView av, ConstView bv, double beta,
                View cv) {
  const int64_t m = cv.dim(0), n = cv.dim(1);
  const int64_t k = trans_a == Trans::kNo ? av.dim(1) : av.dim(0);
  const int64_t lda = av.dim(1), ldb = bv.dim(1);
  const T* a = av.data<T>();
  const T* b = bv.data<T>();
  T* c = cv.data<T>();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        double x = trans_a == Trans::kNo ? a[i * lda + p] : a[p * lda + i];
        double y = trans_b == Trans::kNo ? b[p * ldb + j] : b[j * ldb + p];
        acc += x * y;
      }
      double prior = beta == 0.0 ? 0.0 : beta * double(c[i * n + j]);
      c[i * n + j] = T(alpha * acc + prior);
    }
  }
}

}  // namespace

void gemm(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
          View c) {
  if (a.dtype() == DType::kF64) return gemm_typed<double>(trans_a, trans_b, alpha, a, b, beta, c);
  gemm_typed<float>(trans_a, trans_b, alpha, a, b, beta, c);
}

void gemm_bf16(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
               View c) {
  SYM_CHECK(a.dtype() == DType::kF32 && b.dtype() == DType::kF32 && c.dtype() == DType::kF32,
            "gemm_bf16 takes fp32 views");
  std::vector<float> a_bf16(size_t(a.numel())), b_bf16(size_t(b.numel()));
  bf16_round_f32({a.f32(), a_bf16.size()}, a_bf16);
  bf16_round_f32({b.f32(), b_bf16.size()}, b_bf16);
  gemm_typed<float>(trans_a, trans_b, alpha, ConstView(a_bf16.data(), DType::kF32, a.shape()),
                    ConstView(b_bf16.data(), DType::kF32, b.shape()), beta, c);
}

}  // namespace symphony::ref
