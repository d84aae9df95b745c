#include "plan/cluster.h"

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace symphony::plan {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Cluster, EveryPresetLoadsAndValidates) {
  EXPECT_GE(cluster_presets().size(), 9u);
  for (const std::string& name : list_cluster_presets()) {
    SCOPED_TRACE(name);
    Result<Cluster> c = load_cluster(name);
    ASSERT_TRUE(c.has_value()) << c.error().message();
    EXPECT_TRUE(c->validate().is_ok());
    EXPECT_GT(c->accelerator.peak_bf16_flops, 1e14);
    EXPECT_EQ(c->num_gpus % c->gpus_per_node, 0);
  }
}

TEST(Cluster, DatasheetFiguresInBytesPerSecond) {
  Result<Cluster> h100 = load_cluster("h100");
  ASSERT_TRUE(h100.has_value());
  EXPECT_DOUBLE_EQ(h100->accelerator.peak_bf16_flops, 989.4e12);
  EXPECT_DOUBLE_EQ(h100->intra_bw, 450e9);
  EXPECT_DOUBLE_EQ(h100->inter_bw, 50e9);
  EXPECT_DOUBLE_EQ(h100->accelerator.memory_bytes, 80.0 * (1u << 30));
  Result<Cluster> h800 = load_cluster("h800");
  ASSERT_TRUE(h800.has_value());
  EXPECT_DOUBLE_EQ(h800->intra_bw, 200e9);  // the cut NVLink
  EXPECT_EQ(h800->accelerator.peak_fp8_flops, h100->accelerator.peak_fp8_flops);
}

TEST(Cluster, UnknownPresetListsTheAvailableOnes) {
  Result<Cluster> c = load_cluster("h1000");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("h1000"));
  EXPECT_THAT(c.error().message(), HasSubstr("h100, h100-500w, h100-dragonfly"));
}

TEST(Cluster, UnknownKeyNamesLineAndKey) {
  Result<Cluster> c =
      parse_cluster("[cluster]\nnum_gpus = 16\n[network]\nbandwith_gb_s = 50\n", "my.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("my.toml:4"));
  EXPECT_THAT(c.error().message(), HasSubstr("network.bandwith_gb_s"));
}

TEST(Cluster, CustomTorusCluster) {
  const char* text = R"(
[cluster]
num_gpus = 512
gpus_per_node = 4
[accelerator]
name = "custom"
peak_bf16_tflops = 400
peak_fp32_tflops = 100
memory_gib = 96
memory_bw_tb_s = 2.4
power_w = 500
[intra_node]
bandwidth_gb_s = 100
latency_us = 2
[network]
kind = "torus links"
bandwidth_gb_s = 45
latency_us = 3
[topology]
kind = "torus3d"
link_bandwidth_gb_s = 45
)";
  Result<Cluster> c = parse_cluster(text, "torus.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->topology.kind, TopologyKind::kTorus3d);
  EXPECT_DOUBLE_EQ(c->server_w_per_gpu, 500);  // defaults to the GPU's own power
  EXPECT_EQ(c->num_nodes(), 128);
}

TEST(Cluster, BadValuesSayWhatToChange) {
  Result<Cluster> c = load_cluster("h100");
  ASSERT_TRUE(c.has_value());
  Cluster zero = *c;
  zero.num_gpus = 0;
  EXPECT_THAT(zero.validate().message(), HasSubstr("at least one GPU"));
  Cluster ragged = *c;
  ragged.num_gpus = 12;
  EXPECT_THAT(ragged.validate().message(), HasSubstr("multiple of 8"));
  Result<Cluster> topo = parse_cluster("[topology]\nkind = \"ring\"\n", "t.toml");
  ASSERT_FALSE(topo.has_value());
  EXPECT_THAT(topo.error().message(), HasSubstr("fat_tree, dragonfly or torus3d"));
}

// A complete cluster file: every required key once, one per line.
constexpr const char* kFullCluster = R"(
[cluster]
num_gpus = 16
gpus_per_node = 8
[accelerator]
name = "custom"
peak_bf16_tflops = 400
peak_fp32_tflops = 100
memory_gib = 96
memory_bw_tb_s = 2.4
power_w = 500
[intra_node]
bandwidth_gb_s = 100
latency_us = 2
[network]
bandwidth_gb_s = 45
latency_us = 3
)";

std::string without_line(std::string_view text, std::string_view prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.starts_with(prefix)) out += fmt::format("{}\n", line);
    pos = end + 1;
  }
  return out;
}

