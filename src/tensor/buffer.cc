#include "tensor/buffer.h"

#include <sys/mman.h>

#include <fmt/format.h>

#include "core/host_memory.h"

namespace symphony {
namespace {

// Large buffers start on a 2 MiB boundary and ask for transparent huge pages (Linux's default
// policy, "madvise", gives them only to memory that asks): the training step streams hundreds of
// MB of weights, gradients, optimizer state and activations, and 4 KiB pages miss the TLB on
// every page.
constexpr size_t kHugePage = size_t(2) << 20;

// Buffers from this size up are compared with what the machine can give before they are
// allocated: every page of a Buffer is written at once (zeroed), so one larger than the machine
// would end in the OOM killer. Smaller ones are not worth reading /proc for.
constexpr int64_t kCapacityCheckBytes = int64_t(64) << 20;

std::string shape_text(const Shape& s) {
  std::string text = "[";
  for (int i = 0; i < s.ndim; ++i) text += (i ? ", " : "") + std::to_string(s.dims[i]);
  return text + "]";
}

}  // namespace

Buffer::Buffer(DType dtype, Shape shape, MemoryCategory category)
    : dtype_(dtype), shape_(shape), category_(category) {
  int64_t n = bytes();  // stops the process, naming the shape, when the count overflows
  if (n == 0) return;
  // Callers size buffers from validated configs and check the whole plan against the memory
  // available first (Transformer::create, the train command); reaching these is a last resort
  // that names what was asked for instead of leaving it to the OOM killer.
  if (n >= kCapacityCheckBytes) {
    const HostMemory host = read_host_memory();
    if (const std::optional<int64_t> capacity = host.capacity(); capacity && n > *capacity)
      fatal(fmt::format("refusing to allocate {} of {} for a tensor of shape {}: more than the {} "
                        "this process can ever hold ({})",
                        format_bytes(n), memory_category_name(category_), shape_text(shape_),
                        format_bytes(*capacity), host.describe_capacity()));
  }
  const size_t align = static_cast<size_t>(n) >= kHugePage ? kHugePage : 64;
  size_t rounded = (static_cast<size_t>(n) + align - 1) / align * align;
  data_ = std::aligned_alloc(align, rounded);
  if (data_ == nullptr)
    fatal(fmt::format("out of host memory allocating {} ({} bytes) of {} for a tensor of shape {}",
                      format_bytes(n), n, memory_category_name(category_), shape_text(shape_)));
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
