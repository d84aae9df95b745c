#pragma once
// The per-row steps of the fast (f32) softmax cross-entropy, shared by the fused LM-head kernel
// (kernels/cross_entropy_cpu.cc) and its vocabulary-parallel form (model/vocab_parallel_loss.h),
// so that one rank of the latter reproduces the former bit for bit.

#include <cstdint>

namespace symphony::cpu {

// The largest element of row[0, n). REQUIRES: n >= 1.
float ce_row_max(const float* row, int64_t n);
// sum over the row of e^(row[v] - top), as float partial sums over blocks of 256 (so the loop
// vectorises) added up in double; with `store` the row is overwritten with the exponentials.
// REQUIRES: top >= every element (the exponent is never positive).
double ce_row_exp_sum(float* row, int64_t n, float top, bool store);
// row[v] *= scale.
void ce_row_scale(float* row, int64_t n, float scale);

}  // namespace symphony::cpu
