// cpu:: SwiGLU activation, forward and backward, on the dense benchmark preset's MLP shape.
// Args: rows (tokens), cols (intermediate size). GB/s counts the bytes each pass reads and writes.

#include <benchmark/benchmark.h>

#include "bench_fill.h"
#include "kernels/swiglu.h"
#include "tensor/buffer.h"

namespace symphony {
namespace {

using bench::filled;

void BM_SwigluForward(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Buffer g = filled({rows, cols}, 1, 4.f), u = filled({rows, cols}, 2);
  Buffer h(DType::kF32, {rows, cols});
  for (auto _ : state) {
    cpu::swiglu_forward(g.view(), u.view(), h.view());
    benchmark::DoNotOptimize(h.f32());
  }
  state.counters["GB/s"] = benchmark::Counter(
      3.0 * 4 * double(rows * cols * state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_SwigluBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Buffer g = filled({rows, cols}, 1, 4.f), u = filled({rows, cols}, 2);
  Buffer dh = filled({rows, cols}, 3);
  Buffer dg(DType::kF32, {rows, cols}), du(DType::kF32, {rows, cols});
  for (auto _ : state) {
    cpu::swiglu_backward(g.view(), u.view(), dh.view(), dg.view(), du.view());
    benchmark::DoNotOptimize(dg.f32());
  }
  state.counters["GB/s"] = benchmark::Counter(
      5.0 * 4 * double(rows * cols * state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

BENCHMARK(BM_SwigluForward)->Args({2048, 1536})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SwigluBackward)->Args({2048, 1536})->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace symphony
