// BF16 GEMM, fast version (kernels/gemm.h states the contract).
//
// Native path: one oneDNN matmul primitive per (trans_a, trans_b, alpha, beta) and thread, with
// every dimension and leading dimension given at execution (DNNL_RUNTIME_DIM_VAL). oneDNN 2.6
// runs those on its JIT bf16 GEMM (vdpbf16ps), measured as fast as the shape-specialised brgemm
// primitives on the training shapes, while creating one costs a tenth as much; MoE expert GEMMs
// change their row counts every step, so shape-keyed primitives would be created again and
// again. beta is a sum post-op, alpha an output scale.
#if defined(SYMPHONY_BLAS_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "core/check.h"
#include "kernels/bf16_convert.h"
#include "kernels/gemm.h"
#include "tensor/buffer.h"

namespace symphony::cpu {
namespace {

// This thread's copies of A and B (bf16 patterns, or bf16 values held in fp32), grown to the
// largest GEMM and kept: a training step repeats the same shapes.
class Scratch {
 public:
  void* reserve(int64_t bytes) {
    if (bytes > buffer_.bytes()) {
      buffer_ = Buffer(DType::kF32, {(bytes + 3) / 4}, MemoryCategory::kActivations);
      ++generation_;
    }
    return buffer_.view().raw();
  }
  int64_t bytes() const { return buffer_.empty() ? 0 : buffer_.bytes(); }
  // Counts the times the buffer was replaced (its contents lost).
  int64_t generation() const { return generation_; }

 private:
  Buffer buffer_;
  int64_t generation_ = 0;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The operand of this thread's Bf16SharedOperand scope, and whether the start of the scratch
// holds its converted copy (made in the scratch's `generation`).
struct SharedOperand {
  bool active = false;
  const void* data = nullptr;
  Shape shape;
  bool held = false;
  int64_t generation = 0;
  size_t held_elem_bytes = 0;  // of the held copy: bf16 patterns (2) or rounded floats (4)

