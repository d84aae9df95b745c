// The LM head fused with cross-entropy (cpu::lm_head_cross_entropy, forward and backward) on the
// benchmark presets' shapes, for several chunk sizes: the rows of logits held at once trade the
// GEMMs' efficiency (more rows) against the logits' cache footprint (fewer).
// Args: N (rows), V (vocabulary), D (hidden), chunk. GFLOP/s counts the three GEMMs, 6 N V D.

#include <benchmark/benchmark.h>

#include <vector>

#include "bench_fill.h"
#include "kernels/cross_entropy.h"
#include "tensor/buffer.h"

namespace symphony {
namespace {

using bench::filled;

void BM_LmHeadCrossEntropy(benchmark::State& state) {
  const int64_t n = state.range(0), v = state.range(1), d = state.range(2), chunk = state.range(3);
  Buffer h = filled({n, d}, 1, 1.f), w = filled({v, d}, 2, 0.05f);
  Buffer scratch(DType::kF32, {chunk, v}), dh(DType::kF32, {n, d}), dw(DType::kF32, {v, d});
  std::vector<int32_t> targets(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) targets[size_t(i)] = int32_t((i * 7919) % v);
  for (auto _ : state) {
    CrossEntropyResult r =
        cpu::lm_head_cross_entropy(Precision::kFp32, h.view(), w.view(), targets, 1.0 / double(n),
                                   scratch.view(), dh.view(), dw.view());
    benchmark::DoNotOptimize(r.loss_sum);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      6.0 * double(n) * double(v) * double(d) * double(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_LmHeadCrossEntropy)
    ->ArgNames({"N", "V", "D", "chunk"})
    ->ArgsProduct({{2048}, {8192}, {512}, {128, 256, 512, 1024, 2048}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace symphony
