#pragma once
// A run's checkpoint directory:
//   step-00000100/             complete checkpoints (checkpoint/checkpoint_manifest.h)
//   latest                     "step-00000100": the newest complete one, replaced atomically
//                              after it; a hint for people and tools, never needed to resume
//   .tmp-step-00000200/        a save in progress; renamed to step-00000200 once complete
//   .invalid-step-00000060-1/  a checkpoint found invalid (its manifest missing, failing its
//                              checksum or naming another step, or its files failing
//                              verification), moved aside; kept, never deleted
//   .replaced-step-00000060-1/ a valid checkpoint that a later save of the same step replaced
//                              (a run resumed from an older step, or started afresh); kept
// A step directory exists under its final name only when every file and the manifest in it were
// written and synced, so a crash at any moment leaves the earlier checkpoints intact. Listing,
// resuming and retention look at step-* names only: moved-aside directories are never read,
// counted or removed again.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony {

std::string step_dir_name(int64_t step);
std::filesystem::path temp_step_dir(const std::filesystem::path& dir, int64_t step);

// The step a directory name states: "step-NNNNNNNN" (eight or more digits) and its moved-aside
// forms ".invalid-step-NNNNNNNN-K" and ".replaced-step-NNNNNNNN-K"; nullopt for any other name.
std::optional<int64_t> step_of_dir_name(const std::string& name);

struct StepDir {
  int64_t step = 0;
  std::filesystem::path path;
};
// The step directories under `dir`, oldest first; none when `dir` does not exist.
std::vector<StepDir> list_step_dirs(const std::filesystem::path& dir);
// The moved-aside directories under `dir` (".invalid-step-*", ".replaced-step-*"), by name.
std::vector<std::filesystem::path> list_moved_aside_dirs(const std::filesystem::path& dir);

enum class AsideReason : uint8_t {
  kInvalid,   // to ".invalid-<name>-K"
  kReplaced,  // to ".replaced-<name>-K"
};
// Renames `step_dir` to a sibling ".invalid-<name>-K" or ".replaced-<name>-K", K the smallest
// positive integer whose name is free, and syncs the parent directory. Nothing is deleted.
// Returns the new path. REQUIRES: a single writer of the parent directory (rank 0).
// Failure: os_error naming `step_dir` and the new path.
Result<std::filesystem::path> move_step_dir_aside(const std::filesystem::path& step_dir,
                                                  AsideReason why);

// What commit_step_dir did with a directory already under the step's name.
struct StepDirCommit {
  std::filesystem::path moved_aside;  // its new path; empty when there was none
  std::string invalid_reason;         // why its manifest was refused; "" when it was valid
};
// Renames the complete temporary directory of `step` to its final name, syncs `dir` and points
// `latest` at it. A directory already under the final name is moved aside first (as invalid when
// read_checkpoint_manifest refuses it, else as replaced; its files are not read), only once the
// new one is complete; a crash between the two renames leaves the old one moved aside and the
// new one under its temporary name (removed at the next start). Failure: kIo naming the path.
Result<StepDirCommit> commit_step_dir(const std::filesystem::path& dir, int64_t step);

// Deletes step directories beyond the newest `keep_last` (at least 1), except steps that are
// multiples of `keep_every` (when positive). A directory is renamed away before it is removed,
// so a crash midway never leaves a half-deleted checkpoint under a step name.
// Failure: kIo naming the path.
Status apply_retention(const std::filesystem::path& dir, int64_t keep_last, int64_t keep_every);
// Removes what interrupted saves and deletions left (".tmp-step-*", ".trash-step-*"); for the
// start of a run, before it saves. Moved-aside directories stay. Failure: kIo naming the path.
Status remove_stale_temp_dirs(const std::filesystem::path& dir);

}  // namespace symphony
