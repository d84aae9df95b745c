// The vocabulary-parallel LM head and cross entropy against the one-process fused kernel
// (kernels/cross_entropy.h). Every rank builds the same h, head and targets, computes the whole
// thing alone, then its vocabulary block over a tensor-parallel group of each size that divides
// the world (the world itself, and groups split from it); run with 1, 2 and 4 ranks.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cross_entropy.h"
#include "model/vocab_parallel_loss.h"
#include "parallel/comm.h"
#include "testkit/mpi_world.h"
#include "testkit/tensor_testing.h"

namespace symphony {
namespace {

using testkit::random_buffer;

constexpr int64_t kRows = 37, kDim = 24, kVocab = 64, kChunk = 8;  // 5 chunks, the last of 5

// Targets in [0, V), every 7th row (from row 3) ignored.
std::vector<int32_t> make_targets(uint64_t seed) {
  std::vector<int32_t> t(size_t(kRows), 0);
  for (int64_t i = 0; i < kRows; ++i)
    t[size_t(i)] = i % 7 == 3 ? -1 : int32_t(uniform_at(seed, uint64_t(i)) * double(kVocab));
  return t;
}

// The tensor-parallel groups of size `tp` over the world: consecutive ranks, the world itself
// when it has that size. Collective over the world.
struct TpGroup {
  std::unique_ptr<Comm> owned;
  Comm* comm = nullptr;
};
TpGroup tp_group(int tp) {
  Comm& w = testkit::world();
  TpGroup g;
  if (tp == w.size()) {
    g.comm = &w;
    return g;
  }
  auto split = w.split(w.rank() / tp, w.rank(), fmt::format("tp{}", tp));
  SYM_CHECK(split.has_value(), "{}", split.error().message());
  g.owned = std::move(*split);
  g.comm = g.owned.get();
  return g;
}

// One problem, its one-process answer and the block of it one rank of a group computes.
struct Problem {
  DType dtype;
  Buffer h, w, dw_init;
  std::vector<int32_t> targets;
  double scale = 0;
  CrossEntropyResult want;
  Buffer dh_want, dw_want;

