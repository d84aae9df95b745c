#include "checkpoint/checkpoint_dir.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "checkpoint/checkpoint_manifest.h"
#include "core/file_io.h"

namespace symphony {

namespace fs = std::filesystem;

std::string step_dir_name(int64_t step) { return fmt::format("step-{:08d}", step); }

fs::path temp_step_dir(const fs::path& dir, int64_t step) {
  return dir / (".tmp-" + step_dir_name(step));
}

namespace {

constexpr const char* kInvalidPrefix = ".invalid-";
constexpr const char* kReplacedPrefix = ".replaced-";

// The step of "step-NNNNNNNN" (eight to eighteen digits), or -1.
int64_t parse_step(const std::string& name) {
  if (!name.starts_with("step-") || name.size() < 13 || name.size() > 23) return -1;
  int64_t step = 0;
  for (char c : name.substr(5)) {
    if (c < '0' || c > '9') return -1;
    step = step * 10 + (c - '0');
  }
  return step;
}

Status remove_dir(const fs::path& path) {
  // Rename first: a crash during the removal leaves a ".trash-" directory, never a partial step.
  const fs::path trash = path.parent_path() / (".trash-" + path.filename().string());
  std::error_code ec;
  fs::rename(path, trash, ec);
  if (ec) return Error::io("renaming {} to {}: {}", path.string(), trash.string(), ec.message());
  fs::remove_all(trash, ec);
  if (ec) return Error::io("removing {}: {}", trash.string(), ec.message());
  return Status::ok();
}

bool is_moved_aside_name(const std::string& name) {
  return name.starts_with(std::string(kInvalidPrefix) + "step-") ||
         name.starts_with(std::string(kReplacedPrefix) + "step-");
}

}  // namespace

std::optional<int64_t> step_of_dir_name(const std::string& name) {
  std::string step_name = name;
  if (is_moved_aside_name(name)) {
    // ".invalid-step-NNNNNNNN-K": drop the prefix and "-K".
    const size_t prefix = name.starts_with(kInvalidPrefix) ? std::string(kInvalidPrefix).size()
                                                           : std::string(kReplacedPrefix).size();
    const size_t dash = name.rfind('-');
    if (dash <= prefix + 4 || dash + 1 == name.size() ||
        name.find_first_not_of("0123456789", dash + 1) != std::string::npos)
      return std::nullopt;
    step_name = name.substr(prefix, dash - prefix);
  }
  const int64_t step = parse_step(step_name);
  if (step < 0) return std::nullopt;
  return step;
}

std::vector<StepDir> list_step_dirs(const fs::path& dir) {
  std::vector<StepDir> steps;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const int64_t step = parse_step(it->path().filename().string());
    if (step >= 0 && it->is_directory(ec)) steps.push_back({step, it->path()});
  }
  std::sort(steps.begin(), steps.end(),
            [](const StepDir& a, const StepDir& b) { return a.step < b.step; });
  return steps;
}

std::vector<fs::path> list_moved_aside_dirs(const fs::path& dir) {
  std::vector<fs::path> moved;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (is_moved_aside_name(it->path().filename().string())) moved.push_back(it->path());
  std::sort(moved.begin(), moved.end());
  return moved;
}

Result<fs::path> move_step_dir_aside(const fs::path& step_dir, AsideReason why) {
  fs::path from = step_dir.lexically_normal();
  if (!from.has_filename()) from = from.parent_path();
  const char* prefix = why == AsideReason::kInvalid ? kInvalidPrefix : kReplacedPrefix;
  for (int k = 1;; ++k) {
    const fs::path to =
        from.parent_path() / fmt::format("{}{}-{}", prefix, from.filename().string(), k);
    // rename(2) would silently replace an empty directory under that name: never reuse one.
    std::error_code ec;
    if (fs::exists(fs::symlink_status(to, ec))) continue;
    if (::rename(from.c_str(), to.c_str()) != 0)
      return os_error(fmt::format("moving {} aside to", from.string()), to, errno);
    SYM_TRY(fsync_directory(to));
    return to;
  }
}

Result<StepDirCommit> commit_step_dir(const fs::path& dir, int64_t step) {
  const fs::path from = temp_step_dir(dir, step), to = dir / step_dir_name(step);
  SYM_TRY(fsync_directory(from / "manifest.json"));
  StepDirCommit outcome;
  std::error_code ec;
  if (fs::exists(fs::symlink_status(to, ec))) {
    // Judged by its manifest alone: reading every file of the old checkpoint would cost as much
    // as the save, and either way it leaves the name to the new, complete one.
    Result<CheckpointManifest> old = read_checkpoint_manifest(to);
    if (!old.has_value()) outcome.invalid_reason = old.error().message();
    SYM_TRY_ASSIGN(outcome.moved_aside,
                   move_step_dir_aside(to, old.has_value() ? AsideReason::kReplaced
                                                           : AsideReason::kInvalid));
  }
  if (::rename(from.c_str(), to.c_str()) != 0)
    return os_error(fmt::format("renaming {} to", from.string()), to, errno);
  SYM_TRY(fsync_directory(to));
  SYM_TRY(write_file_atomic(dir / "latest", step_dir_name(step) + "\n"));
  return outcome;
}

Status apply_retention(const fs::path& dir, int64_t keep_last, int64_t keep_every) {
  std::vector<StepDir> steps = list_step_dirs(dir);
  const int64_t n = int64_t(steps.size());
  for (int64_t i = 0; i < n - std::max<int64_t>(keep_last, 1); ++i) {
    const StepDir& s = steps[size_t(i)];
    if (keep_every > 0 && s.step % keep_every == 0) continue;
    SYM_TRY(remove_dir(s.path));
  }
  return Status::ok();
}

Status remove_stale_temp_dirs(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".tmp-step-") || name.starts_with(".trash-step-"))
      stale.push_back(it->path());
  }
  for (const fs::path& p : stale) {
    fs::remove_all(p, ec);
    if (ec) return Error::io("removing {}: {}", p.string(), ec.message());
  }
  return Status::ok();
}

}  // namespace symphony
