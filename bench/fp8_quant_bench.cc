// FP8 fake quantization (kernels/fp8_quant.h) on an activation-sized tensor, E4M3.
// Args: rows, cols. Variants: per-tensor current scaling (an amax pass, then the quantize pass),
// 1 x 128 tiles and 128 x 128 blocks (an amax pass per block grid, then the quantize pass), and
// the quantize pass alone with the AVX2/portable version and with the fastest one this CPU runs.
// GB/s counts one read and one write of each element per iteration.

#include <benchmark/benchmark.h>

#include <vector>

#include "bench_fill.h"
#include "kernels/fp8_quant.h"
#include "tensor/buffer.h"

namespace symphony {
namespace {

using bench::filled;

void set_bytes(benchmark::State& state, int64_t numel) {
  state.counters["GB/s"] = benchmark::Counter(8.0 * double(numel * state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void BM_Fp8QuantizeCurrent(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Buffer x = filled({rows, cols}, 1, 3.f), y(DType::kF32, {rows, cols});
  for (auto _ : state) {
    fp8_quantize_current(Exec::cpu(), Fp8Format::kE4M3, Fp8ScaleRounding::kExact, x.view(),
                         y.view());
    benchmark::DoNotOptimize(y.f32());
  }
  set_bytes(state, rows * cols);
}

void BM_Fp8QuantizeBlocks(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1), block_rows = state.range(2);
  const Fp8BlockShape block{block_rows, 128};
  Buffer x = filled({rows, cols}, 1, 3.f), y(DType::kF32, {rows, cols});
  std::vector<float> scales(size_t(fp8_block_count(rows, cols, block)));
  for (auto _ : state) {
    fp8_quantize_blocks(Exec::cpu(), Fp8Format::kE4M3, Fp8ScaleRounding::kExact, block, x.view(),
                        y.view(), scales);
    benchmark::DoNotOptimize(y.f32());
  }
  set_bytes(state, rows * cols);
}

template <Fp8QuantStats (*kVersion)(Fp8Format, Fp8BlockShape, std::span<const float>, ConstView,
                                    View)>
void BM_Fp8FakeQuantizePass(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const Fp8BlockShape block{1, 128};
  Buffer x = filled({rows, cols}, 1, 3.f), y(DType::kF32, {rows, cols});
  std::vector<float> scales(size_t(fp8_block_count(rows, cols, block)), 100.f);
  for (auto _ : state) {
    kVersion(Fp8Format::kE4M3, block, scales, x.view(), y.view());
    benchmark::DoNotOptimize(y.f32());
  }
  set_bytes(state, rows * cols);
}

BENCHMARK(BM_Fp8QuantizeCurrent)->Args({2048, 1536})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Fp8QuantizeBlocks)
    ->Args({2048, 1536, 1})
    ->Args({2048, 1536, 128})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Fp8FakeQuantizePass<cpu::fp8_fake_quantize_avx2>)
    ->Name("BM_Fp8FakeQuantizePass/avx2")
    ->Args({2048, 1536})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Fp8FakeQuantizePass<cpu::fp8_fake_quantize>)
    ->Name("BM_Fp8FakeQuantizePass/fastest")
    ->Args({2048, 1536})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Fp8FakeQuantizePass<ref::fp8_fake_quantize>)
    ->Name("BM_Fp8FakeQuantizePass/ref")
    ->Args({2048, 1536})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace symphony
