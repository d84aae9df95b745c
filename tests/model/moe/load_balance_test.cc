#include "model/moe/load_balance.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "kernels/router_topk.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

// Two sequences of two rows, E = 4, K = 1, softmax scores (p = scores):
//   sequence 0 selects experts 0, 0; sequence 1 selects 1, 2.
//   f_{b,e} = E / (K*T) * count = 2 * count;  P_{b,e} = mean of the sequence's p[:, e].
//   L = coef / B * sum_b sum_e f P.
TEST(SeqAuxLoss, MatchesTheFormulaByHand) {
  const double p[4][4] = {
      {0.4, 0.3, 0.2, 0.1}, {0.7, 0.1, 0.1, 0.1}, {0.25, 0.25, 0.25, 0.25}, {0.1, 0.2, 0.6, 0.1}};
  const std::vector<int32_t> idx = {0, 0, 1, 2};
  Buffer scores(DType::kF64, {4, 4});
  for (int i = 0; i < 16; ++i) scores.data<double>()[i] = p[i / 4][i % 4];
  std::vector<double> sums(2 * 2 * 4);
  seq_balance_sums(scores.view(), RouterScoring::kSoftmax, idx, 1, 2, 0, sums);
  const double coef = 0.3, scale = 0.5;
  Buffer dprobs(DType::kF64, {4, 4});
  const double loss = seq_aux_loss_from_sums(sums, 2, 1, 0, coef, scale, dprobs.view());
  // Sequence 0: f = (4, 0, 0, 0), P_0 = (0.4 + 0.7) / 2. Sequence 1: f = (0, 2, 2, 0),
  // P_1 = (0.45 / 2), P_2 = (0.85 / 2).
  const double want = coef / 2 * (4 * 0.55 + 2 * 0.225 + 2 * 0.425);
  EXPECT_NEAR(loss, want, 1e-15);
  // dL/dp[n, e] = scale * coef * f_{b(n),e} / (B*T).
  for (int n = 0; n < 4; ++n)
    for (int e = 0; e < 4; ++e) {
      const double f = n < 2 ? (e == 0 ? 4.0 : 0.0) : (e == 1 || e == 2 ? 2.0 : 0.0);
      EXPECT_NEAR(dprobs.data<double>()[n * 4 + e], scale * coef * f / 4, 1e-15)
          << "row " << n << " expert " << e;
    }
}

// Rows spread over ranks (tensor parallelism routes each rank's share, here shares that cut a
// sequence in two): the summed halves give one process's loss and gradients.
TEST(SeqAuxLoss, SharesOfTheRowsGiveOneProcessesValue) {
  const int64_t rows = 12, e = 6, k = 2, seq_len = 4;  // 3 sequences
  Buffer logits = random_buffer(DType::kF32, {rows, e}, 5, -2.0, 2.0);
  Buffer scores(DType::kF32, {rows, e}), weights(DType::kF32, {rows, k});
  std::vector<int32_t> idx(size_t(rows * k));
  const RouterSpec spec{RouterScoring::kSigmoid, TopkNorm::kNormalize, 2.0};
  router_topk_forward(Exec::cpu(), logits.view(), ConstView(), spec, scores.view(), idx,
                      weights.view());
  const size_t values = size_t(rows / seq_len * 2 * e);
  std::vector<double> whole(values);
  seq_balance_sums(scores.view(), spec.scoring, idx, k, seq_len, 0, whole);
  Buffer d_whole(DType::kF32, {rows, e});
  const double l_whole = seq_aux_loss_from_sums(whole, seq_len, k, 0, 0.1, 1.0, d_whole.view());

  const int64_t shares = 2, share = rows / shares;  // 6 rows each: sequence 1 is cut
  std::vector<double> summed(values, 0.0), part(values);
  for (int64_t s = 0; s < shares; ++s) {
    const std::span<const int32_t> share_idx =
        std::span<const int32_t>(idx).subspan(size_t(s * share * k), size_t(share * k));
    seq_balance_sums(scores.view().rows(s * share, (s + 1) * share), spec.scoring, share_idx, k,
                     seq_len, s * share, part);
    for (size_t i = 0; i < values; ++i) summed[i] += part[i];
  }
  Buffer d_parts(DType::kF32, {rows, e});
  for (int64_t s = 0; s < shares; ++s) {
    const double l = seq_aux_loss_from_sums(summed, seq_len, k, s * share, 0.1, 1.0,
                                            d_parts.view().rows(s * share, (s + 1) * share));
    EXPECT_NEAR(l, l_whole, 1e-15 * std::abs(l_whole));
  }
  EXPECT_TENSOR_NEAR(d_parts.view(), d_whole.view(), (testkit::Tolerance{0, 0}));
}

