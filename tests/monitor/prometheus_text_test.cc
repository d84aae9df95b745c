#include "monitor/prometheus_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "testkit/prometheus_parse.h"

namespace symphony {
namespace {

TEST(PrometheusText, MetricAndLabelNames) {
  for (const char* ok : {"symphony_loss", "a", "_x", "ns:metric_1", "A9"})
    EXPECT_TRUE(is_valid_metric_name(ok)) << ok;
  for (const char* bad : {"", "9lives", "loss-rate", "loss rate", "loss.rate", "lossé"})
    EXPECT_FALSE(is_valid_metric_name(bad)) << bad;
  for (const char* ok : {"rank", "_kind", "category2"}) EXPECT_TRUE(is_valid_label_name(ok)) << ok;
  // Colons are for metric names only; "__" starts Prometheus's own labels.
  for (const char* bad : {"", "a:b", "__name__", "2x", "host-name"})
    EXPECT_FALSE(is_valid_label_name(bad)) << bad;
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)"
                               "\n"
                               "d"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("node-7.example"), "node-7.example");
  // Help text keeps its quotes: only backslash and newline are escaped there.
  EXPECT_EQ(escape_help_text("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");
}

TEST(PrometheusText, ValuesReadBackExactly) {
  EXPECT_EQ(format_metric_value(NAN), "NaN");
  EXPECT_EQ(format_metric_value(INFINITY), "+Inf");
  EXPECT_EQ(format_metric_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_metric_value(3), "3");
  for (double v : {0.1, 3.3076501466151490, 1e-300, -2.5e17, 12345678901234567.0}) {
    const std::string s = format_metric_value(v);
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
  }
}

TEST(PrometheusText, RendersFamiliesThatParseBack) {
  std::vector<MetricFamily> families = {
      {"symphony_loss",
       "Mean loss.\nSecond line with a \\ backslash.",
       MetricType::kGauge,
       {{{}, 3.25}}},
      {"symphony_rank_info",
       "Ranks.",
       MetricType::kGauge,
       {{{{"rank", "0"}, {"host", "a\"b\\c\nd"}}, 1}, {{{"rank", "1"}, {"host", "h2"}}, 1}}},
      {"symphony_stragglers_total", "Named.", MetricType::kCounter, {{{}, 2}}},
      {"symphony_mfu_ratio", "Not known yet.", MetricType::kGauge, {}},
  };
  const std::string text = render_prometheus_text(families);
  EXPECT_THAT(text, ::testing::StartsWith(
                        "# HELP symphony_loss Mean loss.\\nSecond line with a \\\\ backslash.\n"
                        "# TYPE symphony_loss gauge\n"
                        "symphony_loss 3.25\n"));
  EXPECT_THAT(text,
              ::testing::HasSubstr("symphony_rank_info{rank=\"0\",host=\"a\\\"b\\\\c\\nd\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE symphony_stragglers_total counter\n"
                                         "symphony_stragglers_total 2\n"));
  Result<testkit::ParsedExposition> parsed = testkit::parse_prometheus_text(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message() << "\n" << text;
  EXPECT_EQ(parsed->help.at("symphony_loss"), "Mean loss.\nSecond line with a \\ backslash.");
  EXPECT_EQ(parsed->type.at("symphony_mfu_ratio"), "gauge");
  EXPECT_TRUE(parsed->find("symphony_mfu_ratio").empty());
  const auto info = parsed->find("symphony_rank_info", {{"rank", "0"}});
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].labels.at("host"), "a\"b\\c\nd");
  EXPECT_EQ(parsed->find("symphony_loss")[0].value, 3.25);
}

TEST(PrometheusText, TheParserRejectsWhatPrometheusWould) {
  for (const char* bad : {"symphony_loss 1\n",                    // no TYPE
                          "# TYPE x gauge\nx{a=\"1} 2\n",         // unterminated
                          "# TYPE x gauge\nx{a=1} 2\n",           // unquoted
                          "# TYPE x gauge\nx{a=\"\\q\"} 2\n",     // bad escape
                          "# TYPE x gauge\nx one\n",              // bad value
                          "# TYPE x gauge\nx 1",                  // no newline
                          "# TYPE x gauge\n# TYPE x gauge\n"}) {  // typed twice
    EXPECT_FALSE(testkit::parse_prometheus_text(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace symphony
