#include "data/ordered_work_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/rng.h"

namespace symphony {
namespace {

TEST(OrderedWorkPool, ResultsComeBackInSubmissionOrderWithBoundedInFlight) {
  for (int threads : {1, 3, 8}) {
    SCOPED_TRACE(threads);
    constexpr int64_t kMaxInFlight = 5;
    std::atomic<int64_t> submitted{0}, taken{0}, worst{0};
    OrderedWorkPool<int64_t, int64_t> pool(threads, kMaxInFlight, [](int64_t&& x) {
      // Uneven work, so later inputs often finish first.
      std::this_thread::sleep_for(std::chrono::microseconds(splitmix64(uint64_t(x)) % 300));
      return x * x;
    });
    std::thread producer([&] {
      for (int64_t i = 0; i < 300; ++i) {
        ASSERT_TRUE(pool.submit(i));
        const int64_t in_flight = ++submitted - taken.load();
        int64_t seen = worst.load();
        while (in_flight > seen && !worst.compare_exchange_weak(seen, in_flight)) {}
      }
      pool.close();
    });
    int64_t expected = 0;
    while (std::optional<int64_t> r = pool.take()) {
      EXPECT_EQ(*r, expected * expected);
      ++expected;
      ++taken;
    }
    producer.join();
    EXPECT_EQ(expected, 300);
    // `taken` is counted after take() returns, so it may lag the pool's own count by one.
    EXPECT_LE(worst.load(), kMaxInFlight + 1);
  }
}

TEST(OrderedWorkPool, CancelUnblocksTheProducer) {
  OrderedWorkPool<int, int> pool(2, 2, [](int&& x) { return x; });
  std::atomic<bool> refused{false};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      if (!pool.submit(i)) {
        refused = true;
        return;
      }
    }
  });
  EXPECT_EQ(pool.take(), 0);
  pool.cancel();
  producer.join();
  EXPECT_TRUE(refused.load());
  EXPECT_EQ(pool.take(), std::nullopt);
}

}  // namespace
}  // namespace symphony
