#pragma once
// SYM_VECTORIZED marks a hot inner function for function multi-versioning: GCC emits an AVX2+FMA
// (x86-64-v3) clone and a portable clone and picks one at load time from the CPU's features, so
// one binary runs everywhere and is fast where AVX2 exists. Put it on per-row helpers, not on
// functions that open OpenMP regions (the outlined region would not be cloned).

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SYM_VECTORIZED __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SYM_VECTORIZED
#endif
