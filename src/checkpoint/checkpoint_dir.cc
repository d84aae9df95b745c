#include "checkpoint/checkpoint_dir.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "core/file_io.h"

namespace symphony {

namespace fs = std::filesystem;

std::string step_dir_name(int64_t step) { return fmt::format("step-{:08d}", step); }

fs::path temp_step_dir(const fs::path& dir, int64_t step) {
  return dir / (".tmp-" + step_dir_name(step));
}

namespace {

// The step of "step-NNNNNNNN" (eight or more digits), or -1.
int64_t parse_step(const std::string& name) {
  if (!name.starts_with("step-") || name.size() < 13) return -1;
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

}  // namespace

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

Status commit_step_dir(const fs::path& dir, int64_t step) {
  const fs::path from = temp_step_dir(dir, step), to = dir / step_dir_name(step);
  SYM_TRY(fsync_directory(from / "manifest.json"));
  if (::rename(from.c_str(), to.c_str()) != 0)
    return os_error(fmt::format("renaming {} to", from.string()), to, errno);
  SYM_TRY(fsync_directory(to));
  return write_file_atomic(dir / "latest", step_dir_name(step) + "\n");
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
