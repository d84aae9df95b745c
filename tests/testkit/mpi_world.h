#pragma once
// The world communicator of a multi-rank test (set by tests/testkit/mpi_main.cc).

#include "parallel/comm.h"
#include "parallel/runtime.h"

namespace symphony::testkit {

void set_world(Comm* world);
Comm& world();

}  // namespace symphony::testkit
