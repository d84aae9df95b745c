#include "tensor/buffer.h"

#include <sys/mman.h>

namespace symphony {
namespace {

// Large buffers start on a 2 MiB boundary and ask for transparent huge pages (Linux's default
// policy, "madvise", gives them only to memory that asks): the training step streams hundreds of
// MB of weights, gradients, optimizer state and activations, and 4 KiB pages miss the TLB on
// every page.
constexpr size_t kHugePage = size_t(2) << 20;

}  // namespace

Buffer::Buffer(DType dtype, Shape shape, MemoryCategory category)
    : dtype_(dtype), shape_(shape), category_(category) {
  int64_t n = bytes();
  if (n == 0) return;
  const size_t align = static_cast<size_t>(n) >= kHugePage ? kHugePage : 64;
  size_t rounded = (static_cast<size_t>(n) + align - 1) / align * align;
  data_ = std::aligned_alloc(align, rounded);
  SYM_CHECK(data_ != nullptr, "out of host memory allocating {} bytes", n);
#if defined(MADV_HUGEPAGE)
  if (align == kHugePage) madvise(data_, rounded, MADV_HUGEPAGE);  // advice only: errors ignored
#endif
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