  explicit Problem(DType dt, uint64_t seed) : dtype(dt) {
    h = random_buffer(dtype, {kRows, kDim}, seed);
    w = random_buffer(dtype, {kVocab, kDim}, seed + 1, -0.5, 0.5);
    dw_init = random_buffer(dtype, {kVocab, kDim}, seed + 2);
    targets = make_targets(seed + 3);
    int64_t counted = 0;
    for (int32_t t : targets) counted += t >= 0;
    scale = 1.0 / double(counted);
    dh_want = Buffer(dtype, {kRows, kDim});
    dw_want = testkit::convert(dw_init.view(), dtype);
    Buffer scratch(dtype, {kChunk, kVocab});
    want = lm_head_cross_entropy(Exec::cpu(), h.view(), w.view(), targets, scale, scratch.view(),
                                 dh_want.view(), dw_want.view());
  }
};

struct BlockRun {
  CrossEntropyResult result;
  Buffer dh, dw;
  Status status;
};

// This rank's block of the vocabulary-parallel computation over `tp`; `with_grad` false runs
// evaluation (empty dh and dw).
BlockRun run_block(const Exec& ex, Comm& tp, const Problem& p, bool with_grad) {
  const int64_t vl = kVocab / tp.size(), first = tp.rank() * vl;
  BlockRun r;
  Buffer scratch(p.dtype, {kChunk, vl});
  View dh, dw;
  if (with_grad) {
    r.dh = random_buffer(p.dtype, {kRows, kDim}, 99);  // overwritten
    r.dw = testkit::convert(p.dw_init.view().rows(first, first + vl), p.dtype);
    dh = r.dh.view();
    dw = r.dw.view();
  }
  r.result =
      vocab_parallel_cross_entropy(ex, tp, p.h.view(), p.w.view().rows(first, first + vl), first,
                                   p.targets, p.scale, scratch.view(), dh, dw, r.status);
  return r;
}

bool bitwise_equal(const Buffer& a, const Buffer& b) {
  return a.bytes() == b.bytes() &&
         std::memcmp(a.view().raw(), b.view().raw(), size_t(a.bytes())) == 0;
}

struct Setting {
  const char* name;
  DType dtype;
  bool reference;  // KernelImpl::kRef
  double loss_rtol;
  testkit::Tolerance grad_tol;
};

TEST(VocabParallelLoss, MatchesOneProcess) {
  Comm& world = testkit::world();
  for (const Setting& s : {Setting{"f32", DType::kF32, false, 1e-6, {1e-8, 1e-5}},
                           Setting{"f32 reference kernels", DType::kF32, true, 1e-6, {1e-8, 1e-5}},
                           Setting{"f64", DType::kF64, false, 1e-12, {1e-14, 1e-10}}}) {
    const Exec ex = s.reference ? Exec::reference() : Exec::cpu();
    const Problem p(s.dtype, 1234);
    for (int tp_size = 1; tp_size <= world.size(); tp_size *= 2) {
      SCOPED_TRACE(fmt::format("{}, tp={}", s.name, tp_size));
      TpGroup group = tp_group(tp_size);
      Comm& tp = *group.comm;
      const int64_t vl = kVocab / tp.size(), first = tp.rank() * vl;

      BlockRun got = run_block(ex, tp, p, /*with_grad=*/true);
      ASSERT_TRUE(got.status.is_ok()) << got.status.message();
      EXPECT_EQ(got.result.count, p.want.count);
      EXPECT_NEAR(got.result.loss_sum, p.want.loss_sum, s.loss_rtol * std::abs(p.want.loss_sum));

      // The same result on every rank of the world, every group included.
      double lo = got.result.loss_sum, hi = got.result.loss_sum;
      ASSERT_TRUE(world.all_reduce(std::span(&lo, 1), ReduceOp::kMin).is_ok());
      ASSERT_TRUE(world.all_reduce(std::span(&hi, 1), ReduceOp::kMax).is_ok());
      EXPECT_EQ(lo, hi);

      // dh is this rank's part: the parts sum to the input gradient.
      Buffer dh_sum = testkit::convert(got.dh.view(), s.dtype);
      ASSERT_TRUE(tp.all_reduce(dh_sum.view().raw(), dh_sum.view().numel(),
                                s.dtype == DType::kF64 ? CommDType::kF64 : CommDType::kF32,
                                ReduceOp::kSum)
                      .is_ok());
      EXPECT_TENSOR_NEAR(dh_sum.view(), p.dh_want.view(), s.grad_tol);
      EXPECT_TENSOR_NEAR(got.dw.view(), p.dw_want.view().rows(first, first + vl), s.grad_tol);
      for (int64_t i = 0; i < kRows; ++i) {
        if (p.targets[size_t(i)] >= 0) continue;
        for (int64_t j = 0; j < kDim; ++j)
          ASSERT_EQ(testkit::element(got.dh.view(), i * kDim + j), 0.0) << "ignored row " << i;
      }

      if (tp.size() == 1 && s.dtype == DType::kF32 && !s.reference) {
        // One rank does the fused kernel's arithmetic step for step.
        EXPECT_EQ(got.result.loss_sum, p.want.loss_sum);
        EXPECT_TRUE(bitwise_equal(got.dh, p.dh_want));
        EXPECT_TRUE(bitwise_equal(got.dw, p.dw_want));
      }

      BlockRun eval = run_block(ex, tp, p, /*with_grad=*/false);
      ASSERT_TRUE(eval.status.is_ok()) << eval.status.message();
      EXPECT_EQ(eval.result.count, got.result.count);
      EXPECT_EQ(eval.result.loss_sum, got.result.loss_sum);

      BlockRun again = run_block(ex, tp, p, /*with_grad=*/true);
      ASSERT_TRUE(again.status.is_ok()) << again.status.message();
      EXPECT_EQ(again.result.loss_sum, got.result.loss_sum);
      EXPECT_TRUE(bitwise_equal(again.dh, got.dh));
      EXPECT_TRUE(bitwise_equal(again.dw, got.dw));
    }
  }
}

// Fails its k-th all-reduce (counting from 0) with an error, on every rank alike, without
// communicating; every other operation goes to the wrapped group.
class FailingComm : public Comm {
 public:
  FailingComm(Comm& inner, int fail_at)
      : Comm(inner.rank(), inner.size(), inner.name()), inner_(inner), fail_at_(fail_at) {}

  int all_reduces() const { return all_reduces_; }

