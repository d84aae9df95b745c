#include "plan/efficiency.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace symphony::plan {
namespace {

using ::testing::HasSubstr;

TEST(Efficiency, CalibrationReplacesDatasheetFractions) {
  Result<Cluster> c = load_cluster("h100");
  ASSERT_TRUE(c.has_value());
  const Efficiency base = default_efficiency(c->accelerator);
  Result<Efficiency> e = parse_calibration(
      "[calibration]\ngemm_tflops = 742.05\ninter_node_busbw_gb_s = 40\n", "cal.toml", *c, base);
  ASSERT_TRUE(e.has_value()) << e.error().message();
  EXPECT_NEAR(e->gemm, 0.75, 1e-9);
  EXPECT_NEAR(e->inter_link, 0.8, 1e-9);
  EXPECT_DOUBLE_EQ(e->attention, base.attention);  // not given: kept
  EXPECT_EQ(e->source, "cal.toml");
}

TEST(Efficiency, CalibrationErrorsNameFileLineAndKey) {
  Result<Cluster> c = load_cluster("a100-80gb");
  ASSERT_TRUE(c.has_value());
  const Efficiency base = default_efficiency(c->accelerator);
  auto error = [&](const char* text) {
    Result<Efficiency> e = parse_calibration(text, "cal.toml", *c, base);
    EXPECT_FALSE(e.has_value());
    return e.has_value() ? std::string() : e.error().message();
  };
  EXPECT_THAT(error("[calibration]\ngemm_tflop = 200\n"),
              HasSubstr("cal.toml:2: unknown key calibration.gemm_tflop"));
  EXPECT_THAT(error("[calibration]\ngemm_tflops = 400\n"), HasSubstr("exceeds the datasheet"));
  EXPECT_THAT(error("[calibration]\ngemm_fp8_tflops = 100\n"),
              HasSubstr("no accelerator.peak_fp8"));
  EXPECT_THAT(error("[calibration]\ngemm_tflops = -1\n"), HasSubstr("positive"));
  EXPECT_THAT(load_calibration("/no/such.toml", *c, base).error().message(),
              HasSubstr("/no/such.toml"));
}

TEST(Efficiency, Fp8RecipesAndFamilies) {
  Result<Cluster> h100 = load_cluster("h100");
  Result<Cluster> gb200 = load_cluster("gb200-nvl72");
  ASSERT_TRUE(h100.has_value() && gb200.has_value());
  // Hopper applies block scales outside the tensor cores; Blackwell in them.
  const Efficiency hopper = default_efficiency(h100->accelerator);
  EXPECT_LT(hopper.gemm_fp8_block, hopper.gemm_fp8);
  const Efficiency blackwell = default_efficiency(gb200->accelerator);
  EXPECT_DOUBLE_EQ(blackwell.gemm_fp8_block, blackwell.gemm_fp8);
  EXPECT_THAT(blackwell.source, HasSubstr("Blackwell"));
  Result<Efficiency> e = parse_calibration("[calibration]\ngemm_fp8_block_tflops = 989.45\n",
                                           "cal.toml", *h100, hopper);
  ASSERT_TRUE(e.has_value()) << e.error().message();
  EXPECT_NEAR(e->gemm_fp8_block, 0.5, 1e-9);
  EXPECT_EQ(parse_fp8_recipe("mx"), Fp8Recipe::kMx);
  EXPECT_FALSE(parse_fp8_recipe("perblock").has_value());
}

}  // namespace
}  // namespace symphony::plan
