#pragma once
// Router load-balancing terms, each switchable by its coefficient (model/model_config.h). They
// see the router's balance probabilities p: the scores of a softmax router, and for a sigmoid
// router each row's scores divided by their sum (DeepSeek-V3's s'_{i,t}).
//  - Switch/GShard auxiliary loss:  L_aux = coef * E * sum_e f_e * P_e, where
//    f_e = (assignments routed to e) / (N*K) and P_e = mean_n p[n, e].
//    f is treated as a constant (it is a count), so dL/dp[n, e] = coef * E * f_e / N.
//  - DeepSeek-V3's sequence-wise balance loss over the B sequences of T rows of a micro-batch
//    (row n is token n % T of sequence n / T):
//      L_seq = coef / B * sum_b sum_e f_{b,e} * P_{b,e},
//      f_{b,e} = E / (K*T) * (rows of sequence b that selected e),  P_{b,e} = mean over the
//      rows of sequence b of p[n, e];  dL/dp[n, e] = coef * f_{b(n),e} / (B*T).
//  - Router z-loss (ST-MoE):  L_z = coef * mean_n logsumexp(logits[n, :])^2,
//    dL/dlogits[n, e] = coef * 2 * lse_n * softmax(logits[n])_e / N, whatever the scoring.
//  - Auxiliary-loss-free balancing (DeepSeek-V3): bias_e += rate * sign(mean load - load_e)
//    after each optimizer step; the bias changes only which experts are selected.

#include <cstdint>
#include <span>

#include "kernels/router_scoring.h"
#include "tensor/view.h"

namespace symphony {

// L_aux in two halves, so a micro-batch whose rows are spread over ranks (tensor parallelism
// routes each rank's share) gets one process's value: per-expert sums of p over some rows
// (added in row order), then, given the sums and the routed counts over all `total_rows` rows,
// L_aux, with dprobs = scale * dL_aux/dp written for the rows of `dprobs` (overwritten;
// zeros when coef is 0). `scores`: (rows, E), the router's scores.
void router_prob_sums(ConstView scores, RouterScoring scoring, std::span<double> sums);
double aux_loss_from_sums(std::span<const double> prob_sums, std::span<const int64_t> routed,
                          int64_t total_rows, int64_t top_k, double coef, double scale,
                          View dprobs);

// L_seq in the same two halves. This share's rows are rows [row_offset, row_offset + rows) of
// the micro-batch. seq_balance_sums overwrites `sums` (B*2E: for each sequence b, the sums of p
// over this share's rows of b at [b*2E, b*2E + E), then their selection counts at
// [b*2E + E, (b+1)*2E); zeros for sequences without rows here). Given the sums over all ranks,
// seq_aux_loss_from_sums returns L_seq and adds scale * dL_seq/dp to `dprobs` for this share's
// rows. idx: rows*K selected experts (kernels/router_topk.h).
// REQUIRES: the sequences of T rows fill the micro-batch: B = sums.size() / (2E).
void seq_balance_sums(ConstView scores, RouterScoring scoring, std::span<const int32_t> idx,
                      int64_t top_k, int64_t seq_len, int64_t row_offset, std::span<double> sums);
double seq_aux_loss_from_sums(std::span<const double> sums, int64_t seq_len, int64_t top_k,
                              int64_t row_offset, double coef, double scale, View dprobs);

// Turns dprobs = dL/dp into dL/dscores in place for the rows of `scores`: the identity for
// softmax scoring (p is the scores), through p = s / sum(s) for sigmoid scoring.
void balance_probs_backward(ConstView scores, RouterScoring scoring, View dprobs);

// Returns L_z; when dlogits is not empty adds scale * dL_z/dlogits to it. `total_rows` (0: the
// rows of `logits`) is the micro-batch's row count when `logits` holds a share of it; the
// result is then this share's part of L_z.
double z_loss_forward_backward(ConstView logits, double coef, double scale, View dlogits,
                               int64_t total_rows = 0);

// One aux-loss-free update: bias_e += rate * sign(mean(load) - load_e).
void update_balance_bias(std::span<const int64_t> load, double rate, View bias);

}  // namespace symphony
