// The endpoint over real HTTP on the loopback: a client GETs /metrics while the snapshot changes.
#include "monitor/metrics_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "testkit/prometheus_parse.h"

namespace symphony {
namespace {

TEST(MetricsServer, ServesTheLatestSnapshot) {
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::start("127.0.0.1", 0);
  ASSERT_TRUE(server.has_value()) << server.error().message();
  MetricsServer& s = **server;
  ASSERT_GT(s.port(), 0);
  httplib::Client client("127.0.0.1", s.port());
  auto scrape = [&]() -> testkit::ParsedExposition {
    httplib::Result response = client.Get("/metrics");
    EXPECT_TRUE(response) << httplib::to_string(response.error());
    if (!response) return {};
    EXPECT_EQ(response->status, 200);
    EXPECT_THAT(response->get_header_value("Content-Type"),
                ::testing::StartsWith("text/plain; version=0.0.4"));
    Result<testkit::ParsedExposition> p = testkit::parse_prometheus_text(response->body);
    EXPECT_TRUE(p.has_value()) << p.error().message();
    return p.has_value() ? *p : testkit::ParsedExposition{};
  };
  EXPECT_TRUE(scrape().find("symphony_loss").empty());
  for (int step = 1; step <= 3; ++step) {
    s.update([&](RunMetricsSnapshot& snapshot) {
      snapshot.step = step;
      snapshot.loss = 4.0 / step;
    });
    const testkit::ParsedExposition p = scrape();
    ASSERT_EQ(p.find("symphony_loss").size(), 1u);
    EXPECT_EQ(p.find("symphony_loss")[0].value, 4.0 / step);
    EXPECT_EQ(p.find("symphony_step")[0].value, step);
  }
  httplib::Result missing = client.Get("/other");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(MetricsServer, APortInUseIsNamed) {
  Result<std::unique_ptr<MetricsServer>> first = MetricsServer::start("127.0.0.1", 0);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  Result<std::unique_ptr<MetricsServer>> second =
      MetricsServer::start("127.0.0.1", (*first)->port());
  ASSERT_FALSE(second.has_value());
  EXPECT_THAT(second.error().message(),
              ::testing::HasSubstr(fmt::format("127.0.0.1:{}", (*first)->port())));
}

}  // namespace
}  // namespace symphony
