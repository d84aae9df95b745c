#include "plan/expert_gemm.h"

#include <algorithm>

namespace symphony::plan {

ExpertGemmTime expert_gemm_time(const ExpertGemmShape& s, const ExpertGemmBytes& b,
                                const ExpertGemmRates& r) {
  ExpertGemmTime t;
  if (s.rows <= 0 || s.experts <= 0) return t;
  const double rows = s.rows, g = double(s.experts);
  const double d = double(s.hidden), f = double(s.width);
  const double n1 = double(s.matrices - 1) * f;  // fc1's output width: gate and up, or up
  auto pass = [&](double flops, double bytes) { return std::max(flops / r.flops, bytes / r.bytes); };
  // fc1: rows x D by D x n1; fc2: rows x F by F x D. Weights of all local experts.
  const double w1 = g * d * n1, w2 = g * f * d;
  const double fc1_flops = 2.0 * rows * d * n1, fc2_flops = 2.0 * rows * f * d;
  t.flops = fc1_flops + fc2_flops;
  t.forward = pass(fc1_flops, rows * d * b.input + w1 * b.weight + rows * n1 * b.output) +
              pass(fc2_flops, rows * f * b.input + w2 * b.weight + rows * d * b.output);
  // Input gradients: dY of fc2 (rows x D) by its weights to rows x F; of fc1 (rows x n1) to
  // rows x D.
  t.backward_input = pass(fc2_flops, rows * d * b.input + w2 * b.weight + rows * f * b.output) +
                     pass(fc1_flops, rows * n1 * b.input + w1 * b.weight + rows * d * b.output);
  // Weight gradients: inputs and output gradients in, the accumulated gradients read and
  // written.
  t.backward_weight = pass(fc2_flops, rows * (f + d) * b.input + w2 * b.accumulator) +
                      pass(fc1_flops, rows * (d + n1) * b.input + w1 * b.accumulator);
  return t;
}

double expert_gemm_efficiency(const ExpertGemmShape& s, const ExpertGemmBytes& b,
                              const ExpertGemmRates& r) {
  const ExpertGemmTime t = expert_gemm_time(s, b, r);
  const double time = t.forward + t.backward_input + t.backward_weight;
  return time > 0 ? std::min(1.0, 3.0 * t.flops / r.flops / time) : 1.0;
}

}  // namespace symphony::plan
