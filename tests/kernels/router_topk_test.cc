#include "kernels/router_topk.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

struct Case {
  int64_t n, e, k;
  bool with_bias;
  TopkNorm norm;
};

TEST(RouterTopk, CpuMatchesReference) {
  for (auto c :
       {Case{1, 8, 1, false, TopkNorm::kNone}, Case{33, 8, 2, true, TopkNorm::kNormalize},
        Case{20, 64, 6, true, TopkNorm::kNone}, Case{17, 384, 8, false, TopkNorm::kNormalize},
        Case{5, 13, 13, true, TopkNorm::kNormalize}}) {
    SCOPED_TRACE(
        fmt::format("N={} E={} K={} bias={} norm={}", c.n, c.e, c.k, c.with_bias, int(c.norm)));
    uint64_t seed = uint64_t(c.n * 10000 + c.e * 10 + c.k);
    Buffer logits = random_buffer(DType::kF32, {c.n, c.e}, seed, -3.0, 3.0);
    Buffer bias = c.with_bias ? random_buffer(DType::kF32, {c.e}, seed + 1, -0.05, 0.05) : Buffer();
    Buffer probs_ref(DType::kF32, {c.n, c.e}), probs(DType::kF32, {c.n, c.e});
    Buffer weights_ref(DType::kF32, {c.n, c.k}), weights(DType::kF32, {c.n, c.k});
    std::vector<int32_t> idx_ref(c.n * c.k), idx(c.n * c.k);
    ref::router_topk_forward(logits.view(), bias.view(), c.norm, probs_ref.view(), idx_ref,
                             weights_ref.view());
    cpu::router_topk_forward(logits.view(), bias.view(), c.norm, probs.view(), idx, weights.view());
    EXPECT_TENSOR_NEAR(probs.view(), probs_ref.view(), testkit::tolerance<float>());
    EXPECT_EQ(idx, idx_ref);
    EXPECT_TENSOR_NEAR(weights.view(), weights_ref.view(), testkit::tolerance<float>());

    Buffer dweights = random_buffer(DType::kF32, {c.n, c.k}, seed + 2);
    Buffer extra = random_buffer(DType::kF32, {c.n, c.e}, seed + 3);
    for (bool with_extra : {false, true}) {
      SCOPED_TRACE(fmt::format("extra={}", with_extra));
      ConstView ev = with_extra ? ConstView(extra.view()) : ConstView();
      Buffer dl_ref(DType::kF32, {c.n, c.e}), dl(DType::kF32, {c.n, c.e});
      ref::router_topk_backward(probs_ref.view(), idx_ref, c.norm, dweights.view(), ev,
                                dl_ref.view());
      cpu::router_topk_backward(probs.view(), idx, c.norm, dweights.view(), ev, dl.view());
      EXPECT_TENSOR_NEAR(dl.view(), dl_ref.view(), (testkit::Tolerance{1e-6, 1e-4}));
    }

    // Through the dispatcher.
    Buffer probs2(DType::kF32, {c.n, c.e}), weights2(DType::kF32, {c.n, c.k});
    std::vector<int32_t> idx2(c.n * c.k);
    router_topk_forward(Exec::cpu(), logits.view(), bias.view(), c.norm, probs2.view(), idx2,
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
                        TopkNorm::kNone, probs.view(), idx, weights.view());
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
    router_topk_forward(ex, logits.view(), bias.view(), TopkNorm::kNormalize, probs.view(), idx,
                        weights.view());
    router_topk_forward(ex, logits.view(), ConstView(), TopkNorm::kNormalize, probs0.view(), idx0,
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

TEST(RouterTopk, ReferenceBackwardMatchesFiniteDifferences) {
  const int64_t n = 4, e = 6, k = 3;
  for (TopkNorm norm : {TopkNorm::kNone, TopkNorm::kNormalize}) {
    SCOPED_TRACE(fmt::format("norm={}", int(norm)));
    Buffer logits = random_buffer(DType::kF64, {n, e}, 71, -2.0, 2.0);
    Buffer bias = random_buffer(DType::kF64, {e}, 72, -0.1, 0.1);
    Buffer r = random_buffer(DType::kF64, {n, k}, 73);
    Buffer r2 = random_buffer(DType::kF64, {n, e}, 74);
    Buffer probs(DType::kF64, {n, e}), weights(DType::kF64, {n, k});
    std::vector<int32_t> idx(n * k);
    auto objective = [&] {  // sum(weights * r) + sum(probs * r2)
      ref::router_topk_forward(logits.view(), bias.view(), norm, probs.view(), idx, weights.view());
      double l = 0;
      for (int64_t i = 0; i < n * k; ++i) l += weights.data<double>()[i] * r.data<double>()[i];
      for (int64_t i = 0; i < n * e; ++i) l += probs.data<double>()[i] * r2.data<double>()[i];
      return l;
    };
    objective();
    const std::vector<int32_t> selected = idx;
    Buffer dlogits(DType::kF64, {n, e});
    ref::router_topk_backward(probs.view(), idx, norm, r.view(), r2.view(), dlogits.view());
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
