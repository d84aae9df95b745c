#pragma once
#include <cstdint>

#include "core/check.h"

namespace symphony {

// A micro-batch: `batch` sequences of `seq_len` tokens, laid out as batch*seq_len rows.
// Shapes come from validated configs (train.micro_batch_size * train.seq_len is bounded there);
// rows() checks the product anyway, as a shape that overflows would address memory at random.
struct BatchShape {
  int64_t batch = 1;
  int64_t seq_len = 1;
  int64_t rows() const {
    int64_t n;
    SYM_CHECK(!__builtin_mul_overflow(batch, seq_len, &n), "batch shape {} x {} overflows int64",
              batch, seq_len);
    return n;
  }
};

}  // namespace symphony
