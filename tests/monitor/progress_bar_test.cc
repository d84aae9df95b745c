#include "monitor/progress_bar.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace symphony {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_back(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char chunk[256];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0) text.append(chunk, n);
  return text;
}

TEST(ProgressBar, FormatsDurations) {
  EXPECT_EQ(format_duration_hms(0), "0:00:00");
  EXPECT_EQ(format_duration_hms(83.4), "0:01:23");
  EXPECT_EQ(format_duration_hms(3600 * 12 + 61), "12:01:01");
  EXPECT_EQ(format_duration_hms(-1), "-:--:--");
  EXPECT_EQ(format_duration_hms(NAN), "-:--:--");
}

TEST(ProgressBar, RendersStepLossRateAndEta) {
  const std::string line = render_progress_line(
      {.step = 250, .total_steps = 1000, .loss = 3.14159, .tokens_per_s = 12345, .eta_s = 83},
      20);
  EXPECT_THAT(line, HasSubstr(" 250/1000"));
  EXPECT_THAT(line, HasSubstr("[#####...............]"));
  EXPECT_THAT(line, HasSubstr("25.0%"));
  EXPECT_THAT(line, HasSubstr("loss 3.1416"));
  EXPECT_THAT(line, HasSubstr("12.3k tok/s"));
  EXPECT_THAT(line, HasSubstr("ETA 0:01:23"));
}

TEST(ProgressBar, PlainLinesEveryNStepsAndTheLast) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ProgressBar bar(25, out, {.style = ProgressStyle::kLines, .line_every = 10});
    EXPECT_EQ(bar.style(), ProgressStyle::kLines);
    for (int step = 1; step <= 25; ++step) bar.update(step, 2.0, 1000.0);
  }
  const std::string text = read_back(out);
  std::fclose(out);
  EXPECT_THAT(text, HasSubstr("step 10/25"));
  EXPECT_THAT(text, HasSubstr("step 20/25"));
  EXPECT_THAT(text, HasSubstr("step 25/25"));
  EXPECT_THAT(text, Not(HasSubstr("step  5/25")));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 3u);
}

TEST(ProgressBar, RedrawUsesCarriageReturnAndEndsTheLine) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ProgressBar bar(3, out, {.style = ProgressStyle::kRedraw, .redraw_interval_s = 0.0});
    for (int step = 1; step <= 3; ++step) bar.update(step, 1.0, 10.0);
    bar.finish();
  }
  const std::string text = read_back(out);
  std::fclose(out);
  EXPECT_THAT(text, HasSubstr("\rstep 1/3"));
  EXPECT_THAT(text, HasSubstr("\rstep 3/3"));
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1);  // finish() once, destructor adds nothing
}

TEST(ProgressBar, AutoPicksLinesForAFile) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  {
    ProgressBar bar(1, out);
    EXPECT_EQ(bar.style(), ProgressStyle::kLines);
  }
  std::fclose(out);
}

}  // namespace
}  // namespace symphony
