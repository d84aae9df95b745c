#include "kernels/router_topk.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

constexpr RouterSpec kSoftmax{};
constexpr RouterSpec kSoftmaxNoNorm{RouterScoring::kSoftmax, TopkNorm::kNone};

std::string describe(const RouterSpec& s) {
  return fmt::format("{} norm={} scale={} groups={}/{}",
                     s.scoring == RouterScoring::kSoftmax ? "softmax" : "sigmoid", int(s.norm),
                     s.scale, s.topk_groups, s.groups);
}

struct Case {
  int64_t n, e, k;
  bool with_bias;
  RouterSpec spec;
};

TEST(RouterTopk, CpuMatchesReference) {
  const RouterSpec sigmoid{RouterScoring::kSigmoid, TopkNorm::kNormalize, 2.5};
  const RouterSpec sigmoid_groups{RouterScoring::kSigmoid, TopkNorm::kNormalize, 2.5, 8, 4};
  const RouterSpec softmax_groups{RouterScoring::kSoftmax, TopkNorm::kNone, 1.0, 4, 2};
  const RouterSpec one_expert_groups{RouterScoring::kSigmoid, TopkNorm::kNone, 0.5, 13, 3};
  for (const Case& c :
       {Case{1, 8, 1, false, kSoftmaxNoNorm}, Case{33, 8, 2, true, kSoftmax},
        Case{20, 64, 6, true, kSoftmaxNoNorm}, Case{17, 384, 8, false, kSoftmax},
        Case{5, 13, 13, true, kSoftmax}, Case{31, 64, 6, true, sigmoid},
        Case{29, 256, 8, true, sigmoid_groups}, Case{19, 24, 5, false, softmax_groups},
        Case{11, 13, 3, true, one_expert_groups}}) {
    SCOPED_TRACE(fmt::format("N={} E={} K={} bias={} {}", c.n, c.e, c.k, c.with_bias,
                             describe(c.spec)));
    uint64_t seed = uint64_t(c.n * 10000 + c.e * 10 + c.k);
    Buffer logits = random_buffer(DType::kF32, {c.n, c.e}, seed, -3.0, 3.0);
    Buffer bias = c.with_bias ? random_buffer(DType::kF32, {c.e}, seed + 1, -0.05, 0.05) : Buffer();
    Buffer scores_ref(DType::kF32, {c.n, c.e}), scores(DType::kF32, {c.n, c.e});
    Buffer weights_ref(DType::kF32, {c.n, c.k}), weights(DType::kF32, {c.n, c.k});
    std::vector<int32_t> idx_ref(c.n * c.k), idx(c.n * c.k);
    ref::router_topk_forward(logits.view(), bias.view(), c.spec, scores_ref.view(), idx_ref,
                             weights_ref.view());
    cpu::router_topk_forward(logits.view(), bias.view(), c.spec, scores.view(), idx,
                             weights.view());
    EXPECT_TENSOR_NEAR(scores.view(), scores_ref.view(), testkit::tolerance<float>());
    EXPECT_EQ(idx, idx_ref);
    EXPECT_TENSOR_NEAR(weights.view(), weights_ref.view(), testkit::tolerance<float>());

    Buffer dweights = random_buffer(DType::kF32, {c.n, c.k}, seed + 2);
    Buffer extra = random_buffer(DType::kF32, {c.n, c.e}, seed + 3);
    for (bool with_extra : {false, true}) {
      SCOPED_TRACE(fmt::format("extra={}", with_extra));
      ConstView ev = with_extra ? ConstView(extra.view()) : ConstView();
      Buffer dl_ref(DType::kF32, {c.n, c.e}), dl(DType::kF32, {c.n, c.e});
      ref::router_topk_backward(scores_ref.view(), idx_ref, c.spec, dweights.view(), ev,
                                dl_ref.view());
      cpu::router_topk_backward(scores.view(), idx, c.spec, dweights.view(), ev, dl.view());
      EXPECT_TENSOR_NEAR(dl.view(), dl_ref.view(), (testkit::Tolerance{1e-6, 1e-4}));
    }

    // Through the dispatcher.
    Buffer scores2(DType::kF32, {c.n, c.e}), weights2(DType::kF32, {c.n, c.k});
    std::vector<int32_t> idx2(c.n * c.k);
    router_topk_forward(Exec::cpu(), logits.view(), bias.view(), c.spec, scores2.view(), idx2,
                        weights2.view());
    EXPECT_EQ(idx2, idx);
    EXPECT_TENSOR_NEAR(weights2.view(), weights.view(), (testkit::Tolerance{0, 0}));
  }
}

