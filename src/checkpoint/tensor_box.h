#pragma once
// TensorBox: a rectangular part of a row-major tensor (an offset and an extent per dim), and the
// contiguous runs of the whole tensor that a stretch of the box's own row-major elements
// occupies. A checkpoint piece (checkpoint/checkpoint_manifest.h) is a stretch of a box; a load
// maps what a rank needs and what each piece holds to runs of the whole tensor and copies where
// they meet, so pieces saved under any sharding fill blocks of any other.
//
// Example: tensor (4, 6), box offset (1, 2) shape (2, 3). Box element i is (r, c) = (i / 3, i % 3)
// of the box, tensor element (1 + r) * 6 + (2 + c). Box elements [1, 5) occupy the tensor's runs
// [9, 11) (box elements 1, 2) and [14, 16) (box elements 3, 4).

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace symphony {

struct TensorBox {
  std::vector<int64_t> offset;  // [dim] first index along each dim of the tensor
  std::vector<int64_t> shape;   // [dim] extent along each dim

  // The whole tensor: offset 0, shape `tensor_shape`.
  static TensorBox whole(const std::vector<int64_t>& tensor_shape);
  int64_t numel() const;  // REQUIRES: the box lies inside a tensor (no overflow)
  std::string describe() const;  // "offset [1, 2] shape [2, 3]"
  friend bool operator==(const TensorBox&, const TensorBox&) = default;
  friend auto operator<=>(const TensorBox&, const TensorBox&) = default;
};

// Whether `box` lies inside a tensor of `tensor_shape`: as many dims, and along each
// 0 <= offset and offset + shape <= the tensor's dim. Safe for any values (no overflow).
bool box_inside(std::span<const int64_t> tensor_shape, const TensorBox& box);

// Whether two boxes of the same tensor share an element.
bool boxes_intersect(const TensorBox& a, const TensorBox& b);

// A contiguous run of the tensor: its elements [begin, end) are elements
// [box_begin, box_begin + (end - begin)) of the box, in the box's row-major order.
struct BoxRun {
  int64_t begin = 0, end = 0;  // elements of the tensor
  int64_t box_begin = 0;       // the box element that is tensor element `begin`
  friend bool operator==(const BoxRun&, const BoxRun&) = default;
};

// The maximal contiguous runs of the tensor that elements [begin, end) of `box` occupy, in
// increasing order of both the tensor's and the box's elements; each run's box elements follow on
// from the previous run's. Read the other way, the runs say which box elements hold a stretch of
// the tensor. A box that spans the tensor in every dim after its first gives one run.
// REQUIRES: box_inside(tensor_shape, box); 0 <= begin <= end <= box.numel().
std::vector<BoxRun> box_runs(std::span<const int64_t> tensor_shape, const TensorBox& box,
                             int64_t begin, int64_t end);

// The tensor element that element `i` of `box` is.
// REQUIRES: box_inside(tensor_shape, box); 0 <= i < box.numel().
int64_t box_element_index(std::span<const int64_t> tensor_shape, const TensorBox& box, int64_t i);

}  // namespace symphony
