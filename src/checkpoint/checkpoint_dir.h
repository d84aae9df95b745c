#pragma once
// A run's checkpoint directory:
//   step-00000100/      complete checkpoints (checkpoint/checkpoint_manifest.h)
//   latest              "step-00000100": the newest complete one, replaced atomically after it
//   .tmp-step-00000200/ a save in progress; renamed to step-00000200 once complete
// A step directory exists under its final name only when every file and the manifest in it were
// written and synced, so a crash at any moment leaves the earlier checkpoints intact.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace symphony {

std::string step_dir_name(int64_t step);
std::filesystem::path temp_step_dir(const std::filesystem::path& dir, int64_t step);

struct StepDir {
  int64_t step = 0;
  std::filesystem::path path;
};
// The step directories under `dir`, oldest first; none when `dir` does not exist.
std::vector<StepDir> list_step_dirs(const std::filesystem::path& dir);

// Renames the complete temporary directory of `step` to its final name, syncs `dir` and points
// `latest` at it. Failure: kIo naming the path.
Status commit_step_dir(const std::filesystem::path& dir, int64_t step);

// Deletes step directories beyond the newest `keep_last` (at least 1), except steps that are
// multiples of `keep_every` (when positive). A directory is renamed away before it is removed,
// so a crash midway never leaves a half-deleted checkpoint under a step name.
// Failure: kIo naming the path.
Status apply_retention(const std::filesystem::path& dir, int64_t keep_last, int64_t keep_every);
// Removes what interrupted saves and deletions left (".tmp-step-*", ".trash-step-*"); for the
// start of a run, before it saves. Failure: kIo naming the path.
Status remove_stale_temp_dirs(const std::filesystem::path& dir);

}  // namespace symphony
