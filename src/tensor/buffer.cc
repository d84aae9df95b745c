#include "tensor/buffer.h"

namespace symphony {

Buffer::Buffer(DType dtype, Shape shape, MemoryCategory category)
    : dtype_(dtype), shape_(shape), category_(category) {
  int64_t n = bytes();
  if (n == 0) return;
  size_t rounded = (static_cast<size_t>(n) + 63) / 64 * 64;
  data_ = std::aligned_alloc(64, rounded);
  SYM_CHECK(data_ != nullptr, "out of host memory allocating {} bytes", n);
  std::memset(data_, 0, rounded);
  memory_stats_add(category_, n);
}

Buffer::~Buffer() {
  if (data_) {
    memory_stats_add(category_, -bytes());
    std::free(data_);
  }
}

}  // namespace symphony
