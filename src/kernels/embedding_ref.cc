#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/embedding.h"

namespace symphony::ref {
namespace {

template <typename T>
void forward(ConstView table_v, std::span<const int32_t> tokens, View out_v) {
  const int64_t cols = table_v.dim(1);
  const T* table = table_v.data<T>();
  T* out = out_v.data<T>();
  for (size_t n = 0; n < tokens.size(); ++n)
    for (int64_t c = 0; c < cols; ++c) out[int64_t(n) * cols + c] = table[tokens[n] * cols + c];
}

// Groups positions by token (a stable sort keeps token order within a group) and sums each
// group in double before one addition into dtable, so the reference rounds once per element.
template <typename T>
void backward(std::span<const int32_t> tokens, ConstView dout_v, View dtable_v) {
  const int64_t cols = dtable_v.dim(1);
  const T* dout = dout_v.data<T>();
  T* dtable = dtable_v.data<T>();
  std::vector<int64_t> order(tokens.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return tokens[a] < tokens[b]; });
  std::vector<double> acc(cols);
  for (size_t begin = 0; begin < order.size();) {
    const int32_t token = tokens[order[begin]];
    T* row = dtable + token * cols;
    for (int64_t c = 0; c < cols; ++c) acc[c] = row[c];
    size_t end = begin;
    for (; end < order.size() && tokens[order[end]] == token; ++end)
      for (int64_t c = 0; c < cols; ++c) acc[c] += double(dout[order[end] * cols + c]);
    for (int64_t c = 0; c < cols; ++c) row[c] = T(acc[c]);
    begin = end;
  }
}

}  // namespace

void embedding_forward(ConstView table, std::span<const int32_t> tokens, View out) {
  if (table.dtype() == DType::kF64) return forward<double>(table, tokens, out);
  forward<float>(table, tokens, out);
}

void embedding_backward(std::span<const int32_t> tokens, ConstView dout, View dtable) {
  if (dtable.dtype() == DType::kF64) return backward<double>(tokens, dout, dtable);
  backward<float>(tokens, dout, dtable);
}

}  // namespace symphony::ref
