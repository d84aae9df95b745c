#include <algorithm>
#include <vector>

#include "kernels/embedding.h"

namespace symphony::ref {
namespace {

template <typename T>
void forward(ConstView table_v, std::span<const int32_t> tokens, View out_v, int64_t first) {
  const int64_t rows = table_v.dim(0), cols = table_v.dim(1);
  const T* table = table_v.data<T>();
  T* out = out_v.data<T>();
  for (size_t n = 0; n < tokens.size(); ++n) {
    const int64_t row = tokens[n] - first;
    const bool inside = row >= 0 && row < rows;
    for (int64_t c = 0; c < cols; ++c)
      out[int64_t(n) * cols + c] = inside ? table[row * cols + c] : T(0);
  }
}

// Groups the positions of tokens inside the block by token (a stable sort keeps token order
// within a group) and sums each group in double before one addition into dtable, so the
// reference rounds once per element.
template <typename T>
void backward(std::span<const int32_t> tokens, ConstView dout_v, View dtable_v, int64_t first) {
  const int64_t rows = dtable_v.dim(0), cols = dtable_v.dim(1);
  const T* dout = dout_v.data<T>();
  T* dtable = dtable_v.data<T>();
  std::vector<int64_t> order;
  for (size_t n = 0; n < tokens.size(); ++n)
    if (tokens[n] - first >= 0 && tokens[n] - first < rows) order.push_back(int64_t(n));
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return tokens[a] < tokens[b]; });
  std::vector<double> acc(cols);
  for (size_t begin = 0; begin < order.size();) {
    const int32_t token = tokens[order[begin]];
    T* row = dtable + (token - first) * cols;
    for (int64_t c = 0; c < cols; ++c) acc[c] = row[c];
    size_t end = begin;
    for (; end < order.size() && tokens[order[end]] == token; ++end)
      for (int64_t c = 0; c < cols; ++c) acc[c] += double(dout[order[end] * cols + c]);
    for (int64_t c = 0; c < cols; ++c) row[c] = T(acc[c]);
    begin = end;
  }
}

}  // namespace

void embedding_forward(ConstView table, std::span<const int32_t> tokens, View out, int64_t first) {
  if (table.dtype() == DType::kF64) return forward<double>(table, tokens, out, first);
  forward<float>(table, tokens, out, first);
}

void embedding_backward(std::span<const int32_t> tokens, ConstView dout, View dtable,
                        int64_t first) {
  if (dtable.dtype() == DType::kF64) return backward<double>(tokens, dout, dtable, first);
  backward<float>(tokens, dout, dtable, first);
}

}  // namespace symphony::ref
