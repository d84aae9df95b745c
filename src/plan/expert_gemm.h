#pragma once
// Time of the routed experts' grouped GEMMs on one GPU for one micro-batch, from the shape of
// each expert's GEMMs. A GPU holds `experts` = E / ep experts and computes the `rows` routed token
// copies it receives (n / tp * K, times the imbalance of the busiest GPU), so each expert
// multiplies M = rows / experts rows: fine-grained experts (many narrow experts per GPU) and few
// tokens per micro-batch make M, and the expert width F, small.
//
// Each pass is a roofline over the whole group, max(FLOPs / GEMM rate, bytes / HBM rate), whose
// bytes are what the GEMMs must move through HBM, not only the weights:
//   forward          fc1 (D -> (m-1) F) and fc2 (F -> D): read the input rows and the weights,
//                    write the output rows
//   input gradient   the same shapes transposed: read the output gradient and the weights,
//                    write the input gradient
//   weight gradient  read the input rows and the output gradient, read and write the accumulated
//                    gradient of every weight (gradient-accumulation fusion, as Megatron-Core and
//                    the engine accumulate into fp32 main gradients every micro-batch)
// With few rows per expert the traffic of the weights and of their gradients dominates (the
// arithmetic intensity of a weight-gradient GEMM is M / (bytes per accumulated gradient) FLOP per
// byte); with narrow experts (small F) the rows' traffic does. Either makes the GEMMs memory
// bound below the accelerator's ratio of GEMM rate to HBM bandwidth, so the achieved fraction of
// the GEMM rate falls with M and F the way measured grouped GEMMs do, from the same two
// datasheet-derived rates as every other roofline of the step.

#include <cstdint>

namespace symphony::plan {

struct ExpertGemmShape {
  double rows = 0;        // routed token copies this GPU computes (all its experts together)
  int64_t experts = 1;    // experts on this GPU
  int64_t hidden = 0;     // D
  int64_t width = 0;      // F, moe_intermediate_size
  int64_t matrices = 3;   // m: 3 for gated kinds (gate and up fused into fc1), 2 otherwise
};

// Bytes per element of each operand.
struct ExpertGemmBytes {
  double input = 2;        // GEMM inputs (rows and output gradients): 1 for fp8
  double weight = 2;       // weights as the GEMM reads them: 1 for fp8
  double output = 2;       // GEMM outputs (activations and input gradients)
  double accumulator = 4;  // one accumulated weight gradient, read and written per micro-batch
};

struct ExpertGemmRates {
  double flops = 0;  // achieved GEMM FLOP/s
  double bytes = 0;  // achieved HBM bytes/s
};

struct ExpertGemmTime {
  double forward = 0;
  double backward_input = 0;
  double backward_weight = 0;
  double flops = 0;  // forward FLOPs (2 M K N over both GEMMs and all experts)
};

// REQUIRES: rates positive.
ExpertGemmTime expert_gemm_time(const ExpertGemmShape& shape, const ExpertGemmBytes& bytes,
                                const ExpertGemmRates& rates);

// The fraction of the GEMM rate the three passes achieve together: their FLOPs (3x the forward's)
// over the rate, over their time; 1 when every pass is compute bound. For --explain and tests.
double expert_gemm_efficiency(const ExpertGemmShape& shape, const ExpertGemmBytes& bytes,
                              const ExpertGemmRates& rates);

}  // namespace symphony::plan
