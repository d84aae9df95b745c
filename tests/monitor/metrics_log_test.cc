#include "monitor/metrics_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace symphony {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class MetricsLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "symphony_metrics_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
};

TEST_F(MetricsLogTest, WritesOneFlushedObjectPerLine) {
  const fs::path path = dir_ / "metrics.jsonl";
  auto log = MetricsLog::open(path);
  ASSERT_TRUE(log.has_value()) << log.error().message();
  ASSERT_TRUE(log->write({{"step", 1}, {"loss", 5.5}}).is_ok());
  // Visible to readers before the log is closed.
  EXPECT_EQ(slurp(path), "{\"loss\":5.5,\"step\":1}\n");
  ASSERT_TRUE(log->write({{"step", 2}, {"loss", 5.25}, {"note", "a\nb"}}).is_ok());
  auto records = read_metrics_log(path);
  ASSERT_TRUE(records.has_value()) << records.error().message();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[1]["step"], 2);
  EXPECT_EQ((*records)[1]["note"], "a\nb");
}

TEST_F(MetricsLogTest, ReopeningAppends) {
  const fs::path path = dir_ / "metrics.jsonl";
  {
    auto log = MetricsLog::open(path);
    ASSERT_TRUE(log.has_value());
    ASSERT_TRUE(log->write({{"step", 1}}).is_ok());
  }
  {
    auto log = MetricsLog::open(path);
    ASSERT_TRUE(log.has_value());
    ASSERT_TRUE(log->write({{"step", 2}}).is_ok());
  }
  auto records = read_metrics_log(path);
  ASSERT_TRUE(records.has_value());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0]["step"], 1);
  EXPECT_EQ((*records)[1]["step"], 2);
}

TEST_F(MetricsLogTest, RejectsNonObjectsAndSurvivesInvalidUtf8) {
  auto log = MetricsLog::open(dir_ / "m.jsonl");
  ASSERT_TRUE(log.has_value());
  Status s = log->write(nlohmann::json::array({1, 2}));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("m.jsonl"));
  EXPECT_TRUE(log->write({{"sample", std::string("ok \xff bad")}}).is_ok());
  auto records = read_metrics_log(dir_ / "m.jsonl");
  ASSERT_TRUE(records.has_value());
  ASSERT_EQ(records->size(), 1u);
}

TEST_F(MetricsLogTest, ReaderSkipsATornLastLineAndNamesBadLines) {
  const fs::path path = dir_ / "torn.jsonl";
  std::ofstream(path) << "{\"step\":1}\n{\"step\":2}\n{\"ste";
  auto records = read_metrics_log(path);
  ASSERT_TRUE(records.has_value()) << records.error().message();
  EXPECT_EQ(records->size(), 2u);

  std::ofstream(path) << "{\"step\":1}\nnot json\n";
  auto bad = read_metrics_log(path);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
  EXPECT_THAT(bad.error().message(), HasSubstr("torn.jsonl:2"));
}

TEST_F(MetricsLogTest, OpenFailureNamesThePath) {
  auto log = MetricsLog::open(dir_ / "no_such_dir" / "m.jsonl");
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(log.error().message(), HasSubstr("no_such_dir/m.jsonl"));
}

}  // namespace
}  // namespace symphony
