#include "checkpoint/tensor_box.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/check.h"

namespace symphony {

TensorBox TensorBox::whole(const std::vector<int64_t>& tensor_shape) {
  return {std::vector<int64_t>(tensor_shape.size(), 0), tensor_shape};
}

int64_t TensorBox::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorBox::describe() const {
  return fmt::format("offset [{}] shape [{}]", fmt::join(offset, ", "), fmt::join(shape, ", "));
}

bool box_inside(std::span<const int64_t> tensor_shape, const TensorBox& box) {
  if (box.offset.size() != tensor_shape.size() || box.shape.size() != tensor_shape.size())
    return false;
  for (size_t d = 0; d < tensor_shape.size(); ++d) {
    // offset + shape <= dim, written so that no value overflows.
    if (box.offset[d] < 0 || box.shape[d] < 0 || box.shape[d] > tensor_shape[d] ||
        box.offset[d] > tensor_shape[d] - box.shape[d])
      return false;
  }
  return true;
}

bool boxes_intersect(const TensorBox& a, const TensorBox& b) {
  SYM_CHECK(a.offset.size() == b.offset.size(), "boxes of {} and {} dims", a.offset.size(),
            b.offset.size());
  for (size_t d = 0; d < a.offset.size(); ++d) {
    if (std::max(a.offset[d], b.offset[d]) >=
        std::min(a.offset[d] + a.shape[d], b.offset[d] + b.shape[d]))
      return false;
  }
  return true;
}

int64_t box_element_index(std::span<const int64_t> tensor_shape, const TensorBox& box, int64_t i) {
  // Unravel i over the box's shape (last dim fastest), shift by the offset, ravel over the tensor.
  int64_t index = 0, stride = 1;
  for (size_t d = tensor_shape.size(); d-- > 0;) {
    const int64_t coord = box.offset[d] + i % box.shape[d];
    i /= box.shape[d];
    index += coord * stride;
    stride *= tensor_shape[d];
  }
  return index;
}

std::vector<BoxRun> box_runs(std::span<const int64_t> tensor_shape, const TensorBox& box,
                             int64_t begin, int64_t end) {
  SYM_CHECK(box_inside(tensor_shape, box), "box {} outside a tensor of shape [{}]", box.describe(),
            fmt::join(tensor_shape, ", "));
  SYM_CHECK(0 <= begin && begin <= end && end <= box.numel(),
            "elements [{}, {}) of a box of {} elements", begin, end, box.numel());
  std::vector<BoxRun> runs;
  if (begin == end) return runs;
  const size_t ndim = tensor_shape.size();
  if (ndim == 0) return {{0, 1, 0}};  // a scalar: its one element
  // p: the last dim along which the box is narrower than the tensor (0 when it is the whole
  // tensor). The box spans the tensor in every dim after p, so each line of the box along p, with
  // all the later dims, is one contiguous segment of the tensor; segments for different indices
  // before p are separated by the tensor's elements outside the box along p, so the runs built
  // from them are maximal.
  size_t p = 0;
  for (size_t d = ndim; d-- > 0;) {
    if (box.shape[d] != tensor_shape[d]) {
      p = d;
      break;
    }
  }
  int64_t inner = 1;  // elements of the tensor per index of dim p
  for (size_t d = p + 1; d < ndim; ++d) inner *= tensor_shape[d];
  const int64_t segment = box.shape[p] * inner;  // box elements per segment
  for (int64_t s = begin / segment; s * segment < end; ++s) {
    // Where segment s starts in the tensor: unravel s over the box's dims before p.
    int64_t start = box.offset[p] * inner, stride = tensor_shape[p] * inner, rest = s;
    for (size_t d = p; d-- > 0;) {
      start += (box.offset[d] + rest % box.shape[d]) * stride;
      rest /= box.shape[d];
      stride *= tensor_shape[d];
    }
    const int64_t lo = std::max(begin, s * segment), hi = std::min(end, (s + 1) * segment);
    const int64_t first = start + (lo - s * segment);
    runs.push_back({first, first + (hi - lo), lo});
  }
  return runs;
}

}  // namespace symphony
