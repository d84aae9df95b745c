#include "kernels/attention.h"

#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

std::string describe(const AttentionShape& s) {
  return fmt::format("B={} q_len={} kv_len={} H={} Hkv={} Dh={} Dv={} scale={}", s.batch, s.q_len,
                     s.kv_len, s.heads, s.kv_heads, s.head_dim, s.value_dim(), s.softmax_scale());
}

// Inputs, outputs and gradients of one attention call.
struct Case {
  AttentionShape s;
  Buffer q, k, v, dout;
  Buffer out, lse, dq, dk, dv;

  // q and k are drawn from [-qk_range, qk_range): a large range gives peaked softmax rows.
  static Case random(const AttentionShape& s, DType dt, uint64_t seed, double qk_range = 1.0) {
    const int64_t nq = s.batch * s.q_len, nkv = s.batch * s.kv_len;
    const int64_t qd = s.heads * s.head_dim, kvd = s.kv_heads * s.head_dim;
    const int64_t od = s.heads * s.value_dim(), vd = s.kv_heads * s.value_dim();
    Case c{s,
           random_buffer(dt, {nq, qd}, seed, -qk_range, qk_range),
           random_buffer(dt, {nkv, kvd}, seed + 1, -qk_range, qk_range),
           random_buffer(dt, {nkv, vd}, seed + 2),
           random_buffer(dt, {nq, od}, seed + 3),
           Buffer(dt, {nq, od}),
           Buffer(dt, {nq, s.heads}),
           Buffer(dt, {nq, qd}),
           Buffer(dt, {nkv, kvd}),
           Buffer(dt, {nkv, vd})};
    return c;
  }
  // An output set of the same shapes (for a second implementation).
  Case outputs_like() const {
    Case c{s,
           {},
           {},
           {},
           {},
           Buffer(out.dtype(), out.shape()),
           Buffer(lse.dtype(), lse.shape()),
           Buffer(dq.dtype(), dq.shape()),
           Buffer(dk.dtype(), dk.shape()),
           Buffer(dv.dtype(), dv.shape())};
    return c;
  }
};

void ref_forward(Case& c) {
  ref::attention_forward(c.s, c.q.view(), c.k.view(), c.v.view(), c.out.view(), c.lse.view());
}
void ref_backward(Case& c) {
  ref::attention_backward(c.s, c.q.view(), c.k.view(), c.v.view(), c.out.view(), c.lse.view(),
                          c.dout.view(), c.dq.view(), c.dk.view(), c.dv.view());
}
using Passes = cpu::AttentionBackwardPasses;

// Runs the fast kernels on c's inputs, writing into `o`'s outputs.
void cpu_forward_backward(const Case& c, Case& o, Passes passes = Passes::kAuto) {
  cpu::attention_forward(c.s, c.q.view(), c.k.view(), c.v.view(), o.out.view(), o.lse.view());
  cpu::attention_backward(c.s, c.q.view(), c.k.view(), c.v.view(), o.out.view(), o.lse.view(),
                          c.dout.view(), o.dq.view(), o.dk.view(), o.dv.view(), passes);
}

void expect_same_bits(const Case& a, const Case& b) {
  for (auto [x, y] : {std::pair{&a.out, &b.out},
                      {&a.lse, &b.lse},
                      {&a.dq, &b.dq},
                      {&a.dk, &b.dk},
                      {&a.dv, &b.dv}})
    EXPECT_EQ(std::memcmp(x->f32(), y->f32(), size_t(x->bytes())), 0);
}

constexpr testkit::Tolerance kOutTol{1e-5, 1e-4};
constexpr testkit::Tolerance kGradTol{2e-5, 5e-4};

void expect_cpu_matches_ref(const AttentionShape& s, uint64_t seed, double qk_range = 1.0) {
  SCOPED_TRACE(describe(s));
  Case c = Case::random(s, DType::kF32, seed, qk_range);
  ref_forward(c);
  ref_backward(c);
  // Both backward schedules match the reference, and each other bit for bit.
  Case one = c.outputs_like(), two = c.outputs_like();
  cpu_forward_backward(c, one, Passes::kOne);
  cpu_forward_backward(c, two, Passes::kTwo);
  for (const Case* o : {&one, &two}) {
    EXPECT_TENSOR_NEAR(o->out.view(), c.out.view(), kOutTol);
    EXPECT_TENSOR_NEAR(o->lse.view(), c.lse.view(), kOutTol);
    EXPECT_TENSOR_NEAR(o->dq.view(), c.dq.view(), kGradTol);
    EXPECT_TENSOR_NEAR(o->dk.view(), c.dk.view(), kGradTol);
    EXPECT_TENSOR_NEAR(o->dv.view(), c.dv.view(), kGradTol);
  }
  expect_same_bits(one, two);
}

