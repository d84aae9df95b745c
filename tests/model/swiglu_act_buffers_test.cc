// SwiGLU activations kept in bf16 (model/mlp.h): save() rounds g and u to bf16 (round to nearest
// even, as kernels/bf16_convert.h), restore() gives back exactly those values and a = silu(g) * u
// of them, for any row count up to the capacity; fp32 storage gives its own buffers and
// save/restore change nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/rng.h"
#include "kernels/bf16_convert.h"
#include "kernels/swiglu.h"
#include "model/mlp.h"

namespace symphony {
namespace {

void fill(View v, uint64_t seed) {
  for (int64_t i = 0; i < v.numel(); ++i) v.f32()[i] = float(normal_at(seed, uint64_t(i)) * 3.0);
}

std::vector<float> rounded(ConstView v) {
  std::vector<float> out(size_t(v.numel()));
  bf16_round_f32(Exec::reference(), {v.f32(), out.size()}, out);  // the reference rounding
  return out;
}

TEST(SwigluActBuffers, Bf16StorageRestoresTheRoundedValuesForEveryRowCount) {
  const int64_t capacity = 7, width = 5;
  ActScratch scratch(SwigluActBuffers::numel(capacity, width));
  SwigluActBuffers first(scratch, capacity, width), second(scratch, capacity, width);
  EXPECT_TRUE(first.bf16());
  for (int64_t rows : {int64_t(7), int64_t(3), int64_t(0)}) {
    SCOPED_TRACE(rows);
    // Two buffers share the scratch: each saves its own values, which survive the other's use.
    SwigluActs a = first.view(rows);
    fill(a.g, 1), fill(a.u, 2), fill(a.a, 3);
    std::vector<float> want[] = {rounded(a.g), rounded(a.u), std::vector<float>(a.a.numel())};
    swiglu_forward(Exec::cpu(), View(want[0].data(), DType::kF32, {rows, width}),
                   View(want[1].data(), DType::kF32, {rows, width}),
                   View(want[2].data(), DType::kF32, {rows, width}));
    first.save(Exec::cpu(), rows);
    SwigluActs b = second.view(rows);
    fill(b.g, 4), fill(b.u, 5), fill(b.a, 6);
    second.save(Exec::cpu(), rows);
    const SwigluActs back = first.restore(Exec::cpu(), rows);
    const ConstView got[] = {back.g, back.u, back.a};
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(got[i].numel(), rows * width);
      EXPECT_EQ(got[i].dim(0), rows);
      if (rows > 0) {
        EXPECT_EQ(std::memcmp(got[i].f32(), want[i].data(), want[i].size() * sizeof(float)), 0)
            << "part " << i;
      }
    }
    // A larger view finds the same rows where the smaller one left them.
    if (rows > 0) {
      const SwigluActs all = first.view(capacity);
      EXPECT_EQ(all.u.f32()[0], back.u.f32()[0]);
      EXPECT_EQ(all.a.f32()[(rows - 1) * width], back.a.f32()[(rows - 1) * width]);
    }
  }
  EXPECT_DEATH(first.view(capacity + 1), "hold");
}

TEST(SwigluActBuffers, Fp32StorageIsUsedInPlace) {
  SwigluActBuffers buffers(DType::kF32, 4, 3);
  EXPECT_FALSE(buffers.bf16());
  SwigluActs a = buffers.view(4);
  fill(a.g, 7);
  const float kept = a.g.f32()[5];
  buffers.save(Exec::cpu(), 4);
  const SwigluActs back = buffers.restore(Exec::cpu(), 4);
  EXPECT_EQ(back.g.f32(), a.g.f32());
  EXPECT_EQ(back.g.f32()[5], kept);
}

TEST(SwigluActBuffers, Bf16StorageIsAThirdOfTheFp32One) {
  EXPECT_EQ(SwigluActBuffers::bf16_storage_elems(7, 5), 35);  // g and u: 70 bf16 values
  EXPECT_EQ(SwigluActBuffers::bf16_storage_elems(4, 3), 12);
  EXPECT_EQ(SwigluActBuffers::numel(4, 3), 36);
}

}  // namespace
}  // namespace symphony
