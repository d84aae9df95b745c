#include "parallel/runtime.h"

#include <cstdlib>

#include "parallel/comm_mpi.h"

namespace symphony {

namespace {

class SelfRuntime final : public Runtime {
 public:
  SelfRuntime() : world_(make_self_comm("world")) {}
  Comm& world() override { return *world_; }
  bool distributed() const override { return false; }
  [[noreturn]] void abort(int code) override { std::exit(code); }

 private:
  std::unique_ptr<Comm> world_;
};

}  // namespace

bool launched_by_mpi() {
  // OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE; PMIx launchers (srun --mpi=pmix, prterun) set
  // PMIX_RANK; PMI-1/2 launchers set PMI_RANK.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

std::unique_ptr<Runtime> make_self_runtime() { return std::make_unique<SelfRuntime>(); }

Result<std::unique_ptr<Runtime>> start_runtime(const RuntimeOptions& options) {
  if (!launched_by_mpi()) return make_self_runtime();
  return start_mpi_runtime(options);
}

}  // namespace symphony
