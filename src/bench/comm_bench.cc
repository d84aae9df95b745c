#include "bench/comm_bench.h"

#include <algorithm>
#include <cstring>

#include "core/timer.h"
#include "tensor/buffer.h"

namespace symphony {

namespace {

enum class Op { kAllReduce, kReduceScatter, kAllGather, kAllToAll };
constexpr Op kOps[] = {Op::kAllReduce, Op::kReduceScatter, Op::kAllGather, Op::kAllToAll};

const char* op_name(Op op) {
  switch (op) {
    case Op::kAllReduce: return "all_reduce";
    case Op::kReduceScatter: return "reduce_scatter";
    case Op::kAllGather: return "all_gather";
    case Op::kAllToAll: return "all_to_all";
  }
  return "?";
}

double bus_factor(Op op, int n) {
  if (n <= 1) return 0;
  return op == Op::kAllReduce ? 2.0 * (n - 1) / n : double(n - 1) / n;
}

}  // namespace

Result<std::vector<CommBenchRow>> bench_collectives(Comm& comm, int64_t min_bytes,
                                                    int64_t max_bytes, int64_t step) {
  const int n = comm.size();
  const int64_t max_elems = std::max<int64_t>(max_bytes / 4, n);
  Buffer send(DType::kF32, {max_elems}, MemoryCategory::kCommunication);
  Buffer recv(DType::kF32, {max_elems}, MemoryCategory::kCommunication);
  std::fill_n(send.f32(), max_elems, 1.0f);
  std::vector<CommBenchRow> rows;
  for (Op op : kOps) {
    for (int64_t bytes = min_bytes; bytes <= max_bytes; bytes *= step) {
      // Elements per rank block for the ops that cut S into n blocks.
      const int64_t elems = std::max<int64_t>(bytes / 4, n);
      const int64_t block = std::max<int64_t>(elems / n, 1);
      auto run_once = [&]() -> Status {
        switch (op) {
          case Op::kAllReduce:
            return comm.all_reduce(recv.f32(), elems, CommDType::kF32, ReduceOp::kSum);
          case Op::kReduceScatter:
            return comm.reduce_scatter(send.f32(), recv.f32(), block, CommDType::kF32, ReduceOp::kSum);
          case Op::kAllGather:
            return comm.all_gather(send.f32(), recv.f32(), block, CommDType::kF32);
          case Op::kAllToAll:
            return comm.all_to_all(send.f32(), recv.f32(), block, CommDType::kF32);
        }
        return Status::ok();
      };
      // Enough iterations for ~64 MiB moved, at least 3; one untimed warm-up.
      const int iterations = int(std::clamp<int64_t>((int64_t(64) << 20) / std::max<int64_t>(bytes, 1), 3, 200));
      SYM_TRY(run_once());
      SYM_TRY(comm.barrier());
      Timer timer;
      for (int i = 0; i < iterations; ++i) SYM_TRY(run_once());
      double t = timer.elapsed_s() / iterations;
      SYM_TRY(comm.all_reduce(&t, 1, CommDType::kF64, ReduceOp::kMax));
      CommBenchRow row;
      row.op = op_name(op);
      row.bytes = op == Op::kAllReduce ? elems * 4 : block * n * 4;
      row.iterations = iterations;
      row.time_s = t;
      row.algbw_gbs = t > 0 ? double(row.bytes) / t * 1e-9 : 0;
      row.busbw_gbs = row.algbw_gbs * bus_factor(op, n);
      rows.push_back(row);
    }
  }
  return rows;
}

double memcpy_bandwidth_gbs(int64_t bytes) {
  Buffer a(DType::kF32, {bytes / 4}, MemoryCategory::kOther);
  Buffer b(DType::kF32, {bytes / 4}, MemoryCategory::kOther);
  std::fill_n(a.f32(), bytes / 4, 1.0f);
  std::memcpy(b.f32(), a.f32(), size_t(bytes));  // first touch
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    Timer t;
    std::memcpy(b.f32(), a.f32(), size_t(bytes));
    best = std::min(best, t.elapsed_s());
  }
  return double(bytes) / best * 1e-9;
}

}  // namespace symphony
