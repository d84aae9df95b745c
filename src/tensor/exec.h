#pragma once
// Exec: where and how an op runs. Passed explicitly to every dispatching kernel; never global.
// Dispatch rule (each kernels/<op>.cc): kF64 tensors or KernelImpl::kRef run the reference
// kernel; otherwise the device's fast kernel runs.

#include <cstdint>

namespace symphony {

enum class Device : uint8_t { kCpu, kCuda };
enum class KernelImpl : uint8_t {
  kFast,  // vectorised, multi-threaded
  kRef,   // naive reference, double accumulation (debugging: --kernels=ref)
};

struct Exec {
  Device device = Device::kCpu;
  KernelImpl impl = KernelImpl::kFast;

  static Exec cpu() { return Exec{}; }
  static Exec reference() { return Exec{Device::kCpu, KernelImpl::kRef}; }
};

}  // namespace symphony
