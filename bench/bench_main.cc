// The one main() of symphony_bench: each bench/*_bench.cc only registers benchmarks.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