TEST(Cluster, CompleteFileLoads) {
  Result<Cluster> c = parse_cluster(kFullCluster, "full.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->gpus_per_node, 8);
}

TEST(Cluster, MissingRequiredKeysAreNamedNotDefaulted) {
  struct Case {
    const char* line;  // the line removed
    const char* key;   // what the error must name
  };
  for (const Case& k : {Case{"gpus_per_node", "cluster.gpus_per_node"},
                        Case{"name =", "accelerator.name"},
                        Case{"memory_gib", "accelerator.memory_gib"},
                        Case{"peak_bf16_tflops", "accelerator.peak_bf16_tflops"},
                        Case{"power_w", "accelerator.power_w"}}) {
    SCOPED_TRACE(k.key);
    Result<Cluster> c = parse_cluster(without_line(kFullCluster, k.line), "mine.toml");
    ASSERT_FALSE(c.has_value());
    EXPECT_THAT(c.error().message(), HasSubstr("mine.toml"));
    EXPECT_THAT(c.error().message(), HasSubstr(std::string(k.key) + " is missing"));
    // Never "must be positive (got 0)", as if the file had said 0.
    EXPECT_THAT(c.error().message(), Not(HasSubstr("got 0")));
  }
  // Both latencies share a name: each section's is required.
  std::string no_latency = kFullCluster;
  no_latency.replace(no_latency.find("latency_us = 2\n"), 15, "");
  Result<Cluster> c = parse_cluster(no_latency, "mine.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("intra_node.latency_us is missing"));
  std::string no_net_latency = kFullCluster;
  no_net_latency.replace(no_net_latency.find("latency_us = 3\n"), 15, "");
  c = parse_cluster(no_net_latency, "mine.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("network.latency_us is missing"));
}

TEST(Cluster, ExplicitZeroStillSaysPositive) {
  std::string zero_memory = kFullCluster;
  zero_memory.replace(zero_memory.find("memory_gib = 96"), 15, "memory_gib = 0");
  Result<Cluster> c = parse_cluster(zero_memory, "mine.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("accelerator.memory_gib must be positive (got 0)"));
}

TEST(Cluster, BlackwellAndTpuPresets) {
  Result<Cluster> gb200 = load_cluster("gb200-nvl72");
  ASSERT_TRUE(gb200.has_value()) << gb200.error().message();
  EXPECT_EQ(gb200->gpus_per_node, 72);  // one NVLink domain per rack
  EXPECT_DOUBLE_EQ(gb200->intra_bw, 900e9);
  EXPECT_DOUBLE_EQ(gb200->accelerator.peak_fp8_flops, 5000e12);
  for (const char* tpu : {"tpu-v4", "tpu-v5p"}) {
    SCOPED_TRACE(tpu);
    Result<Cluster> t = load_cluster(tpu);
    ASSERT_TRUE(t.has_value()) << t.error().message();
    EXPECT_EQ(t->topology.kind, TopologyKind::kTorus3d);
    EXPECT_EQ(t->accelerator.peak_fp8_flops, 0);  // no fp8 units
  }
}

TEST(Cluster, PowerCapScalesTheClock) {
  Result<Cluster> full = load_cluster("h100");
  Result<Cluster> capped = load_cluster("h100-500w");
  ASSERT_TRUE(full.has_value() && capped.has_value());
  EXPECT_DOUBLE_EQ(full->accelerator.compute_scale(), 1.0);
  EXPECT_DOUBLE_EQ(full->accelerator.board_power_w(), 700);
  EXPECT_DOUBLE_EQ(capped->accelerator.board_power_w(), 500);
  EXPECT_NEAR(capped->accelerator.compute_scale(), std::cbrt(500.0 / 700.0), 1e-12);
  // A measured clock fraction wins over the cube-root estimate.
  std::string text = kFullCluster;
  text.replace(text.find("power_w = 500"), 13,
               "power_w = 500\npower_limit_w = 400\nclock_fraction = 0.9");
  Result<Cluster> c = parse_cluster(text, "capped.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_DOUBLE_EQ(c->accelerator.compute_scale(), 0.9);
  text.replace(text.find("clock_fraction = 0.9"), 20, "clock_fraction = 1.5");
  c = parse_cluster(text, "capped.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_THAT(c.error().message(), HasSubstr("accelerator.clock_fraction must be in (0, 1]"));
}

}  // namespace
}  // namespace symphony::plan
