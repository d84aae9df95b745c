#pragma once
// MoE router: softmax over expert logits, then top-k selection.
//   probs[n, :] = softmax(logits[n, :])
//   selection: the K experts with the largest probs[n, e] + bias[e] (bias empty = zeros); ties go
//              to the lower expert index. The bias steers selection only (aux-loss-free
//              balancing); it never enters the weights.
//   weights[n, j] = probs[n, idx[n, j]], divided by their sum when norm = kNormalize.
// backward: given dweights (N, K) and an extra dprobs_extra (N, E) (e.g. from the aux loss;
// empty = zeros), writes dlogits (N, E) through the normalisation and the softmax.
// logits, probs, dlogits, dprobs_extra: (N, E); weights, dweights: (N, K); idx: N*K int32,
// row-major, sorted by descending selection score.

#include <cstdint>
#include <span>

#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

enum class TopkNorm : uint8_t { kNone, kNormalize };

void router_topk_forward(const Exec& ex, ConstView logits, ConstView bias, TopkNorm norm,
                         View probs, std::span<int32_t> idx, View weights);
void router_topk_backward(const Exec& ex, ConstView probs, std::span<const int32_t> idx,
                          TopkNorm norm, ConstView dweights, ConstView dprobs_extra,
                          View dlogits);

namespace ref {
void router_topk_forward(ConstView logits, ConstView bias, TopkNorm norm, View probs,
                         std::span<int32_t> idx, View weights);
void router_topk_backward(ConstView probs, std::span<const int32_t> idx, TopkNorm norm,
                          ConstView dweights, ConstView dprobs_extra, View dlogits);
}  // namespace ref
namespace cpu {
void router_topk_forward(ConstView logits, ConstView bias, TopkNorm norm, View probs,
                         std::span<int32_t> idx, View weights);
void router_topk_backward(ConstView probs, std::span<const int32_t> idx, TopkNorm norm,
                          ConstView dweights, ConstView dprobs_extra, View dlogits);
}  // namespace cpu

}  // namespace symphony
