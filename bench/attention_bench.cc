// cpu:: causal attention, forward and backward, on the training shapes.
// Args: B, T, H, Hkv, Dh. The GFLOP/s counter counts the useful multiply-adds of the causal
// products, 4 Dh flops per visible (query, key) pair forward and 10 Dh backward (dS, dP, dq, dk,
// dv), not the scores the backward recomputes.

#include <benchmark/benchmark.h>

#include "kernels/attention.h"
#include "bench_fill.h"
#include "tensor/buffer.h"

namespace symphony {
namespace {

using bench::filled;

struct Inputs {
  AttentionShape s;
  Buffer q, k, v, dout, out, lse, dq, dk, dv;

  explicit Inputs(const AttentionShape& shape) : s(shape) {
    const int64_t nq = s.batch * s.q_len, nkv = s.batch * s.kv_len;
    const int64_t qd = s.heads * s.head_dim, kvd = s.kv_heads * s.head_dim;
    q = filled({nq, qd}, 1);
    k = filled({nkv, kvd}, 2);
    v = filled({nkv, kvd}, 3);
    dout = filled({nq, qd}, 4);
    out = Buffer(DType::kF32, {nq, qd});
    lse = Buffer(DType::kF32, {nq, s.heads});
    dq = Buffer(DType::kF32, {nq, qd});
    dk = Buffer(DType::kF32, {nkv, kvd});
    dv = Buffer(DType::kF32, {nkv, kvd});
  }
  void forward() {
    cpu::attention_forward(s, q.view(), k.view(), v.view(), out.view(), lse.view());
  }
  void backward() {
    cpu::attention_backward(s, q.view(), k.view(), v.view(), out.view(), lse.view(), dout.view(),
                            dq.view(), dk.view(), dv.view());
  }
};

AttentionShape shape_of(const benchmark::State& state) {
  return {.batch = state.range(0),
          .q_len = state.range(1),
          .kv_len = state.range(1),
          .heads = state.range(2),
          .kv_heads = state.range(3),
          .head_dim = state.range(4)};
}

double visible_pairs(const AttentionShape& s) {
  return double(s.batch) * double(s.heads) * double(s.q_len) * double(s.q_len + 1) / 2.0;
}

void set_rate(benchmark::State& state, double flops_per_call) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_call * double(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_AttentionForward(benchmark::State& state) {
  Inputs in(shape_of(state));
  for (auto _ : state) {
    in.forward();
    benchmark::DoNotOptimize(in.out.f32());
  }
  set_rate(state, 4.0 * double(in.s.head_dim) * visible_pairs(in.s));
}

void BM_AttentionBackward(benchmark::State& state) {
  Inputs in(shape_of(state));
  in.forward();
  for (auto _ : state) {
    in.backward();
    benchmark::DoNotOptimize(in.dq.f32());
  }
  set_rate(state, 10.0 * double(in.s.head_dim) * visible_pairs(in.s));
}

void BM_AttentionForwardBackward(benchmark::State& state) {
  Inputs in(shape_of(state));
  for (auto _ : state) {
    in.forward();
    in.backward();
    benchmark::DoNotOptimize(in.dq.f32());
  }
  set_rate(state, 14.0 * double(in.s.head_dim) * visible_pairs(in.s));
}

void training_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "T", "H", "Hkv", "Dh"});
  b->Args({8, 256, 8, 8, 64});
  b->Args({1, 2048, 8, 8, 64});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

BENCHMARK(BM_AttentionForward)->Apply(training_shapes);
BENCHMARK(BM_AttentionBackward)->Apply(training_shapes);
BENCHMARK(BM_AttentionForwardBackward)->Apply(training_shapes);

}  // namespace
}  // namespace symphony
