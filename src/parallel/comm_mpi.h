#pragma once
// The MPI backend of Comm (host buffers). Created only through start_runtime() (runtime.h).
//
// Threading: MPI is initialised with MPI_THREAD_SERIALIZED and one progress thread per process
// makes every MPI call after initialisation. Operations are queued to it in issue order and
// started there as non-blocking MPI operations (MPI_Iallreduce, ...), so the issuing thread goes
// on computing while MPI makes progress: the thread keeps testing outstanding requests, backing
// off from spinning to short sleeps when nothing moves.
//
// Watchdog: an operation outstanding longer than the timeout fails, when the timeout is reached.
// A quarter of the timeout (at most 10 s) before that, the thread
// asks every other member of the group (over a private duplicate of the world communicator,
// answered by their progress threads even while their main thread computes or hangs) how many
// collectives of that group it has started, and names in the error the ranks that had not
// arrived and those that did not answer (dead or stopped); an operation that completes meanwhile
// is not an error. After a timeout the backend is
// poisoned: every queued and later operation fails at once, and the thread makes no further MPI
// call, so the caller can MPI_Abort safely.

#include <memory>

#include "core/status.h"
#include "parallel/runtime.h"

namespace symphony {

Result<std::unique_ptr<Runtime>> start_mpi_runtime(const RuntimeOptions& options);

}  // namespace symphony
