#include "kernels/moe_permute.h"

namespace symphony::ref {
namespace {

template <typename T>
void gather(ConstView xv, std::span<const int32_t> token_of_row, View xgv) {
  const int64_t d = xv.dim(1);
  for (size_t r = 0; r < token_of_row.size(); ++r)
    for (int64_t c = 0; c < d; ++c)
      xgv.data<T>()[int64_t(r) * d + c] = xv.data<T>()[token_of_row[r] * d + c];
}

template <typename T>
void combine(ConstView ygv, ConstView wv, std::span<const int32_t> row_of_slot, View yv) {
  const int64_t n = yv.dim(0), d = yv.dim(1), k = wv.dim(1);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < d; ++c) {
      double acc = 0;
      for (int64_t j = 0; j < k; ++j) {
        int32_t row = row_of_slot[size_t(t * k + j)];
        if (row >= 0) acc += double(wv.data<T>()[t * k + j]) * double(ygv.data<T>()[row * d + c]);
      }
      yv.data<T>()[t * d + c] = T(acc);
    }
}

template <typename T>
void combine_backward(ConstView dyv, ConstView ygv, ConstView wv,
                      std::span<const int32_t> row_of_slot, View dwv, View dygv) {
  const int64_t n = dyv.dim(0), d = dyv.dim(1), k = wv.dim(1);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) {
      int32_t row = row_of_slot[size_t(t * k + j)];
      double dot = 0;
      if (row >= 0) {
        for (int64_t c = 0; c < d; ++c)
          dot += double(dyv.data<T>()[t * d + c]) * double(ygv.data<T>()[row * d + c]);
        double w = wv.data<T>()[t * k + j];
        for (int64_t c = 0; c < d; ++c)
          dygv.data<T>()[row * d + c] = T(w * double(dyv.data<T>()[t * d + c]));
      }
      dwv.data<T>()[t * k + j] = T(dot);
    }
}

template <typename T>
void scatter_add(ConstView dxgv, std::span<const int32_t> row_of_slot, View dxv) {
  const int64_t n = dxv.dim(0), d = dxv.dim(1), k = int64_t(row_of_slot.size()) / n;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) {
      int32_t row = row_of_slot[size_t(t * k + j)];
      if (row < 0) continue;
      for (int64_t c = 0; c < d; ++c)
        dxv.data<T>()[t * d + c] =
            T(double(dxv.data<T>()[t * d + c]) + double(dxgv.data<T>()[row * d + c]));
    }
}

}  // namespace

void moe_gather(ConstView x, std::span<const int32_t> token_of_row, View xg) {
  if (x.dtype() == DType::kF64) return gather<double>(x, token_of_row, xg);
  gather<float>(x, token_of_row, xg);
}
void moe_combine(ConstView yg, ConstView w, std::span<const int32_t> row_of_slot, View y) {
  if (y.dtype() == DType::kF64) return combine<double>(yg, w, row_of_slot, y);
  combine<float>(yg, w, row_of_slot, y);
}
void moe_combine_backward(ConstView dy, ConstView yg, ConstView w,
                          std::span<const int32_t> row_of_slot, View dw, View dyg) {
  if (dy.dtype() == DType::kF64) return combine_backward<double>(dy, yg, w, row_of_slot, dw, dyg);
  combine_backward<float>(dy, yg, w, row_of_slot, dw, dyg);
}
void moe_scatter_add(ConstView dxg, std::span<const int32_t> row_of_slot, View dx) {
  if (dx.dtype() == DType::kF64) return scatter_add<double>(dxg, row_of_slot, dx);
  scatter_add<float>(dxg, row_of_slot, dx);
}

}  // namespace symphony::ref