TEST(Attention, CpuMatchesReference) {
  const AttentionShape shapes[] = {
      {.batch = 1, .q_len = 1, .kv_len = 1, .heads = 1, .kv_heads = 1, .head_dim = 1},
      {.batch = 2, .q_len = 37, .kv_len = 37, .heads = 4, .kv_heads = 2, .head_dim = 12},
      {.batch = 2, .q_len = 37, .kv_len = 37, .heads = 4, .kv_heads = 4, .head_dim = 64},
      {.batch = 1, .q_len = 64, .kv_len = 64, .heads = 2, .kv_heads = 2, .head_dim = 64},
      {.batch = 2, .q_len = 130, .kv_len = 130, .heads = 4, .kv_heads = 2, .head_dim = 12},
      {.batch = 1, .q_len = 100, .kv_len = 100, .heads = 3, .kv_heads = 1, .head_dim = 80},
  };
  uint64_t seed = 100;
  for (const AttentionShape& s : shapes) expect_cpu_matches_ref(s, seed += 10);
}

// Value heads narrower or wider than the query/key heads (multi-head latent attention: 192 and
// 128 in DeepSeek-V3), widths on and off the kernel's 16-column tiles, and a set scale.
TEST(Attention, CpuMatchesReferenceWithOtherValueWidthAndScale) {
  const AttentionShape shapes[] = {
      {.batch = 2, .q_len = 37, .kv_len = 37, .heads = 4, .kv_heads = 4, .head_dim = 24,
       .v_head_dim = 16},
      {.batch = 1, .q_len = 70, .kv_len = 70, .heads = 2, .kv_heads = 2, .head_dim = 48,
       .v_head_dim = 32},
      {.batch = 2, .q_len = 20, .kv_len = 20, .heads = 4, .kv_heads = 2, .head_dim = 12,
       .v_head_dim = 20, .scale = 0.3},
      {.batch = 1, .q_len = 3, .kv_len = 90, .heads = 3, .kv_heads = 1, .head_dim = 36,
       .v_head_dim = 36, .scale = 0.1},
  };
  uint64_t seed = 500;
  for (const AttentionShape& s : shapes) expect_cpu_matches_ref(s, seed += 10);
}

// Queries are the newest q_len tokens of a longer KV cache, within one key tile and across
// several.
TEST(Attention, CpuMatchesReferenceWithKvCache) {
  const AttentionShape shapes[] = {
      {.batch = 2, .q_len = 1, .kv_len = 9, .heads = 4, .kv_heads = 2, .head_dim = 12},
      {.batch = 2, .q_len = 5, .kv_len = 100, .heads = 4, .kv_heads = 2, .head_dim = 12},
      {.batch = 1, .q_len = 70, .kv_len = 200, .heads = 2, .kv_heads = 1, .head_dim = 64},
  };
  uint64_t seed = 300;
  for (const AttentionShape& s : shapes) expect_cpu_matches_ref(s, seed += 10);
}

TEST(Attention, CpuMatchesReferenceLongSequence) {
  expect_cpu_matches_ref(
      {.batch = 1, .q_len = 1024, .kv_len = 1024, .heads = 2, .kv_heads = 1, .head_dim = 64}, 7);
}

// Scores spanning about +-100 would overflow a softmax without the running max.
TEST(Attention, CpuMatchesReferenceWithLargeScores) {
  expect_cpu_matches_ref(
      {.batch = 1, .q_len = 150, .kv_len = 150, .heads = 2, .kv_heads = 1, .head_dim = 64}, 9,
      /*qk_range=*/4.0);
}

// Each output element is produced by one task in a fixed order, so the fast kernel gives the
// same bits on every run and for every thread count (which also picks the backward schedule:
// with one thread, one pass).
TEST(Attention, CpuIsDeterministicAcrossThreadCounts) {
  const AttentionShape s{
      .batch = 2, .q_len = 150, .kv_len = 150, .heads = 4, .kv_heads = 2, .head_dim = 24};
  Case c = Case::random(s, DType::kF32, 21);
  Case a = c.outputs_like(), b = c.outputs_like(), one = c.outputs_like();
  cpu_forward_backward(c, a);
  cpu_forward_backward(c, b);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  cpu_forward_backward(c, one);
  omp_set_num_threads(threads);
  for (const Case* other : {&b, &one}) expect_same_bits(a, *other);
}

