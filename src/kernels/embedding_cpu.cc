#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "core/simd.h"
#include "kernels/embedding.h"

namespace symphony::cpu {
namespace {

SYM_VECTORIZED void copy_row(float* dst, const float* src, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

SYM_VECTORIZED void zero_row(float* dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = 0.f;
}

SYM_VECTORIZED void add_row(float* dst, const float* src, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Column blocks are multiples of 16 floats (one 64-byte line) so that threads never write the
// same cache line of dtable.
constexpr int64_t kColumnAlign = 16;

// One unsigned comparison tells whether id - first lies in [0, block): ids below the block wrap
// to large values.
inline bool in_block(int64_t row, int64_t block) { return uint64_t(row) < uint64_t(block); }

}  // namespace

void embedding_forward(ConstView table_v, std::span<const int32_t> tokens, View out_v,
                       int64_t first) {
  const int64_t rows = int64_t(tokens.size()), block = table_v.dim(0), cols = table_v.dim(1);
  const float* table = table_v.f32();
  float* out = out_v.f32();
  const int32_t* ids = tokens.data();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < rows; ++n) {
    const int64_t row = ids[n] - first;
    if (in_block(row, block))
      copy_row(out + n * cols, table + row * cols, cols);
    else
      zero_row(out + n * cols, cols);
  }
}

// Threads split the columns, and each walks every token in order over its own columns: an
// element of dtable receives its additions in token order whatever the thread count, so the
// result is bitwise reproducible, and no two threads ever write the same element. Tokens outside
// the block are skipped by every thread alike.
void embedding_backward(std::span<const int32_t> tokens, ConstView dout_v, View dtable_v,
                        int64_t first) {
  const int64_t rows = int64_t(tokens.size()), block = dtable_v.dim(0), cols = dtable_v.dim(1);
  const float* dout = dout_v.f32();
  float* dtable = dtable_v.f32();
  const int32_t* ids = tokens.data();
  const int64_t lines = (cols + kColumnAlign - 1) / kColumnAlign;
  const int64_t blocks = std::min<int64_t>(omp_get_max_threads(), lines);
#pragma omp parallel for schedule(static, 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = std::min(cols, lines * b / blocks * kColumnAlign);
    const int64_t end = std::min(cols, lines * (b + 1) / blocks * kColumnAlign);
    for (int64_t n = 0; n < rows; ++n) {
      const int64_t row = ids[n] - first;
      if (in_block(row, block))
        add_row(dtable + row * cols + begin, dout + n * cols + begin, end - begin);
    }
  }
}

}  // namespace symphony::cpu
