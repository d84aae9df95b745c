#pragma once
// Runtime: the process's place in the world. start_runtime() picks the backend:
//  - started by an MPI launcher (mpirun / mpiexec from OpenMPI, or Slurm's srun with PMIx):
//    MPI, initialised with MPI_THREAD_SERIALIZED; every MPI call then runs on one progress thread
//    (comm_mpi.cc), which also enforces the collective timeout (the watchdog);
//  - otherwise: one rank, SelfComm, and MPI is never initialised, so a plain `symphony train`
//    needs no launcher.
// The runtime outlives every Comm made from it. Destroying it finalises MPI after a barrier.

#include <memory>
#include <string>

#include "core/status.h"
#include "parallel/comm.h"

namespace symphony {

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual Comm& world() = 0;
  virtual bool distributed() const = 0;  // true under an MPI launcher
  // Ends every rank of the job with `code` (MPI_Abort), so no peer waits forever on this one.
  // A single-process runtime just exits.
  [[noreturn]] virtual void abort(int code) = 0;
};

struct RuntimeOptions {
  double timeout_s = 600;  // a collective that takes longer fails with a watchdog error
};

// True when the environment shows an MPI launcher started this process.
bool launched_by_mpi();

// Failure: MPI initialisation errors or a thread level below MPI_THREAD_SERIALIZED.
Result<std::unique_ptr<Runtime>> start_runtime(const RuntimeOptions& options);

// The single-process runtime, regardless of the environment (tests, tools).
std::unique_ptr<Runtime> make_self_runtime();

}  // namespace symphony
