#include "kernels/cross_entropy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "kernels/gemm.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

// Targets in [0, V) from `seed`, with every `ignore_every`-th row ignored (-1).
std::vector<int32_t> make_targets(int64_t n, int64_t vocab, uint64_t seed, int64_t ignore_every) {
  std::vector<int32_t> t(n);
  for (int64_t i = 0; i < n; ++i)
    t[i] = (ignore_every > 0 && i % ignore_every == 2)
               ? -1
               : int32_t(uniform_at(seed, uint64_t(i)) * double(vocab));
  return t;
}

struct Case {
  int64_t n, d, vocab, chunk, ignore_every;
};

TEST(CrossEntropy, CpuMatchesReference) {
  for (auto c : {Case{37, 64, 1000, 8, 5}, Case{37, 64, 1000, 1, 3}, Case{37, 64, 1000, 64, 4},
                 Case{5, 17, 17, 2, 0}, Case{16, 33, 250, 16, 2}}) {
    SCOPED_TRACE(fmt::format("N={} D={} V={} chunk={}", c.n, c.d, c.vocab, c.chunk));
    uint64_t seed = uint64_t(c.n * 100000 + c.vocab * 10 + c.chunk);
    Buffer h = random_buffer(DType::kF32, {c.n, c.d}, seed);
    Buffer w = random_buffer(DType::kF32, {c.vocab, c.d}, seed + 1, -0.5, 0.5);
    std::vector<int32_t> targets = make_targets(c.n, c.vocab, seed + 2, c.ignore_every);
    int64_t counted = 0;
    for (int32_t t : targets) counted += t >= 0;
    const double scale = 1.0 / double(counted);

    Buffer dh_ref = random_buffer(DType::kF32, {c.n, c.d}, seed + 3);  // overwritten
    Buffer dh = random_buffer(DType::kF32, {c.n, c.d}, seed + 4);
    Buffer dw_ref = random_buffer(DType::kF32, {c.vocab, c.d}, seed + 5);  // accumulated into
    Buffer dw = testkit::convert(dw_ref.view(), DType::kF32);
    Buffer scratch(DType::kF32, {c.chunk, c.vocab});

    CrossEntropyResult want = ref::lm_head_cross_entropy(
        Precision::kFp32, h.view(), w.view(), targets, scale, dh_ref.view(), dw_ref.view());
    CrossEntropyResult got = cpu::lm_head_cross_entropy(
        Precision::kFp32, h.view(), w.view(), targets, scale, scratch.view(), dh.view(), dw.view());
    EXPECT_EQ(got.count, counted);
    EXPECT_EQ(want.count, counted);
    EXPECT_NEAR(got.loss_sum, want.loss_sum, 1e-5 * std::abs(want.loss_sum));
    EXPECT_TENSOR_NEAR(dh.view(), dh_ref.view(), (testkit::Tolerance{1e-6, 1e-3}));
    EXPECT_TENSOR_NEAR(dw.view(), dw_ref.view(), (testkit::Tolerance{1e-6, 1e-4}));
    for (int64_t i = 0; i < c.n; ++i) {
      if (targets[i] >= 0) continue;
      for (int64_t j = 0; j < c.d; ++j) EXPECT_EQ(dh.f32()[i * c.d + j], 0.f) << "row " << i;
    }

    // The dispatcher picks the same kernels.
    Buffer dh2(DType::kF32, {c.n, c.d});
    Buffer dw2(DType::kF32, {c.vocab, c.d});
    CrossEntropyResult via = lm_head_cross_entropy(Exec::cpu(), h.view(), w.view(), targets, scale,
                                                   scratch.view(), dh2.view(), dw2.view());
    EXPECT_EQ(via.loss_sum, got.loss_sum);
    CrossEntropyResult via_ref = lm_head_cross_entropy(Exec::reference(), h.view(), w.view(),
                                                       targets, scale, View(), View(), View());
    EXPECT_EQ(via_ref.loss_sum, want.loss_sum);
  }
}