  CommHandle all_reduce_async(void* data, int64_t count, CommDType dtype, ReduceOp op) override {
    if (all_reduces_++ == fail_at_)
      return CommHandle::completed(Error::internal("all_reduce {} failed", fail_at_));
    return inner_.all_reduce_async(data, count, dtype, op);
  }
  CommHandle reduce_scatter_async(const void* send, void* recv, int64_t recv_count, CommDType dtype,
                                  ReduceOp op) override {
    return inner_.reduce_scatter_async(send, recv, recv_count, dtype, op);
  }
  CommHandle all_gather_async(const void* send, void* recv, int64_t send_count,
                              CommDType dtype) override {
    return inner_.all_gather_async(send, recv, send_count, dtype);
  }
  CommHandle all_to_all_async(const void* send, void* recv, int64_t count,
                              CommDType dtype) override {
    return inner_.all_to_all_async(send, recv, count, dtype);
  }
  CommHandle all_to_all_v_async(const void* send, std::span<const int64_t> send_counts, void* recv,
                                std::span<const int64_t> recv_counts, CommDType dtype) override {
    return inner_.all_to_all_v_async(send, send_counts, recv, recv_counts, dtype);
  }
  CommHandle broadcast_async(void* data, int64_t count, CommDType dtype, int root) override {
    return inner_.broadcast_async(data, count, dtype, root);
  }
  CommHandle send_async(const void* data, int64_t count, CommDType dtype, int peer,
                        int tag) override {
    return inner_.send_async(data, count, dtype, peer, tag);
  }
  CommHandle recv_async(void* data, int64_t count, CommDType dtype, int peer, int tag) override {
    return inner_.recv_async(data, count, dtype, peer, tag);
  }
  CommHandle barrier_async() override { return inner_.barrier_async(); }
  Result<std::unique_ptr<Comm>> split(int color, int key, std::string name) override {
    return inner_.split(color, key, std::move(name));
  }

 private:
  Comm& inner_;
  int fail_at_;
  int all_reduces_ = 0;
};

// A failed collective ends the call with the error in `status` (an earlier error is kept), and
// the group's later collectives still line up across ranks: nothing was left half issued.
TEST(VocabParallelLoss, CommunicationFailureIsReported) {
  Comm& world = testkit::world();
  const Problem p(DType::kF32, 77);
  // 0: the first row maxima; 3: the second chunk's sums; 9: the last chunk's sums.
  for (int fail_at : {0, 3, 9}) {
    SCOPED_TRACE(fmt::format("fail_at={}", fail_at));
    FailingComm tp(world, fail_at);
    BlockRun r = run_block(Exec::cpu(), tp, p, /*with_grad=*/true);
    EXPECT_FALSE(r.status.is_ok());
    EXPECT_NE(r.status.message().find(fmt::format("all_reduce {} failed", fail_at)),
              std::string::npos)
        << r.status.message();
    EXPECT_NE(r.status.message().find("vocab-parallel cross entropy"), std::string::npos);
    EXPECT_EQ(tp.all_reduces(), fail_at + 1);  // returned at once

    FailingComm again(world, fail_at);
    Status status = Error::internal("an earlier failure");
    const int64_t vl = kVocab / world.size(), first = world.rank() * vl;
    Buffer scratch(DType::kF32, {kChunk, vl});
    (void)vocab_parallel_cross_entropy(Exec::cpu(), again, p.h.view(),
                                       p.w.view().rows(first, first + vl), first, p.targets,
                                       p.scale, scratch.view(), View(), View(), status);
    EXPECT_EQ(status.message(), "an earlier failure");
  }
  EXPECT_TRUE(world.barrier().is_ok());
}

TEST(VocabParallelLoss, NoRowsNoCollectives) {
  Comm& world = testkit::world();
  FailingComm tp(world, 0);
  const int64_t vl = kVocab / world.size();
  Buffer h(DType::kF32, {0, kDim}), scratch(DType::kF32, {kChunk, vl});
  Buffer w = random_buffer(DType::kF32, {vl, kDim}, 5);
  Status status;
  CrossEntropyResult r =
      vocab_parallel_cross_entropy(Exec::cpu(), tp, h.view(), w.view(), world.rank() * vl, {}, 1.0,
                                   scratch.view(), View(), View(), status);
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.loss_sum, 0.0);
  EXPECT_EQ(tp.all_reduces(), 0);
}

}  // namespace
}  // namespace symphony
