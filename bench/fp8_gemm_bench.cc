// The cost of simulating FP8 (model/fp8_gemm.h) over the fp32 GEMM it wraps, on the forward GEMM
// of a linear layer, y = x W^T. Args: tokens, in, out, and the error check interval (0: the plain
// fp32 gemm, the baseline). The blockwise recipe; GFLOP/s counts 2 * tokens * in * out.

#include <benchmark/benchmark.h>

#include "bench_fill.h"
#include "kernels/gemm.h"
#include "model/fp8_gemm.h"
#include "tensor/buffer.h"

namespace symphony {
namespace {

using bench::filled;

void BM_Fp8GemmForward(benchmark::State& state) {
  const int64_t tokens = state.range(0), in = state.range(1), out = state.range(2);
  const int interval = int(state.range(3));
  Buffer x = filled({tokens, in}, 1), w = filled({out, in}, 2, 0.05f);
  Buffer y(DType::kF32, {tokens, out});
  Fp8Recipe recipe;
  recipe.error_check_interval = interval > 0 ? interval : 1;
  Fp8SiteRegistry sites(recipe);
  const Fp8SiteId id = sites.add("fwd", Fp8Operand::kActivation, Fp8Operand::kWeight);
  Fp8GemmWorkspace workspace(fp8_gemm_workspace_size(recipe, Fp8Operand::kActivation,
                                                     Fp8Operand::kWeight, Trans::kNo, Trans::kYes,
                                                     x.shape(), w.shape()));
  for (auto _ : state) {
    if (interval == 0) {
      gemm(Exec::cpu(), Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(), 0.0, y.view());
    } else {
      fp8_gemm(Exec::cpu(), sites, id, workspace, Trans::kNo, Trans::kYes, 1.0, x.view(), w.view(),
               0.0, y.view());
    }
    benchmark::DoNotOptimize(y.f32());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * double(tokens * in * out * state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Fp8GemmForward)
    ->Args({2048, 1024, 1024, 0})
    ->Args({2048, 1024, 1024, 1})
    ->Args({2048, 1024, 1024, 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace symphony