TEST(CrossEntropy, EvalModeGivesTheSameLoss) {
  const int64_t n = 37, d = 32, vocab = 1000, chunk = 8;
  Buffer h = random_buffer(DType::kF32, {n, d}, 21);
  Buffer w = random_buffer(DType::kF32, {vocab, d}, 22, -0.5, 0.5);
  std::vector<int32_t> targets = make_targets(n, vocab, 23, 6);
  Buffer scratch(DType::kF32, {chunk, vocab});
  Buffer dh(DType::kF32, {n, d}), dw(DType::kF32, {vocab, d});
  CrossEntropyResult train = cpu::lm_head_cross_entropy(
      Precision::kFp32, h.view(), w.view(), targets, 1.0, scratch.view(), dh.view(), dw.view());
  CrossEntropyResult eval = cpu::lm_head_cross_entropy(
      Precision::kFp32, h.view(), w.view(), targets, 1.0, scratch.view(), View(), View());
  CrossEntropyResult eval_ref = ref::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(),
                                                           targets, 1.0, View(), View());
  EXPECT_EQ(eval.count, train.count);
  EXPECT_NEAR(eval.loss_sum, train.loss_sum, 1e-6 * std::abs(train.loss_sum));
  EXPECT_EQ(eval_ref.count, train.count);
  EXPECT_NEAR(eval.loss_sum, eval_ref.loss_sum, 1e-5 * std::abs(eval_ref.loss_sum));
}

TEST(CrossEntropy, CpuIsDeterministic) {
  const int64_t n = 37, d = 48, vocab = 300, chunk = 8;
  Buffer h = random_buffer(DType::kF32, {n, d}, 31);
  Buffer w = random_buffer(DType::kF32, {vocab, d}, 32, -0.5, 0.5);
  std::vector<int32_t> targets = make_targets(n, vocab, 33, 4);
  Buffer scratch(DType::kF32, {chunk, vocab});
  Buffer dh_a(DType::kF32, {n, d}), dw_a(DType::kF32, {vocab, d});
  Buffer dh_b(DType::kF32, {n, d}), dw_b(DType::kF32, {vocab, d});
  CrossEntropyResult a = cpu::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets,
                                                    0.5, scratch.view(), dh_a.view(), dw_a.view());
  CrossEntropyResult b = cpu::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets,
                                                    0.5, scratch.view(), dh_b.view(), dw_b.view());
  EXPECT_EQ(a.loss_sum, b.loss_sum);
  EXPECT_TENSOR_NEAR(dh_a.view(), dh_b.view(), (testkit::Tolerance{0, 0}));
  EXPECT_TENSOR_NEAR(dw_a.view(), dw_b.view(), (testkit::Tolerance{0, 0}));
  CrossEntropyResult c = cpu::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets,
                                                    1.0, scratch.view(), View(), View());
  CrossEntropyResult e = cpu::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets,
                                                    1.0, scratch.view(), View(), View());
  EXPECT_EQ(c.loss_sum, e.loss_sum);
}

// A weight-gradient sink receives each row chunk's (h, dlogits); running dw += dlogits^T h over
// them in order later gives bitwise the dw the kernel accumulates itself, and dh is unchanged.
TEST(CrossEntropy, SinkChunksReproduceWeightGradientBitwise) {
  const int64_t n = 37, d = 48, vocab = 300, chunk = 8;
  Buffer h = random_buffer(DType::kF32, {n, d}, 51);
  Buffer w = random_buffer(DType::kF32, {vocab, d}, 52, -0.5, 0.5);
  std::vector<int32_t> targets = make_targets(n, vocab, 53, 4);
  Buffer scratch(DType::kF32, {chunk, vocab});
  Buffer dh_a(DType::kF32, {n, d}), dw_a(DType::kF32, {vocab, d});
  Buffer dh_b(DType::kF32, {n, d}), dw_b(DType::kF32, {vocab, d});
  struct Recorder final : HeadGradSink {
    std::vector<Buffer> h, dlogits;
    static Buffer copy(ConstView v) {
      Buffer b(DType::kF32, v.shape());
      std::copy_n(v.f32(), v.numel(), b.f32());
      return b;
    }
    void add(ConstView h_chunk, ConstView dlogits_chunk) override {
      h.push_back(copy(h_chunk));
      dlogits.push_back(copy(dlogits_chunk));
    }
  };
  for (Precision precision : {Precision::kFp32, Precision::kBf16}) {
    SCOPED_TRACE(precision_name(precision));
    Recorder sink;
    dw_a.zero();
    dw_b.zero();
    const Exec ex = Exec::cpu().with_matmul(precision);
    CrossEntropyResult a = lm_head_cross_entropy(ex, h.view(), w.view(), targets, 0.5,
                                                 scratch.view(), dh_a.view(), dw_a.view());
    CrossEntropyResult b = lm_head_cross_entropy(ex, h.view(), w.view(), targets, 0.5,
                                                 scratch.view(), dh_b.view(), View(), &sink);
    ASSERT_EQ(sink.h.size(), size_t((n + chunk - 1) / chunk));
    for (size_t i = 0; i < sink.h.size(); ++i)
      gemm(ex, Trans::kYes, Trans::kNo, 1.0, sink.dlogits[i].view(), sink.h[i].view(), 1.0,
           dw_b.view());
    EXPECT_EQ(a.loss_sum, b.loss_sum);
    EXPECT_TENSOR_NEAR(dh_a.view(), dh_b.view(), (testkit::Tolerance{0, 0}));
    EXPECT_TENSOR_NEAR(dw_a.view(), dw_b.view(), (testkit::Tolerance{0, 0}));
  }
}

