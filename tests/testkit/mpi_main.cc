// main() of the multi-rank tests: starts the runtime (MPI under mpirun, one rank otherwise),
// runs every test on every rank, and exits non-zero on a rank whose tests failed, which makes
// mpirun fail. Collective timeouts are short so a test that desynchronises ranks fails, not hangs.
#include <gtest/gtest.h>

#include <cstdio>

#include "testkit/mpi_world.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  symphony::RuntimeOptions options;
  options.timeout_s = 120;
  auto runtime = symphony::start_runtime(options);
  if (!runtime) {
    std::fprintf(stderr, "starting the runtime: %s\n", runtime.error().message().c_str());
    return 1;
  }
  symphony::testkit::set_world(&(*runtime)->world());
  // Only rank 0 prints the per-test report; every rank still checks and sets its exit code.
  if ((*runtime)->world().rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int failed = RUN_ALL_TESTS();
  if (failed != 0) {
    std::fprintf(stderr, "rank %d: tests failed\n", (*runtime)->world().rank());
    (*runtime)->abort(1);
  }
  return 0;
}
