#pragma once
// Token embedding lookup and its gradient.
//   forward:  out[n, :] = table[tokens[n], :]
//   backward: dtable[tokens[n], :] += dout[n, :]   (accumulates; rows shared by several tokens
//             are summed in token order, so the result is deterministic)
// table, dtable: (V, D); out, dout: (N, D); tokens: N ids in [0, V).

#include <cstdint>
#include <span>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

void embedding_forward(const Exec& ex, ConstView table, std::span<const int32_t> tokens, View out);
void embedding_backward(const Exec& ex, std::span<const int32_t> tokens, ConstView dout,
                        View dtable);

namespace ref {
void embedding_forward(ConstView table, std::span<const int32_t> tokens, View out);
void embedding_backward(std::span<const int32_t> tokens, ConstView dout, View dtable);
}  // namespace ref
namespace cpu {
void embedding_forward(ConstView table, std::span<const int32_t> tokens, View out);
void embedding_backward(std::span<const int32_t> tokens, ConstView dout, View dtable);
}  // namespace cpu

}  // namespace symphony
