// Every collective of Comm against values each rank computes for itself; run with 1, 2 and 4
// ranks (one rank exercises SelfComm, several MpiComm).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>
#include <vector>

#include "kernels/bf16_bits.h"
#include "parallel/comm.h"
#include "parallel/layout.h"
#include "parallel/mesh.h"
#include "testkit/mpi_world.h"

namespace symphony {
namespace {

// A value only rank r produces for element i: distinct across ranks and elements.
float value_of(int r, int64_t i) { return float(r * 1000 + i % 997) * 0.5f; }

TEST(Comm, AllReduceSumMaxMin) {
  Comm& w = testkit::world();
  for (int64_t n : {1, 7, 1000, 100003}) {
    std::vector<float> sum(static_cast<size_t>(n)), mx(sum), mn(sum);
    for (int64_t i = 0; i < n; ++i) sum[size_t(i)] = mx[size_t(i)] = mn[size_t(i)] = value_of(w.rank(), i);
    ASSERT_TRUE(w.all_reduce(std::span(sum), ReduceOp::kSum).is_ok());
    ASSERT_TRUE(w.all_reduce(std::span(mx), ReduceOp::kMax).is_ok());
    ASSERT_TRUE(w.all_reduce(std::span(mn), ReduceOp::kMin).is_ok());
    for (int64_t i = 0; i < n; ++i) {
      float expect = 0;
      for (int r = 0; r < w.size(); ++r) expect += value_of(r, i);
      ASSERT_EQ(sum[size_t(i)], expect) << "n=" << n << " i=" << i;
      ASSERT_EQ(mx[size_t(i)], value_of(w.size() - 1, i));
      ASSERT_EQ(mn[size_t(i)], value_of(0, i));
    }
  }
}

// bf16 reductions: values whose sums are exact in bf16 (integers below 256 times a power of two)
// come out exact; general values within one rounding (2^-9 relative) per partial sum of the sum
// of magnitudes; max and min exact; NaN propagates.
TEST(Comm, Bf16AllReduceAndReduceScatter) {
  Comm& w = testkit::world();
  const int64_t n = 4099;
  auto exact_value = [](int r, int64_t i) { return float((r + 1) * (i % 31)) * 0.125f; };
  auto general_value = [](int r, int64_t i) {
    return std::sin(0.37f * float(i) + float(r)) * float(1 + (i % 5));
  };
  for (auto value : {+exact_value, +general_value}) {
    const bool exact = value == +exact_value;
    std::vector<uint16_t> sum(static_cast<size_t>(n)), mx(sum), mn(sum);
    for (int64_t i = 0; i < n; ++i)
      sum[size_t(i)] = mx[size_t(i)] = mn[size_t(i)] = bf16_bits_from_f32(value(w.rank(), i));
    ASSERT_TRUE(w.all_reduce(sum.data(), n, CommDType::kBf16, ReduceOp::kSum).is_ok());
    ASSERT_TRUE(w.all_reduce(mx.data(), n, CommDType::kBf16, ReduceOp::kMax).is_ok());
    ASSERT_TRUE(w.all_reduce(mn.data(), n, CommDType::kBf16, ReduceOp::kMin).is_ok());
    for (int64_t i = 0; i < n; ++i) {
      double expect = 0, magnitude = 0;
      float top = -INFINITY, bottom = INFINITY;
      for (int r = 0; r < w.size(); ++r) {
        const float v = f32_from_bf16_bits(bf16_bits_from_f32(value(r, i)));
        expect += v, magnitude += std::abs(v);
        top = std::max(top, v), bottom = std::min(bottom, v);
      }
      const double got = f32_from_bf16_bits(sum[size_t(i)]);
      if (exact)
        ASSERT_EQ(got, expect) << "i=" << i;
      else
        ASSERT_NEAR(got, expect, (w.size() - 1) * magnitude * 0x1p-8 + 1e-30) << "i=" << i;
      ASSERT_EQ(f32_from_bf16_bits(mx[size_t(i)]), top);
      ASSERT_EQ(f32_from_bf16_bits(mn[size_t(i)]), bottom);
    }
  }
  // Reduce-scatter: block r of the sum lands on rank r.
  const int64_t block = 9;
  std::vector<uint16_t> send(static_cast<size_t>(block * w.size()));
  std::vector<uint16_t> mine(static_cast<size_t>(block));
  for (size_t i = 0; i < send.size(); ++i)
    send[i] = bf16_bits_from_f32(exact_value(w.rank(), int64_t(i)));
  ASSERT_TRUE(w.reduce_scatter(send.data(), mine.data(), block, CommDType::kBf16, ReduceOp::kSum)
                  .is_ok());
  for (int64_t i = 0; i < block; ++i) {
    float expect = 0;
    for (int r = 0; r < w.size(); ++r) expect += exact_value(r, w.rank() * block + i);
    ASSERT_EQ(f32_from_bf16_bits(mine[size_t(i)]), expect) << "i=" << i;
  }
  // A NaN on one rank makes the sum and the max NaN everywhere.
  uint16_t nan_sum = bf16_bits_from_f32(w.rank() == 0 ? NAN : 1.f), nan_max = nan_sum;
  ASSERT_TRUE(w.all_reduce(&nan_sum, 1, CommDType::kBf16, ReduceOp::kSum).is_ok());
  ASSERT_TRUE(w.all_reduce(&nan_max, 1, CommDType::kBf16, ReduceOp::kMax).is_ok());
  EXPECT_TRUE(std::isnan(f32_from_bf16_bits(nan_sum)));
  EXPECT_TRUE(std::isnan(f32_from_bf16_bits(nan_max)));
}

TEST(Comm, ReduceScatterAndAllGatherAreInverseShapes) {
  Comm& w = testkit::world();
  const int64_t block = 5;
  std::vector<double> send(static_cast<size_t>(block * w.size()));
  for (size_t i = 0; i < send.size(); ++i) send[i] = value_of(w.rank(), int64_t(i));
  std::vector<double> mine(static_cast<size_t>(block));
  ASSERT_TRUE(w.reduce_scatter(send.data(), mine.data(), block, CommDType::kF64, ReduceOp::kSum).is_ok());
  for (int64_t i = 0; i < block; ++i) {
    double expect = 0;
    for (int r = 0; r < w.size(); ++r) expect += value_of(r, w.rank() * block + i);
    ASSERT_EQ(mine[size_t(i)], expect);
  }
  std::vector<double> all(static_cast<size_t>(block * w.size()));
  ASSERT_TRUE(w.all_gather(std::span<const double>(mine), std::span(all)).is_ok());
  for (int r = 0; r < w.size(); ++r)
    for (int64_t i = 0; i < block; ++i) {
      double expect = 0;
      for (int q = 0; q < w.size(); ++q) expect += value_of(q, r * block + i);
      ASSERT_EQ(all[size_t(r * block + i)], expect);
    }
  // In place: this rank's block already sits at its place in the output.
  std::vector<int32_t> ids(size_t(w.size()), -1);
  ids[size_t(w.rank())] = w.rank() * 10;
  ASSERT_TRUE(w.all_gather(&ids[size_t(w.rank())], ids.data(), 1, CommDType::kI32).is_ok());
  for (int r = 0; r < w.size(); ++r) EXPECT_EQ(ids[size_t(r)], r * 10);
}

TEST(Comm, AllToAllAndVariableCounts) {
  Comm& w = testkit::world();
  const int p = w.size();
  std::vector<int64_t> send(size_t(3 * p)), recv(size_t(3 * p));
  for (int r = 0; r < p; ++r)
    for (int k = 0; k < 3; ++k) send[size_t(3 * r + k)] = w.rank() * 100 + r * 10 + k;
  ASSERT_TRUE(w.all_to_all(send.data(), recv.data(), 3, CommDType::kI64).is_ok());
  for (int r = 0; r < p; ++r)
    for (int k = 0; k < 3; ++k) ASSERT_EQ(recv[size_t(3 * r + k)], r * 100 + w.rank() * 10 + k);

  // Rank s sends s + d + 1 elements to rank d.
  std::vector<int64_t> send_counts(static_cast<size_t>(p)), recv_counts(static_cast<size_t>(p));
  for (int d = 0; d < p; ++d) send_counts[size_t(d)] = w.rank() + d + 1;
  for (int s = 0; s < p; ++s) recv_counts[size_t(s)] = s + w.rank() + 1;
  std::vector<int64_t> vsend, vrecv(size_t(std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t(0))));
  for (int d = 0; d < p; ++d)
    for (int64_t k = 0; k < send_counts[size_t(d)]; ++k) vsend.push_back(w.rank() * 1000 + d * 100 + k);
  ASSERT_TRUE(w.all_to_all_v(vsend.data(), send_counts, vrecv.data(), recv_counts, CommDType::kI64).is_ok());
  size_t at = 0;
  for (int s = 0; s < p; ++s)
    for (int64_t k = 0; k < recv_counts[size_t(s)]; ++k) ASSERT_EQ(vrecv[at++], s * 1000 + w.rank() * 100 + k);
}

TEST(Comm, BroadcastSendRecvBarrier) {
  Comm& w = testkit::world();
  std::vector<float> data(17, float(w.rank()));
  const int root = w.size() - 1;
  ASSERT_TRUE(w.broadcast(std::span(data), root).is_ok());
  for (float v : data) ASSERT_EQ(v, float(root));
  if (w.size() > 1) {
    // A ring: each rank sends its rank to the next and receives from the previous.
    int32_t out = w.rank(), in = -1;
    const int next = (w.rank() + 1) % w.size(), prev = (w.rank() + w.size() - 1) % w.size();
    CommHandle r = w.recv_async(&in, 1, CommDType::kI32, prev, 7);
    CommHandle s = w.send_async(&out, 1, CommDType::kI32, next, 7);
    ASSERT_TRUE(s.wait().is_ok());
    ASSERT_TRUE(r.wait().is_ok());
    EXPECT_EQ(in, prev);
  }
  EXPECT_TRUE(w.barrier().is_ok());
}

TEST(Comm, ManyAsyncOperationsCompleteInAnyWaitOrder) {
  Comm& w = testkit::world();
  std::vector<std::vector<float>> bufs(8, std::vector<float>(4096));
  std::vector<CommHandle> handles;
  for (size_t b = 0; b < bufs.size(); ++b) {
    std::fill(bufs[b].begin(), bufs[b].end(), float(b + 1));
    handles.push_back(w.all_reduce_async(bufs[b].data(), 4096, CommDType::kF32, ReduceOp::kSum));
  }
  for (size_t b = bufs.size(); b-- > 0;) {
    ASSERT_TRUE(handles[b].wait().is_ok());
    EXPECT_EQ(bufs[b][4095], float((b + 1) * size_t(w.size())));
  }
}

// The time a rank blocks on an operation is charged to the tally of the group that issued it; a
// split group starts with its parent's tally, and set_wait_tally() redirects it.
TEST(Comm, WaitsAreChargedToTheIssuingGroupsTally) {
  Comm& w = testkit::world();
  Result<std::unique_ptr<Comm>> child = w.split(0, w.rank(), "waits");
  ASSERT_TRUE(child.has_value()) << child.error().message();
  EXPECT_EQ((*child)->wait_tally(), w.wait_tally());
  auto tally = std::make_shared<CommWaitTally>();
  (*child)->set_wait_tally(tally);
  const double world_before = w.wait_tally()->seconds();
  // Rank 0 arrives 80 ms late; the others wait for it, once with wait() and once polling
  // wait_for().
  for (int round = 0; round < 2; ++round) {
    if (w.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(80));
    int32_t x = 1;
    CommHandle h = (*child)->all_reduce_async(&x, 1, CommDType::kI32, ReduceOp::kSum);
    if (round == 0) {
      ASSERT_TRUE(h.wait().is_ok());
    } else {
      while (!h.wait_for(0.005)) {
      }
    }
    EXPECT_EQ(x, w.size());
  }
  if (w.rank() != 0) {
    EXPECT_GT(tally->seconds(), 2 * 0.060);
  } else {
    EXPECT_LT(tally->seconds(), 0.060);  // rank 0 came last: barely waited
  }
  EXPECT_LT(w.wait_tally()->seconds() - world_before, 0.030);  // nothing charged to the world
  EXPECT_TRUE(w.barrier().is_ok());
}

TEST(DeviceMesh, GroupsMatchLayout) {
  Comm& w = testkit::world();
  ParallelConfig config;
  config.tp = w.size() >= 2 ? 2 : 1;  // dp takes the rest
  auto layout = ParallelLayout::create(config, w.size());
  ASSERT_TRUE(layout) << layout.error().message();
  auto mesh = DeviceMesh::create(*layout, w);
  ASSERT_TRUE(mesh) << mesh.error().message();
  EXPECT_EQ(mesh->size(Axis::kTensor), config.tp);
  EXPECT_EQ(mesh->size(Axis::kData), w.size() / config.tp);
  EXPECT_EQ(mesh->group(Axis::kTensor).size(), config.tp);
  EXPECT_EQ(mesh->group(Axis::kData).size(), w.size() / config.tp);
  // tp innermost: tp rank is world rank mod tp, dp rank the quotient.
  EXPECT_EQ(mesh->rank(Axis::kTensor), w.rank() % config.tp);
  EXPECT_EQ(mesh->rank(Axis::kData), w.rank() / config.tp);
  // Summing world ranks over the dp group gives the ranks with the same tp coordinate.
  int32_t x = w.rank();
  ASSERT_TRUE(mesh->group(Axis::kData).all_reduce(std::span(&x, 1)).is_ok());
  int32_t expect = 0;
  for (int r = w.rank() % config.tp; r < w.size(); r += config.tp) expect += r;
  EXPECT_EQ(x, expect);
  EXPECT_EQ(mesh->replicas(ReplicaGroup::kDense).size(), w.size() / config.tp);
}

}  // namespace
}  // namespace symphony