TEST(RouterTopk, TiesGoToTheLowerIndex) {
  const int64_t e = 6, k = 3;
  Buffer logits(DType::kF32, {1, e});
  for (float& x : std::span(logits.f32(), e)) x = 0.5f;  // all equal
  logits.f32()[4] = 1.f;
  for (bool use_ref : {true, false}) {
    SCOPED_TRACE(use_ref ? "ref" : "cpu");
    Buffer probs(DType::kF32, {1, e}), weights(DType::kF32, {1, k});
    std::vector<int32_t> idx(k);
    router_topk_forward(use_ref ? Exec::reference() : Exec::cpu(), logits.view(), ConstView(),
                        kSoftmaxNoNorm, probs.view(), idx, weights.view());
    EXPECT_EQ(idx, (std::vector<int32_t>{4, 0, 1}));
  }
}

// A large bias on one expert selects it, but its weight is still its probability, normalised
// over the selected probabilities only.
TEST(RouterTopk, BiasSteersSelectionNotWeights) {
  const int64_t n = 4, e = 8, k = 2;
  const int32_t favoured = 5;
  Buffer logits = random_buffer(DType::kF32, {n, e}, 61, -2.0, 2.0);
  for (int64_t i = 0; i < n; ++i) logits.f32()[i * e + favoured] = -4.f;  // the least likely
  Buffer bias(DType::kF32, {e});
  bias.f32()[favoured] = 10.f;
  for (bool use_ref : {true, false}) {
    SCOPED_TRACE(use_ref ? "ref" : "cpu");
    const Exec ex = use_ref ? Exec::reference() : Exec::cpu();
    Buffer probs(DType::kF32, {n, e}), weights(DType::kF32, {n, k});
    Buffer probs0(DType::kF32, {n, e}), weights0(DType::kF32, {n, k});
    std::vector<int32_t> idx(n * k), idx0(n * k);
    router_topk_forward(ex, logits.view(), bias.view(), kSoftmax, probs.view(), idx,
                        weights.view());
    router_topk_forward(ex, logits.view(), ConstView(), kSoftmax, probs0.view(), idx0,
                        weights0.view());
    EXPECT_TENSOR_NEAR(probs.view(), probs0.view(), (testkit::Tolerance{0, 0}));
    for (int64_t i = 0; i < n; ++i) {
      SCOPED_TRACE(fmt::format("row {}", i));
      const float* p = probs.f32() + i * e;
      EXPECT_EQ(idx[i * k], favoured);
      EXPECT_NE(idx0[i * k], favoured);
      EXPECT_NE(idx0[i * k + 1], favoured);
      // The second pick is the unbiased favourite.
      EXPECT_EQ(idx[i * k + 1], idx0[i * k]);
      const float sum = p[favoured] + p[idx[i * k + 1]];
      EXPECT_NEAR(weights.f32()[i * k], p[favoured] / sum, 1e-6);
      EXPECT_NEAR(weights.f32()[i * k + 1], p[idx[i * k + 1]] / sum, 1e-6);
      EXPECT_LT(weights.f32()[i * k], 0.5f);  // a low-probability expert keeps a low weight
    }
  }
}

// DeepSeek-V3's gate on one token, worked by hand: sigmoid scores, a bias, 4 groups of 2 of which
// the best 2 by the sum of their two choice scores, top 3 within them, weights the selected
// sigmoid scores normalised and scaled.
TEST(RouterTopk, SigmoidGroupLimitedRoutingByHand) {
  // Choice scores (scores + bias) by group: {0.9, 0.1} sum 1.0 | {0.6, 0.55} sum 1.15 |
  // {0.95, 0.0} sum 0.95 | {0.5, 0.45} sum 0.95. Best two groups: 1 (1.15), 0 (1.0); group 2
  // holds the best single expert (0.95) but is not among them. Top 3 of experts {0, 1, 2, 3}:
  // 0 (0.9), 2 (0.6), 3 (0.55).
  const double choice[8] = {0.9, 0.1, 0.6, 0.55, 0.95, 0.0, 0.5, 0.45};
  const double bias_values[8] = {0.1, -0.2, 0.0, 0.1, 0.05, -0.3, 0.0, 0.05};
  const double scale = 2.5;
  Buffer logits(DType::kF64, {1, 8}), bias(DType::kF64, {8});
  for (int e = 0; e < 8; ++e) {
    const double s = choice[e] - bias_values[e];  // the sigmoid score
    logits.data<double>()[e] = std::log(s / (1 - s));
    bias.data<double>()[e] = bias_values[e];
  }
  const RouterSpec spec{RouterScoring::kSigmoid, TopkNorm::kNormalize, scale, 4, 2};
  for (DType dtype : {DType::kF64, DType::kF32}) {
    for (bool use_ref : {true, false}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(dtype), use_ref ? "ref" : "cpu"));
      Buffer l = testkit::convert(logits.view(), dtype), b = testkit::convert(bias.view(), dtype);
      Buffer scores(dtype, {1, 8}), weights(dtype, {1, 3});
      std::vector<int32_t> idx(3);
      router_topk_forward(use_ref ? Exec::reference() : Exec::cpu(), l.view(), b.view(), spec,
                          scores.view(), idx, weights.view());
      EXPECT_EQ(idx, (std::vector<int32_t>{0, 2, 3}));
      const double s0 = 0.8, s2 = 0.6, s3 = 0.45, sum = s0 + s2 + s3;
      EXPECT_NEAR(testkit::element(weights.view(), 0), scale * s0 / sum, 1e-6);
      EXPECT_NEAR(testkit::element(weights.view(), 1), scale * s2 / sum, 1e-6);
      EXPECT_NEAR(testkit::element(weights.view(), 2), scale * s3 / sum, 1e-6);
      EXPECT_NEAR(testkit::element(scores.view(), 4), 0.9, 1e-6);  // scores never hold the bias
    }
  }
}

