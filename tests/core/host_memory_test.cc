#include "core/host_memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testkit/temp_dir.h"

namespace symphony {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kGiB = int64_t(1) << 30;

constexpr const char* kMeminfo =
    "MemTotal:       24683748 kB\n"
    "MemFree:         1034520 kB\n"
    "MemAvailable:   23597600 kB\n"
    "Buffers:          123456 kB\n"
    "SwapTotal:       1048576 kB\n"
    "HugePages_Total:       0\n";

TEST(HostMemory, ParsesMeminfoFields) {
  EXPECT_EQ(parse_meminfo_field(kMeminfo, "MemAvailable"), int64_t(23597600) * 1024);
  EXPECT_EQ(parse_meminfo_field(kMeminfo, "MemTotal"), int64_t(24683748) * 1024);
  EXPECT_EQ(parse_meminfo_field(kMeminfo, "HugePages_Total"), 0);  // no unit: a count
  EXPECT_EQ(parse_meminfo_field(kMeminfo, "Mem"), std::nullopt);   // a prefix is not a field
  EXPECT_EQ(parse_meminfo_field(kMeminfo, "Cached"), std::nullopt);
  EXPECT_EQ(parse_meminfo_field("MemAvailable: lots kB\n", "MemAvailable"), std::nullopt);
  EXPECT_EQ(parse_meminfo_field("MemAvailable: 99999999999999999 kB", "MemAvailable"),
            std::nullopt);  // overflows int64 in bytes
}

TEST(HostMemory, ParsesProcSelfCgroup) {
  const ProcCgroup v2 = parse_proc_cgroup("0::/user.slice/session-3.scope\n");
  EXPECT_EQ(v2.version, "v2");
  EXPECT_EQ(v2.path, "/user.slice/session-3.scope");
  // Hybrid: the v1 memory controller holds the memory, whatever the v2 line says.
  const ProcCgroup hybrid = parse_proc_cgroup(
      "9:name=systemd:/\n4:memory:/process_api/676d\n2:cpu,cpuacct:/\n0::/\n");
  EXPECT_EQ(hybrid.version, "v1");
  EXPECT_EQ(hybrid.path, "/process_api/676d");
  EXPECT_EQ(parse_proc_cgroup("5:cpuset,memory:/docker/abc").path, "/docker/abc");
  EXPECT_EQ(parse_proc_cgroup("3:cpu:/x\n").version, "");
  EXPECT_EQ(parse_proc_cgroup("").version, "");
}

TEST(HostMemory, ParsesCgroupFiles) {
  EXPECT_EQ(parse_cgroup_limit("max\n"), std::nullopt);
  EXPECT_EQ(parse_cgroup_limit("25769803776\n"), 24 * kGiB);
  EXPECT_EQ(parse_cgroup_limit("9223372036854771712\n"), std::nullopt);  // v1's "unlimited"
  EXPECT_EQ(parse_cgroup_limit("-1"), std::nullopt);
  EXPECT_EQ(parse_cgroup_number("3235840\n"), 3235840);
  const char* stat = "cache 278528\nactive_file 1000\ninactive_file 57344\n"
                     "total_inactive_file 65536\n";
  EXPECT_EQ(parse_memory_stat_field(stat, "inactive_file"), 57344);
  EXPECT_EQ(parse_memory_stat_field(stat, "total_inactive_file"), 65536);
  EXPECT_EQ(parse_memory_stat_field(stat, "file"), std::nullopt);
}

TEST(HostMemory, ParsesMemorySizes) {
  EXPECT_EQ(parse_memory_size("25769803776"), 24 * kGiB);
  EXPECT_EQ(parse_memory_size("24G"), 24 * kGiB);
  EXPECT_EQ(parse_memory_size("24GiB"), 24 * kGiB);
  EXPECT_EQ(parse_memory_size("512m"), int64_t(512) << 20);
  EXPECT_EQ(parse_memory_size("1.5T"), int64_t(3) << 39);
  EXPECT_EQ(parse_memory_size("1B"), 1);
  EXPECT_EQ(parse_memory_size("lots"), std::nullopt);
  EXPECT_EQ(parse_memory_size("12X"), std::nullopt);
  EXPECT_EQ(parse_memory_size("99999P"), std::nullopt);  // beyond int64
}

TEST(HostMemory, FormatsBytes) {
  EXPECT_EQ(format_bytes(12), "12 B");
  EXPECT_EQ(format_bytes(int64_t(512) << 20), "512.0 MiB");
  EXPECT_EQ(format_bytes(int64_t(41.2 * double(kGiB))), "41.2 GiB");
  EXPECT_EQ(format_bytes(int64_t(3) << 50), "3.0 PiB");
}

TEST(HostMemory, AvailableIsTheLeastOfItsSources) {
  HostMemory m;
  EXPECT_EQ(m.available(), std::nullopt);
  m.mem_available = 23 * kGiB;
  m.mem_total = 24 * kGiB;
  EXPECT_EQ(m.available(), 23 * kGiB);
  EXPECT_EQ(m.describe_available(), "MemAvailable; cgroup limit none");
  EXPECT_EQ(m.describe_capacity(), "MemTotal + SwapTotal; cgroup limit none");

  m.cgroup_version = "v2";
  m.cgroup_limit = 16 * kGiB;
  m.cgroup_free = 12 * kGiB;
  EXPECT_EQ(m.available(), 12 * kGiB);
  EXPECT_EQ(m.capacity(), 16 * kGiB);
  EXPECT_EQ(m.describe_available(),
            "cgroup v2 limit 16.0 GiB, 4.0 GiB in use; MemAvailable 23.0 GiB");

  m.knob_limit = 1 * kGiB;
  EXPECT_EQ(m.available(), 1 * kGiB);
  EXPECT_EQ(m.capacity(), 1 * kGiB);
  EXPECT_THAT(m.describe_available(), StartsWith("SYMPHONY_MEMORY_LIMIT; "));
}

// A fake /proc and /sys/fs/cgroup for read_host_memory.
struct FakeHost {
  testkit::TempDir dir{"host_memory"};
  HostMemorySources sources() const {
    HostMemorySources s;
    s.proc = dir / "proc";
    s.cgroup = dir / "cgroup";
    return s;
  }
};

TEST(HostMemory, ReadsMeminfoWithoutCgroup) {
  FakeHost host;
  host.dir.write("proc/meminfo", kMeminfo);
  const HostMemory m = read_host_memory(host.sources());
  EXPECT_EQ(m.mem_available, int64_t(23597600) * 1024);
  EXPECT_EQ(m.mem_total, int64_t(24683748 + 1048576) * 1024);  // + swap
  EXPECT_EQ(m.cgroup_limit, std::nullopt);
  EXPECT_EQ(m.available(), m.mem_available);
}

TEST(HostMemory, ReadsTheTightestCgroupV2LimitUpTheTree) {
  FakeHost host;
  host.dir.write("proc/meminfo", kMeminfo);
  host.dir.write("proc/self/cgroup", "0::/outer/inner\n");
  host.dir.write("cgroup/cgroup.controllers", "cpu memory\n");
  // The process's own cgroup is unlimited; its parent allows 8 GiB, of which 3 GiB are in use,
  // 1 GiB of that reclaimable page cache.
  host.dir.write("cgroup/outer/inner/memory.max", "max\n");
  host.dir.write("cgroup/outer/inner/memory.current", "1073741824\n");
  host.dir.write("cgroup/outer/memory.max", "8589934592\n");
  host.dir.write("cgroup/outer/memory.current", "3221225472\n");
  host.dir.write("cgroup/outer/memory.stat", "anon 2147483648\ninactive_file 1073741824\n");
  const HostMemory m = read_host_memory(host.sources());
  EXPECT_EQ(m.cgroup_version, "v2");
  EXPECT_EQ(m.cgroup_limit, 8 * kGiB);
  EXPECT_EQ(m.cgroup_free, 6 * kGiB);
  EXPECT_EQ(m.available(), 6 * kGiB);
  EXPECT_EQ(m.capacity(), 8 * kGiB);
  EXPECT_THAT(m.describe_available(), StartsWith("cgroup v2 limit 8.0 GiB, 2.0 GiB in use"));
}

TEST(HostMemory, ReadsACgroupV1LimitOfAHybridSystem) {
  FakeHost host;
  host.dir.write("proc/meminfo", kMeminfo);
  host.dir.write("proc/self/cgroup", "4:memory:/job/7\n0::/\n");
  host.dir.write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  host.dir.write("cgroup/memory/job/memory.limit_in_bytes", "9223372036854771712\n");
  host.dir.write("cgroup/memory/job/7/memory.limit_in_bytes", "4294967296\n");
  host.dir.write("cgroup/memory/job/7/memory.usage_in_bytes", "1073741824\n");
  host.dir.write("cgroup/memory/job/7/memory.stat", "total_inactive_file 0\n");
  const HostMemory m = read_host_memory(host.sources());
  EXPECT_EQ(m.cgroup_version, "v1");
  EXPECT_EQ(m.cgroup_limit, 4 * kGiB);
  EXPECT_EQ(m.cgroup_free, 3 * kGiB);
  EXPECT_EQ(m.available(), 3 * kGiB);
}

TEST(HostMemory, ANamespacedCgroupIsTheMountRoot) {
  // Inside a container /proc/self/cgroup may show a path that does not exist under the mount.
  FakeHost host;
  host.dir.write("proc/self/cgroup", "0::/kubepods/pod42/abc\n");
  host.dir.write("cgroup/cgroup.controllers", "memory\n");
  host.dir.write("cgroup/memory.max", "2147483648\n");
  host.dir.write("cgroup/memory.current", "0\n");
  const HostMemory m = read_host_memory(host.sources());
  EXPECT_EQ(m.cgroup_limit, 2 * kGiB);
  EXPECT_EQ(m.mem_available, std::nullopt);  // no meminfo here
  EXPECT_EQ(m.available(), 2 * kGiB);
}

TEST(HostMemory, TheKnobOnlyLowers) {
  FakeHost host;
  host.dir.write("proc/meminfo", kMeminfo);
  HostMemorySources sources = host.sources();
  sources.limit_knob = "1G";
  EXPECT_EQ(read_host_memory(sources).available(), kGiB);
  sources.limit_knob = "1P";
  EXPECT_EQ(read_host_memory(sources).available(), int64_t(23597600) * 1024);
  sources.limit_knob = "nonsense";
  EXPECT_EQ(read_host_memory(sources).knob_limit, std::nullopt);
}

TEST(HostMemory, NothingKnownWithoutTheFiles) {
  FakeHost host;
  const HostMemory m = read_host_memory(host.sources());
  EXPECT_EQ(m.available(), std::nullopt);
  EXPECT_EQ(m.capacity(), std::nullopt);
}

TEST(HostMemory, ThisMachineAnswers) {
  // Linux CI always has /proc/meminfo.
  const HostMemory m = read_host_memory();
  ASSERT_TRUE(m.available().has_value());
  EXPECT_GT(*m.available(), 0);
  EXPECT_THAT(m.describe_available(), HasSubstr("MemAvailable"));
}

}  // namespace
}  // namespace symphony
