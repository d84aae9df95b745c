// Activations kept between the passes (model/act_stash.h): in bf16, save() rounds the stored
// tensors (round to nearest even, as kernels/bf16_convert.h) and restore() gives back exactly
// those values on the shared working set, for tensors of different widths and any row count up to
// the capacity, while other stashes use the working set in between; tensors that are working
// space only are left to their owner. Kept as computed, each tensor has storage of its own.
// The SwiGLU activations built on it (model/mlp.h): save() keeps g and u, restore() gives back
// exactly their rounded values and a = silu(g) * u of them; fp32 storage is used in place.
#include "model/act_stash.h"

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

TEST(ActStash, Bf16RestoresTheRoundedValuesOfTheStoredTensors) {
  const int64_t capacity = 5;
  const std::vector<int64_t> widths{3, 7, 1, 4};  // the last one working space only
  ActScratch scratch(ActStash::working_elems(capacity, widths));
  ActStash first(scratch, capacity, widths, 3), second(scratch, capacity, widths, 3);
  EXPECT_TRUE(first.bf16());
  for (int64_t rows : {int64_t(5), int64_t(2), int64_t(0)}) {
    SCOPED_TRACE(rows);
    std::vector<std::vector<float>> want;
    for (size_t i = 0; i < widths.size(); ++i) {
      View v = first.view(i, rows);
      ASSERT_EQ(v.dim(0), rows);
      ASSERT_EQ(v.dim(1), widths[i]);
      fill(v, 10 * i + 1);
      want.push_back(rounded(v));
    }
    first.save(Exec::cpu(), rows);
    // The other stash's values overwrite the working set, and survive the first one's restore.
    for (size_t i = 0; i < widths.size(); ++i) fill(second.view(i, rows), 10 * i + 2);
    second.save(Exec::cpu(), rows);
    const std::vector<float> marker = rounded(second.view(3, rows));
    first.restore(Exec::cpu(), rows);
    for (size_t i = 0; i < 3; ++i) {
      if (rows == 0) continue;
      EXPECT_EQ(std::memcmp(first.view(i, rows).f32(), want[i].data(),
                            want[i].size() * sizeof(float)),
                0)
          << "tensor " << i;
    }
    // Working space only: restore leaves it as the last user left it.
    if (rows > 0) {
      EXPECT_EQ(rounded(first.view(3, rows)), marker);
    }
    second.restore(Exec::cpu(), rows);
    if (rows > 0) {
      std::vector<float> again = rounded(second.view(0, rows));
      fill(second.view(0, rows), 2);
      EXPECT_EQ(again, rounded(second.view(0, rows)));
    }
  }
  EXPECT_DEATH(first.view(0, capacity + 1), "hold");
  ActScratch small(ActStash::working_elems(capacity, widths) - 1);
  EXPECT_DEATH(ActStash(small, capacity, widths, 3), "too small");
}

TEST(ActStash, KeptAsComputedGivesEachTensorItsOwnStorage) {
  ActStash stash(DType::kF64, 4, {2, 3});
  EXPECT_FALSE(stash.bf16());
  View a = stash.view(0, 4), b = stash.view(1, 4);
  EXPECT_EQ(a.dtype(), DType::kF64);
  for (int64_t i = 0; i < a.numel(); ++i) a.data<double>()[i] = 0.1 * double(i);
  for (int64_t i = 0; i < b.numel(); ++i) b.data<double>()[i] = -1.0 / 3.0;
  stash.save(Exec::cpu(), 4);
  stash.restore(Exec::cpu(), 4);
  EXPECT_EQ(stash.view(0, 4).data<double>()[7], 0.1 * 7);   // not rounded
  EXPECT_EQ(stash.view(1, 2).data<double>()[5], -1.0 / 3.0);  // rows of the same storage
  EXPECT_EQ(stash.view(1, 2).raw(), b.raw());
}

TEST(ActStash, Bf16StorageIsHalfTheStoredElementsRoundedUp) {
  const std::vector<int64_t> widths{3, 5, 8};
  EXPECT_EQ(ActStash::working_elems(3, widths), 48);
  EXPECT_EQ(ActStash::bf16_elems(3, widths, 3), 24);
  EXPECT_EQ(ActStash::bf16_elems(3, widths, 1), 5);  // 9 bf16 values in 5 floats
  EXPECT_EQ(ActStash::bf16_elems(3, widths, 0), 0);
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
