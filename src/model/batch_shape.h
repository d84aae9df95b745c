#pragma once
#include <cstdint>

namespace symphony {

// A micro-batch: `batch` sequences of `seq_len` tokens, laid out as batch*seq_len rows.
struct BatchShape {
  int64_t batch = 1;
  int64_t seq_len = 1;
  int64_t rows() const { return batch * seq_len; }
};

}  // namespace symphony
