#include "launch/metrics_tail.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

void append(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

TEST(MetricsTail, ReadsCompleteStepLinesFromItsOffset) {
  testkit::TempDir dir("metrics_tail");
  const auto path = dir / "metrics.jsonl";
  MetricsTail missing(path, 0);
  EXPECT_THAT(missing.poll(), IsEmpty());  // no file yet
  append(path, "{\"step\":1,\"loss\":5.0}\n{\"step\":2,\"loss\":4.5}\n");
  const uint64_t offset = file_size_or_zero(path);
  MetricsTail tail(path, offset);
  EXPECT_THAT(tail.poll(), IsEmpty());
  // An evaluation and a checkpoint record are no training steps; a torn line waits.
  append(path,
         "{\"step\":2,\"eval_loss\":4.4}\n{\"step\":2,\"checkpoint\":\"x\"}\n{\"step\":3,\"lo");
  EXPECT_THAT(tail.poll(), IsEmpty());
  append(path, "ss\":4.1}\nnot json\n{\"step\":4,\"loss\":4.0}\n");
  EXPECT_THAT(tail.poll(), ElementsAre(3, 4));
  EXPECT_EQ(tail.offset(), file_size_or_zero(path));
  EXPECT_THAT(missing.poll(), ElementsAre(1, 2, 3, 4));
}

}  // namespace
}  // namespace symphony
