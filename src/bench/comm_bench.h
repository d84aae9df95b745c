#pragma once
// Collective benchmark (`symphony bench comm`): all-reduce, reduce-scatter, all-gather and
// all-to-all over message sizes, with the nccl-tests definitions of bandwidth:
//   size S: all-reduce and all-to-all the per-rank buffer; reduce-scatter the input, all-gather
//           the output (both nranks blocks);
//   algbw = S / time;  busbw = algbw * 2(n-1)/n (all-reduce), * (n-1)/n (the others),
// so busbw is comparable with the hardware's link bandwidth whatever the rank count. Time is the
// slowest rank's mean over the iterations.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "parallel/comm.h"

namespace symphony {

struct CommBenchRow {
  std::string op;
  int64_t bytes = 0;  // S above
  int iterations = 0;
  double time_s = 0;
  double algbw_gbs = 0;  // GB/s, 1e9 bytes
  double busbw_gbs = 0;
};

// Sizes from min_bytes to max_bytes by factors of `step` (rounded down to whole f32 elements per
// rank block). Collective over `comm`; every rank returns the same rows.
Result<std::vector<CommBenchRow>> bench_collectives(Comm& comm, int64_t min_bytes,
                                                    int64_t max_bytes, int64_t step);

// Bandwidth of memcpy over `bytes` (bytes copied per second, best of a few), for scale.
double memcpy_bandwidth_gbs(int64_t bytes);

}  // namespace symphony
