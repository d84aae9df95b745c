#pragma once
// MoE router: scores from the expert logits, optional group-limited selection, then top-k.
//   scores[n, :] = softmax(logits[n, :])           RouterScoring::kSoftmax
//                = sigmoid(logits[n, e]) each e     RouterScoring::kSigmoid (DeepSeek-V3)
//   choice[n, e] = scores[n, e] + bias[e] (bias empty = zeros). The bias steers selection only
//                  (aux-loss-free balancing); it never enters the weights.
//   groups > 1 (DeepSeek's group-limited routing): the experts form `groups` groups of
//                  E / groups consecutive experts. A group's score is the largest choice score in
//                  it (softmax, DeepSeek-V2) or the sum of its two largest (sigmoid, DeepSeek-V3;
//                  the one score of a one-expert group). Only the experts of the `topk_groups`
//                  best groups may be selected; ties go to the lower group index.
//   selection: the K allowed experts with the largest choice scores; ties go to the lower
//              expert index. idx[n, :] is sorted by descending choice score.
//   weights[n, j] = scale * scores[n, idx[n, j]] / S, where S = sum_j scores[n, idx[n, j]] with
//                   norm = kNormalize and S = 1 with kNone.
// backward: given dweights (N, K) and an extra dscores_extra (N, E) (the balance losses'
// gradient with respect to the scores; empty = zeros), writes dlogits (N, E) through the scale,
// the normalisation and the scoring function. Selection is piecewise constant: no gradient flows
// through the choice of experts or groups.
// logits, scores, dlogits, dscores_extra: (N, E); weights, dweights: (N, K); idx: N*K int32,
// row-major. dlogits may alias dscores_extra.
// REQUIRES (checked): groups divides E, 1 <= topk_groups <= groups, 1 <= K <= topk_groups *
// E / groups, scale > 0.

#include <cstdint>
#include <span>

#include "kernels/router_scoring.h"
#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

enum class TopkNorm : uint8_t { kNone, kNormalize };

struct RouterSpec {
  RouterScoring scoring = RouterScoring::kSoftmax;
  TopkNorm norm = TopkNorm::kNormalize;
  double scale = 1.0;       // routed_scaling_factor
  int64_t groups = 1;       // n_group (1: every expert may be selected)
  int64_t topk_groups = 1;  // topk_group
};

void router_topk_forward(const Exec& ex, ConstView logits, ConstView bias, const RouterSpec& spec,
                         View scores, std::span<int32_t> idx, View weights);
void router_topk_backward(const Exec& ex, ConstView scores, std::span<const int32_t> idx,
                          const RouterSpec& spec, ConstView dweights, ConstView dscores_extra,
                          View dlogits);

namespace ref {
void router_topk_forward(ConstView logits, ConstView bias, const RouterSpec& spec, View scores,
                         std::span<int32_t> idx, View weights);
void router_topk_backward(ConstView scores, std::span<const int32_t> idx, const RouterSpec& spec,
                          ConstView dweights, ConstView dscores_extra, View dlogits);
}  // namespace ref
namespace cpu {
void router_topk_forward(ConstView logits, ConstView bias, const RouterSpec& spec, View scores,
                         std::span<int32_t> idx, View weights);
void router_topk_backward(ConstView scores, std::span<const int32_t> idx, const RouterSpec& spec,
                          ConstView dweights, ConstView dscores_extra, View dlogits);
}  // namespace cpu

}  // namespace symphony