// One query and one key: out = v and lse = q.k / sqrt(Dh). Checks the reference itself.
TEST(Attention, ReferenceSingleKey) {
  const AttentionShape s{
      .batch = 1, .q_len = 1, .kv_len = 1, .heads = 2, .kv_heads = 1, .head_dim = 4};
  Case c = Case::random(s, DType::kF64, 5);
  ref_forward(c);
  for (int64_t h = 0; h < 2; ++h) {
    double qk = 0;
    for (int64_t d = 0; d < 4; ++d) {
      qk += c.q.data<double>()[h * 4 + d] * c.k.data<double>()[d];
      EXPECT_DOUBLE_EQ(c.out.data<double>()[h * 4 + d], c.v.data<double>()[d]);
    }
    EXPECT_NEAR(c.lse.data<double>()[h], qk / 2.0, 1e-14);
  }
}

// Generation with a KV cache gives the last q_len rows of full causal attention over kv_len.
TEST(Attention, ReferenceKvCacheMatchesFullSequenceTail) {
  const int64_t T = 9, tail = 3, H = 4, Hkv = 2, Dh = 5;
  const AttentionShape full{
      .batch = 1, .q_len = T, .kv_len = T, .heads = H, .kv_heads = Hkv, .head_dim = Dh};
  AttentionShape cached = full;
  cached.q_len = tail;
  Case c = Case::random(full, DType::kF64, 17);
  ref_forward(c);
  Buffer q_tail(DType::kF64, {tail, H * Dh}), out(DType::kF64, {tail, H * Dh}),
      lse(DType::kF64, {tail, H});
  testkit::copy_into(c.q.view().rows(T - tail, T), q_tail.view());
  ref::attention_forward(cached, q_tail.view(), c.k.view(), c.v.view(), out.view(), lse.view());
  EXPECT_TENSOR_NEAR(out.view(), c.out.view().rows(T - tail, T), testkit::tolerance<double>());
  EXPECT_TENSOR_NEAR(lse.view(), c.lse.view().rows(T - tail, T), testkit::tolerance<double>());
}

// L = sum(out * r): the reference gradients match central differences in double, with GQA and
// a KV cache so that both the head grouping and the causal offset are exercised.
TEST(Attention, ReferenceBackwardMatchesFiniteDifferences) {
  for (int64_t q_len : {4, 2}) {
    const AttentionShape s{.batch = 2,
                           .q_len = q_len,
                           .kv_len = 4,
                           .heads = 4,
                           .kv_heads = 2,
                           .head_dim = 3,
                           .v_head_dim = q_len == 2 ? 5 : 0,
                           .scale = q_len == 2 ? 0.7 : 0.0};
    SCOPED_TRACE(describe(s));
    Case c = Case::random(s, DType::kF64, 40 + uint64_t(q_len));
    auto loss = [&] {
      ref_forward(c);
      double l = 0;
      for (int64_t i = 0; i < c.out.numel(); ++i)
        l += c.out.data<double>()[i] * c.dout.data<double>()[i];
      return l;
    };
    loss();
    ref_backward(c);
    const double h = 1e-6;
    for (auto [param, grad] : {std::pair{&c.q, &c.dq}, {&c.k, &c.dk}, {&c.v, &c.dv}}) {
      for (int64_t i = 0; i < param->numel(); ++i) {
        double saved = param->data<double>()[i];
        param->data<double>()[i] = saved + h;
        double up = loss();
        param->data<double>()[i] = saved - h;
        double down = loss();
        param->data<double>()[i] = saved;
        EXPECT_NEAR(grad->data<double>()[i], (up - down) / (2 * h), 1e-8) << "element " << i;
      }
    }
  }
}

// The dispatcher sends f64 to the reference and f32 to the fast kernel.
TEST(Attention, DispatchMatchesImplementations) {
  const AttentionShape s{
      .batch = 1, .q_len = 20, .kv_len = 20, .heads = 2, .kv_heads = 1, .head_dim = 8};
  Case c = Case::random(s, DType::kF32, 61);
  Case o = c.outputs_like();
  attention_forward(Exec::cpu(), s, c.q.view(), c.k.view(), c.v.view(), o.out.view(), o.lse.view());
  cpu::attention_forward(s, c.q.view(), c.k.view(), c.v.view(), c.out.view(), c.lse.view());
  EXPECT_EQ(std::memcmp(o.out.f32(), c.out.f32(), size_t(c.out.bytes())), 0);
  attention_forward(Exec::reference(), s, c.q.view(), c.k.view(), c.v.view(), o.out.view(),
                    o.lse.view());
  ref::attention_forward(s, c.q.view(), c.k.view(), c.v.view(), c.out.view(), c.lse.view());
  EXPECT_EQ(std::memcmp(o.out.f32(), c.out.f32(), size_t(c.out.bytes())), 0);
}

}  // namespace
}  // namespace symphony
