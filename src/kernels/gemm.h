#pragma once
// General matrix multiply on 2-d row-major views:
//   C = alpha * op(A) * op(B) + beta * C,   op(X) = X or X^T.
// op(A): (M, K), op(B): (K, N), C: (M, N). C must not alias A or B.
// beta = 0 overwrites C (NaNs in C do not propagate); beta = 1 accumulates (gradients).
// The fast path calls the BLAS chosen at build time (cmake/blas.cmake).
//
// BF16 GEMM (gemm_bf16; what gemm() runs on fp32 views when ex.matmul is Precision::kBf16): the
// same contract, with every element of A and B first rounded to bf16 (kernels/bf16_convert.h);
// the products of bf16 values are exact in fp32, the sums run in fp32 (ref: double) and C stays
// fp32. The fast version converts A and B into this thread's scratch (grown to the largest GEMM
// it has seen, or reserved up front with gemm_bf16_reserve; counted as activations) and runs
// oneDNN's bf16 matmul where the CPU has AVX-512 BF16 (AMX CPUs have it); elsewhere, or with
// another BLAS, it rounds A and B to bf16 values held in fp32 and runs the fp32 GEMM, which
// agrees with the native path up to the order of the fp32 sums.
//
// A Bf16SharedOperand scope lets several bf16 GEMMs that read one operand convert it once.
//
// Dispatch: f64 views run ref::gemm (gradient checks), whatever ex.matmul says; KernelImpl::kRef
// runs ref::gemm or ref::gemm_bf16 by ex.matmul; otherwise cpu::gemm or cpu::gemm_bf16.

#include "core/precision.h"
#include "tensor/exec.h"
#include "tensor/view.h"

namespace symphony {

enum class Trans : uint8_t { kNo, kYes };

void gemm(const Exec& ex, Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b,
          double beta, View c);

// Bf16SharedOperand: while one is alive, the fast bf16 GEMMs this thread runs that take
// `operand` (the same data and shape) as A or B convert it once and reuse the copy: the
// projections of one input (gate and up; q, k and v), a gradient that feeds both the input- and
// the weight-gradient GEMM. Their results are those of converting it each time (the same
// rounding of the same values). A bf16 GEMM that does not take it (a GEMM writing it among them:
// C never aliases A or B) gives the copy up, as its own A and B need the scratch, which stays the
// size of the largest GEMM's inputs; the next GEMM that takes it converts it again. Reference and
// fp32 GEMMs ignore it.
// REQUIRES: nothing but bf16 GEMMs writes `operand` while the scope is alive; one scope per
// thread at a time.
class Bf16SharedOperand {
 public:
  explicit Bf16SharedOperand(ConstView operand);
  ~Bf16SharedOperand();
  Bf16SharedOperand(const Bf16SharedOperand&) = delete;
  Bf16SharedOperand& operator=(const Bf16SharedOperand&) = delete;

  // Process-wide; on by default. Off, every GEMM converts its operands itself (tests and
  // benchmarks compare the two).
  static void set_enabled(bool enabled);
  static bool enabled();
};

namespace ref {
void gemm(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
          View c);
// REQUIRES: fp32 views.
void gemm_bf16(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
               View c);
}  // namespace ref

namespace cpu {
void gemm(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
          View c);
// Name of the linked BLAS library and its thread count, for reports.
const char* blas_name();
// Whether a GEMM called inside an OpenMP parallel region runs on the calling thread alone (the
// BLAS's threads are OpenMP's, and nested regions are inactive): not with OpenBLAS's pthreads
// build, whose own threads would then oversubscribe the cores.
bool blas_runs_nested();

// The two ways of running a BF16 GEMM: oneDNN's bf16 matmul, or bf16-rounded fp32 inputs through
// the fp32 GEMM.
enum class Bf16GemmPath : uint8_t { kNative, kRoundedFp32 };
// kNative where the build links oneDNN and the CPU has AVX-512 BF16 (as every CPU with AMX-BF16
// has; oneDNN runs AMX there).
Bf16GemmPath bf16_gemm_path();
const char* bf16_gemm_path_name(Bf16GemmPath path);
// REQUIRES: fp32 views, shapes as gemm() checks them.
void gemm_bf16(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
               View c);
// On `path` (tests run both). REQUIRES: kNative only where bf16_gemm_path() is kNative.
void gemm_bf16(Bf16GemmPath path, Trans trans_a, Trans trans_b, double alpha, ConstView a,
               ConstView b, double beta, View c);
// gemm() or gemm_bf16() by `precision` (kFp8 is refused), for fast kernels that run their own
// GEMMs (the fused LM-head loss).
void gemm(Precision precision, Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b,
          double beta, View c);

// This thread's conversion scratch: the bytes it takes for a GEMM whose A and B hold `elems`
// elements together, on bf16_gemm_path(); growing it now to hold that many (so that a training
// step does not allocate); the bytes it holds. gemm_bf16_reserve_workers grows the scratch of
// every other thread of this thread's OpenMP team the same way (for GEMMs run side by side,
// model/moe/expert_threads.h).
int64_t gemm_bf16_scratch_bytes(int64_t elems);
void gemm_bf16_reserve(int64_t elems);
void gemm_bf16_reserve_workers(int64_t elems);
int64_t gemm_bf16_scratch_held_bytes();
// Elements the fast bf16 GEMMs of every thread have converted (or rounded) from fp32 so far.
int64_t gemm_bf16_converted_elems();
}  // namespace cpu

}  // namespace symphony
