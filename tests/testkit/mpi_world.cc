#include "testkit/mpi_world.h"

#include "core/check.h"

namespace symphony::testkit {

namespace {
Comm* g_world = nullptr;
}

void set_world(Comm* world) { g_world = world; }

Comm& world() {
  SYM_CHECK(g_world != nullptr, "testkit::world() outside a multi-rank test main");
  return *g_world;
}

}  // namespace symphony::testkit
