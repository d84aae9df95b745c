#pragma once
// Checkpointer: saves the training state of every rank into one step directory
// (checkpoint/checkpoint_dir.h), asynchronously when asked, and finds and loads the newest valid
// checkpoint to resume from.
//
// Save protocol (every rank calls the same methods at the same steps):
//   save()  snapshots this rank's state to host memory (the only stall of an asynchronous save),
//           then writes it into the step's temporary directory, in a background thread when
//           async (training goes on) or before returning.
//   poll()  at every step end while a save is pending: one small all-reduce tells whether every
//           rank has written; then rank 0 writes the manifest and commits the directory (rename,
//           `latest`, retention). A rank whose writing failed makes every rank's poll() fail.
//           A directory already under the step's name is moved aside, not overwritten
//           (checkpoint/checkpoint_dir.h commit_step_dir), and reported through `warn`.
//   wait()  blocks until the pending save is committed (end of training, preemption).
// Thread-safety: the training thread only; the background writer touches only its snapshot.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "checkpoint/checkpoint_io.h"
#include "checkpoint/checkpoint_manifest.h"
#include "core/status.h"
#include "model/transformer.h"
#include "parallel/comm.h"
#include "zero/data_parallel.h"

namespace symphony {

struct CheckpointerOptions {
  std::filesystem::path dir;
  bool async = true;
  int64_t keep_last = 3;
  int64_t keep_every = 0;
  // Told, on rank 0, about a directory moved aside by a commit; may be empty.
  std::function<void(const std::string&)> warn;
};

struct SaveTimes {
  double stall_s = 0;  // the training thread's time inside save()
  double write_s = 0;  // writing this rank's files, wherever it ran
};

class Checkpointer {
 public:
  Checkpointer(CheckpointerOptions options, Comm& world);
  ~Checkpointer();  // waits for a background write, without committing it
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // `header` holds everything but tensors and files. Waits for an earlier pending save first.
  // A step that already has a checkpoint is saved anew; the old one is moved aside at commit.
  Status save(CheckpointManifest header, Transformer& model, DataParallel& data_parallel);
  Status poll();
  Status wait();
  bool pending() const { return pending_.has_value(); }
  // The newest committed step, -1 before the first.
  int64_t last_committed_step() const { return last_committed_; }
  const SaveTimes& last_times() const { return times_; }
  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  struct Pending {
    CheckpointManifest header;
    std::future<Status> written;
  };
  Status finish(bool block);

  CheckpointerOptions options_;
  Comm& world_;
  std::optional<Pending> pending_;
  std::optional<Status> written_;        // this rank's write result, once known
  std::shared_ptr<double> write_s_;      // set by the writer
  std::shared_ptr<RankSnapshot> snapshot_;  // host copy of this rank's state, reused
  int64_t last_committed_ = -1;
  SaveTimes times_;
};

struct ResumePoint {
  std::filesystem::path step_dir;
  CheckpointManifest manifest;
};

// Finds what `spec` names and loads it into this rank's state. `spec`: "auto" for the newest
// valid checkpoint under `dir` (none there: nullopt, a fresh start), or a step directory (a path
// holding manifest.json or named step-NNNNNNNN), or a checkpoint directory (its newest valid
// one).
// Valid: the manifest is present, matches its own checksum, states the step its directory's name
// states, and every file this rank reads has the size and checksum the manifest lists; the ranks
// agree, and the first failing rank's reason is the one reported.
// With "auto" or a checkpoint directory, an invalid checkpoint is reported through `warn` (on
// rank 0) and the next older one tried. Inside `dir` itself (the run's own checkpoint directory,
// which the run writes to) rank 0 also moves it aside to ".invalid-step-NNNNNNNN-K" (never
// deleted) unless the OS refused to read it (kIo: left in place), and after a load points
// `latest` at the checkpoint loaded; elsewhere nothing is renamed or written.
// A step directory named explicitly is never moved: an invalid one is an error naming the path
// and the reason (kCorrupt, or kNotFound for a missing manifest or file).
// A checkpoint of another model config is an error naming the first differing key. Failure to
// rename or write in `dir`: kIo naming the path. Collective over `world`.
Result<std::optional<ResumePoint>> resume_from(const std::string& spec,
                                               const std::filesystem::path& dir,
                                               const std::string& config_toml, Comm& world,
                                               Transformer& model, DataParallel& data_parallel,
                                               const std::function<void(const std::string&)>& warn);

// The first key of the [model] sections of two config TOML texts (as to_toml writes them) whose
// values differ (keys of `current_toml` first, each group alphabetically); nullopt when they
// agree.
struct ModelConfigDifference {
  std::string key;      // "model.hidden_size"
  std::string saved;    // the value in saved_toml, "unset" when absent
  std::string current;  // the value in current_toml, "unset" when absent
};
std::optional<ModelConfigDifference> first_model_config_difference(
    const std::string& saved_toml, const std::string& current_toml);

// "" when the [model] sections of two config TOML texts agree, else the first key that differs
// with both values, e.g. "model.hidden_size = 64 in the checkpoint, 128 here".
std::string model_config_difference(const std::string& saved_toml, const std::string& current_toml);

}  // namespace symphony