// The two-pass form (loss and logit gradients first, the GEMMs of the gradients later) is bitwise
// the fused kernel with the same chunk: loss, dh and dw. The logit gradients are
// g (softmax - onehot): each counted row sums to zero, ignored rows are zero.
TEST(CrossEntropy, TwoPassesAreTheFusedKernelBitwise) {
  const int64_t n = 37, d = 48, vocab = 300;
  Buffer h = random_buffer(DType::kF32, {n, d}, 71);
  Buffer w = random_buffer(DType::kF32, {vocab, d}, 72, -0.5, 0.5);
  std::vector<int32_t> targets = make_targets(n, vocab, 73, 4);
  for (Precision precision : {Precision::kFp32, Precision::kBf16})
    for (int64_t chunk : {int64_t(8), int64_t(1), int64_t(37), int64_t(64)}) {
      SCOPED_TRACE(fmt::format("{} chunk {}", precision_name(precision), chunk));
      const Exec ex = Exec::cpu().with_matmul(precision);
      Buffer scratch(DType::kF32, {chunk, vocab});
      Buffer dh_a = random_buffer(DType::kF32, {n, d}, 74);
      Buffer dh_b = random_buffer(DType::kF32, {n, d}, 75);
      Buffer dw_a = random_buffer(DType::kF32, {vocab, d}, 76);
      Buffer dw_b = testkit::convert(dw_a.view(), DType::kF32);
      Buffer dlogits(DType::kF32, {n, vocab});
      const CrossEntropyResult a = lm_head_cross_entropy(ex, h.view(), w.view(), targets, 0.25,
                                                         scratch.view(), dh_a.view(), dw_a.view());
      const CrossEntropyResult b = lm_head_logit_grads(ex, h.view(), w.view(), targets, 0.25,
                                                       chunk, dlogits.view());
      lm_head_grads(ex, h.view(), w.view(), dlogits.view(), chunk, dh_b.view(), dw_b.view());
      EXPECT_EQ(a.loss_sum, b.loss_sum);
      EXPECT_EQ(a.count, b.count);
      EXPECT_TENSOR_NEAR(dh_a.view(), dh_b.view(), (testkit::Tolerance{0, 0}));
      EXPECT_TENSOR_NEAR(dw_a.view(), dw_b.view(), (testkit::Tolerance{0, 0}));
      for (int64_t i = 0; i < n; ++i) {
        double sum = 0, largest = 0;
        for (int64_t j = 0; j < vocab; ++j) {
          sum += dlogits.f32()[i * vocab + j];
          largest = std::max(largest, double(std::abs(dlogits.f32()[i * vocab + j])));
        }
        if (targets[size_t(i)] < 0)
          EXPECT_EQ(largest, 0.0) << "row " << i;
        else
          EXPECT_NEAR(sum, 0.0, 1e-6) << "row " << i;
      }
    }
}