  bool matches(ConstView v) const { return active && v.raw() == data && v.shape() == shape; }
};

SharedOperand& shared_operand() {
  thread_local SharedOperand s;
  return s;
}

std::atomic<bool> g_sharing_enabled{true};

std::atomic<int64_t> g_converted_elems{0};

// Converts A and B with `convert(view, out)` into the scratch, as elements of type T, reusing
// the shared operand's copy where the GEMM takes it; returns where op A and B lie.
template <typename T, typename Convert>
std::pair<const T*, const T*> converted_operands(ConstView a, ConstView b, Convert convert) {
  const int64_t na = a.numel(), nb = b.numel();
  T* base = static_cast<T*>(scratch().reserve((na + nb) * int64_t(sizeof(T))));
  SharedOperand& s = shared_operand();
  auto run = [&](ConstView v, T* out) {
    convert(v, out);
    g_converted_elems.fetch_add(v.numel(), std::memory_order_relaxed);
  };
  const bool a_shared = s.matches(a), b_shared = !a_shared && s.matches(b);
  if (!a_shared && !b_shared) {
    // The scratch's start now holds this GEMM's A. (C never aliases A or B: a GEMM that writes
    // the shared operand passes here.)
    s.held = false;
    run(a, base);
    run(b, base + na);
    return {base, base + na};
  }
  // The shared operand first, the other one after it: together the size of this GEMM's inputs.
  if (!s.held || s.generation != scratch().generation() || s.held_elem_bytes != sizeof(T)) {
    run(a_shared ? a : b, base);
    s.held = true;
    s.generation = scratch().generation();
    s.held_elem_bytes = sizeof(T);
  }
  if (a.raw() == b.raw() && a.shape() == b.shape()) return {base, base};
  T* other = base + (a_shared ? na : nb);
  run(a_shared ? b : a, other);
  return a_shared ? std::pair<const T*, const T*>{base, other}
                  : std::pair<const T*, const T*>{other, base};
}

int64_t element_bytes(Bf16GemmPath path) { return path == Bf16GemmPath::kNative ? 2 : 4; }

// The product's dimensions: op(A) (m, k), op(B) (k, n).
struct Dims {
  int64_t m, n, k;
};
Dims dims_of(Trans trans_a, ConstView a, View c) {
  return {c.dim(0), c.dim(1), trans_a == Trans::kNo ? a.dim(1) : a.dim(0)};
}

// C = beta * C for an empty inner dimension, as the fp32 path does it.
void scale_only(double beta, View c) {
  float* cf = c.f32();
  for (int64_t i = 0; i < c.numel(); ++i) cf[i] = beta == 0.0 ? 0.f : float(beta) * cf[i];
}

void gemm_rounded_fp32(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b,
                       double beta, View c) {
  const auto [a_round, b_round] = converted_operands<float>(a, b, [](ConstView v, float* out) {
    bf16_round_f32({v.f32(), size_t(v.numel())}, {out, size_t(v.numel())});
  });
  gemm(trans_a, trans_b, alpha, ConstView(a_round, DType::kF32, a.shape()),
       ConstView(b_round, DType::kF32, b.shape()), beta, c);
}

#if defined(SYMPHONY_BLAS_ONEDNN)
class OnednnMatmuls {
 public:
  OnednnMatmuls() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  void run(Trans trans_a, Trans trans_b, float alpha, float beta, Dims d, const uint16_t* a,
           const uint16_t* b, float* c) {
    using dnnl::memory;
    const dnnl::matmul& mm = primitive(trans_a, trans_b, alpha, beta);
    // op(A) (m, k) and op(B) (k, n) as strided views of the row-major copies.
    const memory::desc a_md({d.m, d.k}, memory::data_type::bf16,
                            trans_a == Trans::kNo ? memory::dims{d.k, 1} : memory::dims{1, d.m});
    const memory::desc b_md({d.k, d.n}, memory::data_type::bf16,
                            trans_b == Trans::kNo ? memory::dims{d.n, 1} : memory::dims{1, d.k});
    const memory::desc c_md({d.m, d.n}, memory::data_type::f32, memory::dims{d.n, 1});
    memory a_mem(a_md, engine_, const_cast<uint16_t*>(a));
    memory b_mem(b_md, engine_, const_cast<uint16_t*>(b));
    memory c_mem(c_md, engine_, c);
    mm.execute(stream_, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    stream_.wait();
  }

 private:
  struct Entry {
    Trans trans_a, trans_b;
    float alpha, beta;
    dnnl::matmul matmul;
  };

  const dnnl::matmul& primitive(Trans trans_a, Trans trans_b, float alpha, float beta) {
    for (const Entry& e : entries_)
      if (e.trans_a == trans_a && e.trans_b == trans_b && e.alpha == alpha && e.beta == beta)
        return e.matmul;
    using dnnl::memory;
    constexpr memory::dim kAny = DNNL_RUNTIME_DIM_VAL;
    const memory::desc a_md({kAny, kAny}, memory::data_type::bf16,
                            trans_a == Trans::kNo ? memory::dims{kAny, 1} : memory::dims{1, kAny});
    const memory::desc b_md({kAny, kAny}, memory::data_type::bf16,
                            trans_b == Trans::kNo ? memory::dims{kAny, 1} : memory::dims{1, kAny});
    const memory::desc c_md({kAny, kAny}, memory::data_type::f32, memory::dims{kAny, 1});
    dnnl::primitive_attr attr;
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    if (beta != 0.f) {
      dnnl::post_ops ops;
      ops.append_sum(beta);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine_);
    entries_.push_back({trans_a, trans_b, alpha, beta, dnnl::matmul(pd)});
    return entries_.back().matmul;
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  // A handful: callers use alpha 1 and beta 0 or 1.
  std::vector<Entry> entries_;
};

void gemm_native(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
                 View c) {
  const auto [a_bf16, b_bf16] = converted_operands<uint16_t>(a, b, [](ConstView v, uint16_t* out) {
    bf16_from_f32({v.f32(), size_t(v.numel())}, {out, size_t(v.numel())});
  });
  // Engine code does not throw: a oneDNN failure (an unsupported configuration) stops the run
  // with its message.
  try {
    thread_local OnednnMatmuls matmuls;
    matmuls.run(trans_a, trans_b, float(alpha), float(beta), dims_of(trans_a, a, c), a_bf16, b_bf16,
                c.f32());
  } catch (const dnnl::error& e) {
    SYM_CHECK(false, "oneDNN bf16 matmul failed: {} (status {})", e.what(), int(e.status));
  }
}
#endif

}  // namespace

Bf16GemmPath bf16_gemm_path() {
#if defined(SYMPHONY_BLAS_ONEDNN) && defined(__x86_64__) && defined(__GNUC__)
  // Every CPU with AMX-BF16 also has AVX-512 BF16; oneDNN picks AMX itself where it exists.
  static const Bf16GemmPath path = bf16_isa_supported(Bf16Isa::kAvx512Bf16)
                                       ? Bf16GemmPath::kNative
                                       : Bf16GemmPath::kRoundedFp32;
  return path;
#else
  return Bf16GemmPath::kRoundedFp32;
#endif
}

const char* bf16_gemm_path_name(Bf16GemmPath path) {
  return path == Bf16GemmPath::kNative ? "oneDNN bf16 matmul" : "bf16-rounded fp32 GEMM";
}

void gemm_bf16(Bf16GemmPath path, Trans trans_a, Trans trans_b, double alpha, ConstView a,
               ConstView b, double beta, View c) {
  SYM_CHECK(a.dtype() == DType::kF32 && b.dtype() == DType::kF32 && c.dtype() == DType::kF32,
            "gemm_bf16 takes fp32 views");
  SYM_CHECK(path == Bf16GemmPath::kRoundedFp32 || bf16_gemm_path() == Bf16GemmPath::kNative,
            "gemm_bf16: the native path needs oneDNN and AVX-512 BF16");
  const Dims d = dims_of(trans_a, a, c);
  if (d.m == 0 || d.n == 0) return;
  if (d.k == 0) return scale_only(beta, c);
#if defined(SYMPHONY_BLAS_ONEDNN)
  if (path == Bf16GemmPath::kNative) return gemm_native(trans_a, trans_b, alpha, a, b, beta, c);
#endif
  gemm_rounded_fp32(trans_a, trans_b, alpha, a, b, beta, c);
}

void gemm_bf16(Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b, double beta,
               View c) {
  gemm_bf16(bf16_gemm_path(), trans_a, trans_b, alpha, a, b, beta, c);
}

void gemm(Precision precision, Trans trans_a, Trans trans_b, double alpha, ConstView a, ConstView b,
          double beta, View c) {
  SYM_CHECK(precision != Precision::kFp8, "gemm: fp8 GEMMs are not available");
  if (precision == Precision::kBf16) return gemm_bf16(trans_a, trans_b, alpha, a, b, beta, c);
  gemm(trans_a, trans_b, alpha, a, b, beta, c);
}

int64_t gemm_bf16_scratch_bytes(int64_t elems) {
  return (elems * element_bytes(bf16_gemm_path()) + 3) / 4 * 4;  // whole floats of a Buffer
}

void gemm_bf16_reserve(int64_t elems) { scratch().reserve(gemm_bf16_scratch_bytes(elems)); }

int64_t gemm_bf16_scratch_held_bytes() { return scratch().bytes(); }

void gemm_bf16_reserve_workers(int64_t elems) {
  const int64_t bytes = gemm_bf16_scratch_bytes(elems);
#pragma omp parallel
  if (omp_get_thread_num() != 0) scratch().reserve(bytes);
}

int64_t gemm_bf16_converted_elems() { return g_converted_elems.load(std::memory_order_relaxed); }

}  // namespace symphony::cpu

namespace symphony {

Bf16SharedOperand::Bf16SharedOperand(ConstView operand) {
  cpu::SharedOperand& s = cpu::shared_operand();
  SYM_CHECK(!s.active, "Bf16SharedOperand: one scope per thread at a time");
  if (!enabled() || operand.dtype() != DType::kF32) return;
  s = {true, operand.raw(), operand.shape(), false, 0, 0};
}

Bf16SharedOperand::~Bf16SharedOperand() { cpu::shared_operand() = {}; }

void Bf16SharedOperand::set_enabled(bool enabled) { cpu::g_sharing_enabled = enabled; }
bool Bf16SharedOperand::enabled() { return cpu::g_sharing_enabled; }

}  // namespace symphony
