#pragma once
// Exec: where and how an op runs. Passed explicitly to every dispatching kernel; never global.
// Dispatch rule (each kernels/<op>.cc): kF64 tensors or KernelImpl::kRef run the reference
// kernel; otherwise the device's fast kernel runs.
// `matmul` is the precision of gemm() on fp32 tensors (kernels/gemm.h), the only ops that run
// below fp32: with kBf16 a GEMM rounds its inputs to bf16 and accumulates in fp32. Every other
// kernel ignores it.
// `fp8`, when set, runs the linear layers of model/linear.h as simulated FP8 GEMMs
// (model/fp8_linears.h, train.precision = "fp8"); other GEMMs run in `matmul` (then bf16).

#include <cstdint>

#include "core/precision.h"

namespace symphony {

class Fp8Linears;

enum class Device : uint8_t { kCpu, kCuda };
enum class KernelImpl : uint8_t {
  kFast,  // vectorised, multi-threaded
  kRef,   // naive reference, double accumulation (debugging: --kernels=ref)
};

struct Exec {
  Device device = Device::kCpu;
  KernelImpl impl = KernelImpl::kFast;
  Precision matmul = Precision::kFp32;
  Fp8Linears* fp8 = nullptr;

  static Exec cpu() { return Exec{}; }
  static Exec reference() { return Exec{Device::kCpu, KernelImpl::kRef}; }
  // This Exec with every GEMM in `precision`, linear layers included (no FP8 sites): e.g. fp32
  // for the router's scores in a bf16 or fp8 run.
  Exec with_matmul(Precision precision) const {
    Exec ex = *this;
    ex.matmul = precision;
    ex.fp8 = nullptr;
    return ex;
  }
};

}  // namespace symphony