TEST(CrossEntropyDeathTest, TwoPassesCheckTheirInputs) {
  Buffer h(DType::kF32, {4, 8}), w(DType::kF32, {10, 8}), dlogits(DType::kF32, {4, 9});
  std::vector<int32_t> targets(4, 1);
  EXPECT_DEATH(lm_head_logit_grads(Exec::cpu(), h.view(), w.view(), targets, 1.0, 2,
                                   dlogits.view()),
               "logit gradients must be");
  Buffer good(DType::kF32, {4, 10});
  EXPECT_DEATH(lm_head_logit_grads(Exec::reference(), h.view(), w.view(), targets, 1.0, 2,
                                   good.view()),
               "fast f32 kernels only");
  Buffer dh(DType::kF32, {4, 8});
  EXPECT_DEATH(lm_head_grads(Exec::cpu(), h.view(), w.view(), good.view(), 2, dh.view(), View()),
               "dw must match w");
}

// With bf16 GEMMs the logits are those of h and W rounded to bf16 (exact products, fp32 sums),
// and the gradients those of the rounded logit gradients: the fast kernel matches the reference
// run with bf16 GEMMs, to fp32 accuracy for the loss. A gradient element may differ more: a logit
// gradient that fp32 (whose exp and sums depend on the compiler and the CPU's vector width) and
// double put on either side of a bf16 rounding boundary rounds apart by one bf16 step (at most
// 2^-7 of that term), and an element whose terms cancel moves by that much of the term, more than
// of the element (seen: 0.4% of an element under GCC on one CPU, 1.3% under clang). So each
// element is held to a step of the tensor's largest value, while the flips, being rare, leave the
// gradients as a whole within fp32 accuracy of the reference; the fp32 kernel's are visibly
// farther.
TEST(CrossEntropy, Bf16GemmsMatchTheReferenceWithBf16Gemms) {
  const int64_t n = 37, d = 64, vocab = 500, chunk = 8;
  Buffer h = random_buffer(DType::kF32, {n, d}, 61);
  Buffer w = random_buffer(DType::kF32, {vocab, d}, 62, -0.5, 0.5);
  std::vector<int32_t> targets = make_targets(n, vocab, 63, 5);
  Buffer scratch(DType::kF32, {chunk, vocab});
  Buffer dh(DType::kF32, {n, d}), dw(DType::kF32, {vocab, d});
  Buffer dh_ref(DType::kF32, {n, d}), dw_ref(DType::kF32, {vocab, d});
  Buffer dh_fp32(DType::kF32, {n, d}), dw_fp32(DType::kF32, {vocab, d});
  const Exec bf16 = Exec::cpu().with_matmul(Precision::kBf16);
  const double scale = 1.0 / double(n);
  const CrossEntropyResult got = lm_head_cross_entropy(bf16, h.view(), w.view(), targets, scale,
                                                       scratch.view(), dh.view(), dw.view());
  const CrossEntropyResult want =
      lm_head_cross_entropy(Exec::reference().with_matmul(Precision::kBf16), h.view(), w.view(),
                            targets, scale, View(), dh_ref.view(), dw_ref.view());
  const double fp32 = lm_head_cross_entropy(Exec::cpu(), h.view(), w.view(), targets, scale,
                                            scratch.view(), dh_fp32.view(), dw_fp32.view())
                          .loss_sum;
  EXPECT_NEAR(got.loss_sum, want.loss_sum, 1e-6 * std::abs(want.loss_sum));
  EXPECT_GT(std::abs(got.loss_sum - fp32), 10 * std::abs(got.loss_sum - want.loss_sum));
  // Relative error of the whole tensor (Frobenius norms).
  auto norm_error = [](const Buffer& a, const Buffer& b) {
    double diff = 0, ref = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double x = testkit::element(a.view(), i), y = testkit::element(b.view(), i);
      diff += (x - y) * (x - y);
      ref += y * y;
    }
    return std::sqrt(diff / ref);
  };
  for (auto [got_grad, ref_grad, fp32_grad] :
       {std::tuple{&dh, &dh_ref, &dh_fp32}, std::tuple{&dw, &dw_ref, &dw_fp32}}) {
    double largest = 0;
    for (int64_t i = 0; i < ref_grad->numel(); ++i)
      largest = std::max(largest, std::abs(testkit::element(ref_grad->view(), i)));
    EXPECT_TENSOR_NEAR(got_grad->view(), ref_grad->view(), (testkit::Tolerance{largest / 128, 0}));
    const double err = norm_error(*got_grad, *ref_grad);
    // Measured: 3e-7 (GCC) to 2.8e-5 (clang), against 1.9e-3 for the fp32 kernel.
    EXPECT_LT(err, 3e-4);
    EXPECT_GT(norm_error(*fp32_grad, *ref_grad), 1e-3);
  }
}