// The router with DeepSeek-V3's settings (sigmoid, groups, scale, normalised weights) and both
// balance losses on their balance probabilities p = s / sum(s): the chain forward -> losses ->
// dL/dp -> dL/dscores (balance_probs_backward) -> dL/dlogits (router_topk_backward) against
// central differences in double. Counts are piecewise constant; the perturbation must not
// change the selection.
TEST(SeqAuxLoss, RouterGradientMatchesFiniteDifferences) {
  const int64_t rows = 6, e = 8, k = 2, seq_len = 3;
  for (const RouterSpec& spec :
       {RouterSpec{RouterScoring::kSigmoid, TopkNorm::kNormalize, 2.5, 4, 2},
        RouterSpec{RouterScoring::kSoftmax, TopkNorm::kNormalize, 1.0}}) {
    SCOPED_TRACE(spec.scoring == RouterScoring::kSigmoid ? "sigmoid" : "softmax");
    Buffer logits = random_buffer(DType::kF64, {rows, e}, 41, -2.0, 2.0);
    Buffer bias = random_buffer(DType::kF64, {e}, 42, -0.05, 0.05);
    Buffer r = random_buffer(DType::kF64, {rows, k}, 43);
    Buffer scores(DType::kF64, {rows, e}), weights(DType::kF64, {rows, k});
    Buffer dprobs(DType::kF64, {rows, e});
    std::vector<int32_t> idx(size_t(rows * k));
    std::vector<double> seq_sums(static_cast<size_t>(rows / seq_len * 2 * e));
    std::vector<double> prob_sums(static_cast<size_t>(e));
    std::vector<int64_t> routed(static_cast<size_t>(e));
    const double seq_coef = 0.7, aux_coef = 0.3, scale = 0.5;
    // Objective: sum(weights * r) + scale * (L_seq + L_aux); leaves dprobs = scale * dL/dp.
    auto objective = [&] {
      ref::router_topk_forward(logits.view(), bias.view(), spec, scores.view(), idx,
                               weights.view());
      std::fill(routed.begin(), routed.end(), 0);
      for (int32_t i : idx) ++routed[size_t(i)];
      router_prob_sums(scores.view(), spec.scoring, prob_sums);
      double l = aux_loss_from_sums(prob_sums, routed, rows, k, aux_coef, scale, dprobs.view());
      seq_balance_sums(scores.view(), spec.scoring, idx, k, seq_len, 0, seq_sums);
      l += seq_aux_loss_from_sums(seq_sums, seq_len, k, 0, seq_coef, scale, dprobs.view());
      l *= scale;
      for (int64_t i = 0; i < rows * k; ++i) l += weights.data<double>()[i] * r.data<double>()[i];
      return l;
    };
    objective();
    const std::vector<int32_t> selected = idx;
    balance_probs_backward(scores.view(), spec.scoring, dprobs.view());
    Buffer dlogits(DType::kF64, {rows, e});
    ref::router_topk_backward(scores.view(), idx, spec, r.view(), dprobs.view(), dlogits.view());
    const double step = 1e-6;
    for (int64_t i = 0; i < rows * e; ++i) {
      const double saved = logits.data<double>()[i];
      logits.data<double>()[i] = saved + step;
      const double up = objective();
      ASSERT_EQ(idx, selected) << "perturbation changed the selection";
      logits.data<double>()[i] = saved - step;
      const double down = objective();
      ASSERT_EQ(idx, selected) << "perturbation changed the selection";
      logits.data<double>()[i] = saved;
      EXPECT_NEAR(dlogits.data<double>()[i], (up - down) / (2 * step), 1e-8) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace symphony
