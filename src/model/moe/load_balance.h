#pragma once
// Router load-balancing terms, each switchable by its coefficient (model/model_config.h):
//  - Switch/GShard auxiliary loss:  L_aux = coef * E * sum_e f_e * P_e, where
//    f_e = (assignments routed to e) / (N*K) and P_e = mean_n probs[n, e].
//    f is treated as a constant (it is a count), so dL/dprobs[n, e] = coef * E * f_e / N.
//  - Router z-loss (ST-MoE):  L_z = coef * mean_n logsumexp(logits[n, :])^2,
//    dL/dlogits[n, e] = coef * 2 * lse_n * softmax(logits[n])_e / N.
//  - Auxiliary-loss-free balancing (DeepSeek-V3): bias_e += rate * sign(mean load - load_e)
//    after each optimizer step; the bias changes only which experts are selected.

#include <cstdint>
#include <span>

#include "tensor/view.h"

namespace symphony {

// L_aux in two halves, so a micro-batch whose rows are spread over ranks (tensor parallelism
// routes each rank's share) gets one process's value: per-expert sums of probs over some rows
// (added in row order), then, given the sums and the routed counts over all `total_rows` rows,
// L_aux, with dprobs = scale * dL_aux/dprobs written for the rows of `dprobs` (overwritten;
// zeros when coef is 0).
void router_prob_sums(ConstView probs, std::span<double> sums);
double aux_loss_from_sums(std::span<const double> prob_sums, std::span<const int64_t> routed,
                          int64_t total_rows, int64_t top_k, double coef, double scale,
                          View dprobs);

// Returns L_z; when dlogits is not empty adds scale * dL_z/dlogits to it. `total_rows` (0: the
// rows of `logits`) is the micro-batch's row count when `logits` holds a share of it; the
// result is then this share's part of L_z.
double z_loss_forward_backward(ConstView logits, double coef, double scale, View dlogits,
                               int64_t total_rows = 0);

// One aux-loss-free update: bias_e += rate * sign(mean(load) - load_e).
void update_balance_bias(std::span<const int64_t> load, double rate, View bias);

}  // namespace symphony
