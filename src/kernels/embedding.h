#pragma once
// Token embedding lookup and its gradient, over the whole vocabulary or over one block of it
// (vocabulary-parallel tensor parallelism: each rank holds rows [first, first + rows) of the
// table, and the lookups of all blocks sum to the whole-table lookup).
//   forward:  out[n, :] = table[tokens[n] - first, :]  if tokens[n] is in the block,
//             zeros                                   otherwise
//   backward: dtable[tokens[n] - first, :] += dout[n, :]  for tokens in the block; the others
//             add nothing (accumulates; rows shared by several tokens are summed in token order,
//             so the result is deterministic)
// table, dtable: (rows, D), the vocabulary rows [first, first + rows); out, dout: (N, D);
// tokens: N ids >= 0 (the dispatcher checks). With first = 0 and ids in [0, rows) this is the
// plain lookup.

#include <cstdint>
#include <span>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

void embedding_forward(const Exec& ex, ConstView table, std::span<const int32_t> tokens, View out,
                       int64_t first = 0);
void embedding_backward(const Exec& ex, std::span<const int32_t> tokens, ConstView dout,
                        View dtable, int64_t first = 0);

namespace ref {
void embedding_forward(ConstView table, std::span<const int32_t> tokens, View out,
                       int64_t first = 0);
void embedding_backward(std::span<const int32_t> tokens, ConstView dout, View dtable,
                        int64_t first = 0);
}  // namespace ref
namespace cpu {
void embedding_forward(ConstView table, std::span<const int32_t> tokens, View out,
                       int64_t first = 0);
void embedding_backward(std::span<const int32_t> tokens, ConstView dout, View dtable,
                        int64_t first = 0);
}  // namespace cpu

}  // namespace symphony