TEST(CrossEntropy, ReferenceGradientsMatchFiniteDifferences) {
  const int64_t n = 5, d = 4, vocab = 7;
  Buffer h = random_buffer(DType::kF64, {n, d}, 41);
  Buffer w = random_buffer(DType::kF64, {vocab, d}, 42);
  std::vector<int32_t> targets = {3, -1, 0, 6, 2};
  auto loss = [&] {
    return ref::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets, 1.0, View(),
                                      View())
        .loss_sum;
  };
  Buffer dh(DType::kF64, {n, d}), dw(DType::kF64, {vocab, d});
  CrossEntropyResult r = ref::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets,
                                                    1.0, dh.view(), dw.view());
  EXPECT_EQ(r.count, 4);
  EXPECT_EQ(r.loss_sum, loss());
  const double step = 1e-6;
  for (auto [param, grad] : {std::pair{&h, &dh}, std::pair{&w, &dw}}) {
    for (int64_t i = 0; i < param->numel(); ++i) {
      double saved = param->data<double>()[i];
      param->data<double>()[i] = saved + step;
      double up = loss();
      param->data<double>()[i] = saved - step;
      double down = loss();
      param->data<double>()[i] = saved;
      EXPECT_NEAR(grad->data<double>()[i], (up - down) / (2 * step), 1e-7) << "element " << i;
    }
  }
  for (int64_t j = 0; j < d; ++j) EXPECT_EQ(dh.data<double>()[1 * d + j], 0.0);
}

// Logits of several hundred: a naive exp would overflow; both kernels must stay finite and agree.
TEST(CrossEntropy, LargeLogitsStayFinite) {
  const int64_t n = 9, d = 8, vocab = 40, chunk = 4;
  Buffer h = random_buffer(DType::kF32, {n, d}, 51, -10.0, 10.0);
  Buffer w = random_buffer(DType::kF32, {vocab, d}, 52, -5.0, 5.0);
  std::vector<int32_t> targets = make_targets(n, vocab, 53, 4);
  Buffer scratch(DType::kF32, {chunk, vocab});
  Buffer dh(DType::kF32, {n, d}), dw(DType::kF32, {vocab, d});
  Buffer dh_ref(DType::kF32, {n, d}), dw_ref(DType::kF32, {vocab, d});
  CrossEntropyResult want = ref::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(),
                                                       targets, 1.0, dh_ref.view(), dw_ref.view());
  CrossEntropyResult got = cpu::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets,
                                                      1.0, scratch.view(), dh.view(), dw.view());
  ASSERT_TRUE(std::isfinite(got.loss_sum));
  ASSERT_TRUE(std::isfinite(want.loss_sum));
  EXPECT_GT(want.loss_sum, 100.0);  // the targets are random, so far from the row maxima
  EXPECT_NEAR(got.loss_sum, want.loss_sum, 1e-5 * std::abs(want.loss_sum));
  for (int64_t i = 0; i < dh.numel(); ++i) ASSERT_TRUE(std::isfinite(dh.f32()[i])) << i;
  for (int64_t i = 0; i < dw.numel(); ++i) ASSERT_TRUE(std::isfinite(dw.f32()[i])) << i;
  EXPECT_TENSOR_NEAR(dh.view(), dh_ref.view(), (testkit::Tolerance{1e-3, 1e-3}));
  EXPECT_TENSOR_NEAR(dw.view(), dw_ref.view(), (testkit::Tolerance{1e-3, 1e-3}));
}

}  // namespace
}  // namespace symphony
