#include "kernels/fp8_amax_history.h"

#include <gtest/gtest.h>

namespace symphony {
namespace {

TEST(Fp8AmaxHistory, KeepsTheLargestOfTheLastLengthValues) {
  Fp8AmaxHistory h(3);
  EXPECT_EQ(h.length(), 3);
  EXPECT_EQ(h.size(), 0);
  EXPECT_EQ(h.max(), 0.f);
  h.record(5.f);
  EXPECT_EQ(h.max(), 5.f);
  h.record(1.f);
  h.record(2.f);
  EXPECT_EQ(h.size(), 3);
  EXPECT_EQ(h.max(), 5.f);
  h.record(0.5f);  // drops 5
  EXPECT_EQ(h.size(), 3);
  EXPECT_EQ(h.max(), 2.f);
  h.record(0.f);
  h.record(0.f);  // drops 1 and 2
  EXPECT_EQ(h.max(), 0.5f);
}

TEST(Fp8AmaxHistory, LengthOneIsTheLastValue) {
  Fp8AmaxHistory h(1);
  h.record(7.f);
  h.record(3.f);
  EXPECT_EQ(h.max(), 3.f);
  EXPECT_EQ(h.size(), 1);
}

}  // namespace
}  // namespace symphony
