#include "monitor/loss_plot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// True when a number in the SVG printed as nan or inf.
bool has_non_finite_number(const std::string& svg) {
  static const std::regex kNonFinite("[^a-z](nan|inf)[^a-z]", std::regex::icase);
  return std::regex_search(svg, kNonFinite);
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<PlotSeries> train_and_eval() {
  PlotSeries train{.name = "train loss", .points = {}, .color = ""};
  for (int step = 1; step <= 200; ++step)
    train.points.push_back({double(step), 6.0 * std::exp(-step / 60.0) + 2.0});
  PlotSeries eval{.name = "eval loss", .points = {{50, 4.1}, {100, 3.2}, {150, 2.9}, {200, 2.7}},
                  .color = ""};
  return {train, eval};
}

TEST(LossPlot, WritesAnSvgFileWithLinesAndLegend) {
  std::string pattern = (fs::temp_directory_path() / "symphony_plot_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path path = fs::path(pattern) / "loss.svg";
  Status s = write_loss_plot_svg(path, train_and_eval(), "tiny <moe> & friends");
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string svg = ss.str();
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("</svg>"));
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 4u);  // the sparse eval series gets dots
  EXPECT_THAT(svg, HasSubstr("train loss"));
  EXPECT_THAT(svg, HasSubstr("eval loss"));
  EXPECT_THAT(svg, HasSubstr("tiny &lt;moe&gt; &amp; friends"));
  EXPECT_FALSE(has_non_finite_number(svg));
  fs::remove_all(pattern);
}

TEST(LossPlot, HandlesOnePointNaNAndNoData) {
  PlotSeries one{.name = "train loss", .points = {{1, 5.0}}, .color = ""};
  const std::string single = render_loss_plot_svg({one}, "one point");
  EXPECT_EQ(count(single, "<circle"), 1u);
  EXPECT_EQ(count(single, "<polyline"), 0u);
  EXPECT_FALSE(has_non_finite_number(single));

  // A NaN breaks the line in two; an infinite value is dropped like NaN.
  PlotSeries gaps{.name = "train loss", .points = {}, .color = "#000"};
  for (int step = 0; step < 100; ++step)
    gaps.points.push_back({double(step), step == 50 ? kNaN : step == 70 ? INFINITY : 3.0});
  const std::string broken = render_loss_plot_svg({gaps}, "gaps");
  EXPECT_EQ(count(broken, "<polyline"), 3u);
  EXPECT_FALSE(has_non_finite_number(broken));

  PlotSeries nothing{.name = "eval loss", .points = {{kNaN, 1.0}, {2, kNaN}}, .color = ""};
  const std::string empty = render_loss_plot_svg({nothing}, "empty");
  EXPECT_THAT(empty, HasSubstr("no data"));
  EXPECT_FALSE(has_non_finite_number(empty));
  EXPECT_THAT(render_loss_plot_svg({}, "none"), HasSubstr("<svg"));
}

TEST(LossPlot, WriteFailureNamesThePath) {
  Status s = write_loss_plot_svg("/nonexistent_dir_for_symphony/loss.svg", train_and_eval(), "t");
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent_dir_for_symphony/loss.svg"));
}

}  // namespace
}  // namespace symphony
