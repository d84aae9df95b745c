#include "monitor/pipeline_trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

PipelineTimeline simulate(PipelineSchedule s, int p, int m, int v) {
  // Milliseconds: F = 1, B = 1, W = 1, sends 0.1.
  const StageTimes t{.forward_s = 1e-3, .backward_input_s = 1e-3, .backward_weight_s = 1e-3,
                     .p2p_s = 1e-4};
  Result<PipelineTimeline> tl = simulate_pipeline(s, p, m, v, t);
  EXPECT_TRUE(tl.has_value()) << tl.error().message();
  return tl.has_value() ? *tl : PipelineTimeline{};
}

TEST(PipelineTrace, ChromeTraceRoundTrips) {
  const PipelineTimeline tl = simulate(PipelineSchedule::kZeroBubble, 4, 8, 1);
  testkit::TempDir dir("pipeline");
  const fs::path path = dir.path() / "pipeline.trace.json";
  Status s = write_pipeline_trace_json(path, tl);
  ASSERT_TRUE(s.is_ok()) << s.message();
  const nlohmann::json trace = nlohmann::json::parse(testkit::read_file_bytes(path));

  std::map<std::string, int> per_phase, per_category;
  std::map<int, int> per_rank;
  for (const nlohmann::json& e : trace.at("traceEvents")) {
    ++per_phase[e.at("ph").get<std::string>()];
    if (e.at("ph") != "X") continue;
    ++per_category[e.at("cat").get<std::string>()];
    ++per_rank[e.at("tid").get<int>()];
    EXPECT_GE(e.at("ts").get<double>(), 0.0);
    EXPECT_GE(e.at("dur").get<double>(), 0.0);
    EXPECT_LE(e.at("ts").get<double>() + e.at("dur").get<double>(), tl.step_s * 1e6 + 1e-6);
    const std::string name = e.at("name");
    EXPECT_EQ(name.substr(1), std::to_string(e.at("args").at("micro_batch").get<int>()));
  }
  EXPECT_EQ(per_phase["X"], 4 * 8 * 3);
  EXPECT_EQ(per_phase["M"], 1 + 4);  // process name, one thread name per rank
  EXPECT_EQ(per_category["forward"], 32);
  EXPECT_EQ(per_category["backward_input"], 32);
  EXPECT_EQ(per_category["backward_weight"], 32);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(per_rank[r], 24) << "rank " << r;
  EXPECT_EQ(trace.at("otherData").at("schedule"), "zb-h1");
  EXPECT_DOUBLE_EQ(trace.at("otherData").at("bubble").get<double>(), tl.bubble);
}

TEST(PipelineTrace, InterleavedNamesCarryTheChunk) {
  const nlohmann::json trace =
      pipeline_trace_json(simulate(PipelineSchedule::kInterleaved, 2, 4, 2));
  int x = 0, chunk_one = 0;
  for (const nlohmann::json& e : trace.at("traceEvents")) {
    if (e.at("ph") != "X") continue;
    ++x;
    const std::string name = e.at("name");
    const int chunk = e.at("args").at("chunk");
    EXPECT_EQ(name.back() - '0', chunk) << name;
    chunk_one += chunk == 1;
  }
  EXPECT_EQ(x, 2 * 4 * 2 * 2);
  EXPECT_EQ(chunk_one, x / 2);
}

TEST(PipelineTrace, SvgHasABoxPerOpAndTheBubble) {
  const PipelineTimeline tl = simulate(PipelineSchedule::kZeroBubble, 4, 8, 1);
  testkit::TempDir dir("pipeline");
  const fs::path path = dir.path() / "pipeline.svg";
  Status s = write_pipeline_svg(path, tl);
  ASSERT_TRUE(s.is_ok()) << s.message();
  const std::string svg = testkit::read_file_bytes(path);
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("</svg>"));
  EXPECT_EQ(count(svg, "class=\"op\""), size_t(4 * 8 * 3));
  EXPECT_THAT(svg, HasSubstr(fmt::format("bubble {:.1f}%", 100.0 * tl.bubble)));
  EXPECT_THAT(svg, HasSubstr("zb-h1: pp=4, 8 micro-batches"));
  EXPECT_THAT(svg, HasSubstr("rank 3"));
  EXPECT_THAT(svg, HasSubstr("W: weight gradient"));
  EXPECT_THAT(svg, HasSubstr("time (ms)"));
  EXPECT_FALSE(std::regex_search(svg, std::regex("[^a-z](nan|inf)[^a-z]", std::regex::icase)));

  const std::string one = render_pipeline_svg(simulate(PipelineSchedule::k1F1B, 2, 4, 1));
  EXPECT_EQ(count(one, "class=\"op\""), size_t(2 * 4 * 2));
  EXPECT_THAT(one, HasSubstr("B: backward (input and weight gradients)"));
  EXPECT_THAT(one, Not(HasSubstr("W: weight gradient")));
}

TEST(PipelineTrace, UnwritablePathIsAnIoError) {
  const PipelineTimeline tl = simulate(PipelineSchedule::k1F1B, 2, 2, 1);
  Status s = write_pipeline_svg("/nonexistent-dir/pipeline.svg", tl);
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent-dir/pipeline.svg"));
}

}  // namespace
}  // namespace symphony