// Softmax group-limited routing (DeepSeek-V2) ranks a group by its best expert alone: a group
// with one strong expert beats one with two good ones.
TEST(RouterTopk, SoftmaxGroupsRankByTheirBestExpert) {
  // Logits by group: {3, -5} | {2.5, 2.5} | {0, 0}. Max: group 0 (3) beats group 1 (2.5), whose
  // sum of the top two would be larger. One group allowed, K = 2: experts 0 and 1.
  Buffer logits(DType::kF32, {1, 6});
  const float values[6] = {3.f, -5.f, 2.5f, 2.5f, 0.f, 0.f};
  std::copy(values, values + 6, logits.f32());
  const RouterSpec spec{RouterScoring::kSoftmax, TopkNorm::kNormalize, 1.0, 3, 1};
  for (bool use_ref : {true, false}) {
    SCOPED_TRACE(use_ref ? "ref" : "cpu");
    Buffer scores(DType::kF32, {1, 6}), weights(DType::kF32, {1, 2});
    std::vector<int32_t> idx(2);
    router_topk_forward(use_ref ? Exec::reference() : Exec::cpu(), logits.view(), ConstView(),
                        spec, scores.view(), idx, weights.view());
    EXPECT_EQ(idx, (std::vector<int32_t>{0, 1}));
  }
}

// The backward through every part that has a gradient (the scale, the normalisation, the scores)
// against central differences in double; selection and group choice are piecewise constant and
// the perturbation must not change them.
TEST(RouterTopk, ReferenceBackwardMatchesFiniteDifferences) {
  const int64_t n = 4, e = 8, k = 3;
  for (const RouterSpec& spec :
       {kSoftmaxNoNorm, kSoftmax, RouterSpec{RouterScoring::kSoftmax, TopkNorm::kNormalize, 1.7},
        RouterSpec{RouterScoring::kSigmoid, TopkNorm::kNone, 2.5},
        RouterSpec{RouterScoring::kSigmoid, TopkNorm::kNormalize, 2.5},
        RouterSpec{RouterScoring::kSigmoid, TopkNorm::kNormalize, 2.5, 4, 2},
        RouterSpec{RouterScoring::kSoftmax, TopkNorm::kNormalize, 0.5, 2, 1}}) {
    SCOPED_TRACE(describe(spec));
    Buffer logits = random_buffer(DType::kF64, {n, e}, 71, -2.0, 2.0);
    Buffer bias = random_buffer(DType::kF64, {e}, 72, -0.1, 0.1);
    Buffer r = random_buffer(DType::kF64, {n, k}, 73);
    Buffer r2 = random_buffer(DType::kF64, {n, e}, 74);
    Buffer scores(DType::kF64, {n, e}), weights(DType::kF64, {n, k});
    std::vector<int32_t> idx(n * k);
    auto objective = [&] {  // sum(weights * r) + sum(scores * r2)
      ref::router_topk_forward(logits.view(), bias.view(), spec, scores.view(), idx,
                               weights.view());
      double l = 0;
      for (int64_t i = 0; i < n * k; ++i) l += weights.data<double>()[i] * r.data<double>()[i];
      for (int64_t i = 0; i < n * e; ++i) l += scores.data<double>()[i] * r2.data<double>()[i];
      return l;
    };
    objective();
    const std::vector<int32_t> selected = idx;
    Buffer dlogits(DType::kF64, {n, e});
    ref::router_topk_backward(scores.view(), idx, spec, r.view(), r2.view(), dlogits.view());
    const double step = 1e-6;
    for (int64_t i = 0; i < n * e; ++i) {
      double saved = logits.data<double>()[i];
      logits.data<double>()[i] = saved + step;
      double up = objective();
      ASSERT_EQ(idx, selected) << "perturbation changed the selection";
      logits.data<double>()[i] = saved - step;
      double down = objective();
      ASSERT_EQ(idx, selected) << "perturbation changed the selection";
      logits.data<double>()[i] = saved;
      EXPECT_NEAR(dlogits.data<double>()[i], (up - down) / (2 * step), 1e-8) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace symphony
