#include "checkpoint/checkpointer.h"

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "checkpoint/checkpoint_dir.h"
#include "core/file_io.h"
#include "core/timer.h"

namespace symphony {

namespace fs = std::filesystem;

Checkpointer::Checkpointer(CheckpointerOptions options, Comm& world)
    : options_(std::move(options)), world_(world) {}

Checkpointer::~Checkpointer() {
  if (pending_ && pending_->written.valid()) pending_->written.wait();
}

Status Checkpointer::save(CheckpointManifest header, Transformer& model,
                          DataParallel& data_parallel) {
  SYM_TRY(wait());
  std::error_code ec;
  Timer stall;
  const fs::path tmp = temp_step_dir(options_.dir, header.step);
  fs::create_directories(tmp, ec);
  if (ec) return Error::io("creating checkpoint directory {}: {}", tmp.string(), ec.message());
  // The snapshot buffers are reused from save to save (no writer holds them after wait()).
  if (!snapshot_) snapshot_ = std::make_shared<RankSnapshot>();
  snapshot_rank_state(model, data_parallel, world_.rank(), *snapshot_);
  std::shared_ptr<const RankSnapshot> snapshot = snapshot_;
  auto write_s = std::make_shared<double>(0);
  auto write = [snapshot, tmp, write_s]() {
    Timer timer;
    Status s = write_rank_files(*snapshot, tmp);
    *write_s = timer.elapsed_s();
    return s;
  };
  Pending pending{std::move(header), {}};
  if (options_.async) {
    pending.written = std::async(std::launch::async, write);
  } else {
    std::promise<Status> done;
    done.set_value(write());
    pending.written = done.get_future();
  }
  pending_.emplace(std::move(pending));
  times_.stall_s = stall.elapsed_s();
  write_s_ = write_s;
  if (!options_.async) return finish(/*block=*/true);
  return Status::ok();
}

Status Checkpointer::poll() { return finish(/*block=*/false); }
Status Checkpointer::wait() { return finish(/*block=*/true); }

Status Checkpointer::finish(bool block) {
  if (!pending_) return Status::ok();
  Pending& p = *pending_;
  if (!written_) {
    if (block || p.written.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
      written_ = p.written.get();
  }
  // [0]: some rank still writing; [1]: some rank failed.
  int32_t flags[2] = {written_ ? 0 : 1, written_ && !written_->is_ok() ? 1 : 0};
  SYM_TRY(world_.all_reduce(std::span<int32_t>(flags), ReduceOp::kMax));
  if (flags[0] != 0) return Status::ok();
  const int64_t step = p.header.step;
  Status mine = std::move(*written_);
  written_.reset();
  CheckpointManifest manifest = std::move(p.header);
  pending_.reset();
  times_.write_s = write_s_ ? *write_s_ : 0;
  if (flags[1] != 0) {
    if (!mine.is_ok()) return mine.with_context("saving the checkpoint of step {}", step);
    return Error::io("saving the checkpoint of step {} failed on another rank (see its error); "
                     "the earlier checkpoints in {} are intact", step, options_.dir.string());
  }
  Status committed;
  if (world_.rank() == 0) {
    const fs::path tmp = temp_step_dir(options_.dir, step);
    committed = assemble_manifest(tmp, world_.size(), manifest);
    if (committed.is_ok())
      committed = write_file_atomic(tmp / "manifest.json", manifest_to_json(manifest));
    if (committed.is_ok()) {
      Result<StepDirCommit> outcome = commit_step_dir(options_.dir, step);
      if (!outcome.has_value()) {
        committed = outcome.error();
      } else if (!outcome->moved_aside.empty() && options_.warn) {
        const std::string name = (options_.dir / step_dir_name(step)).string();
        if (!outcome->invalid_reason.empty())
          options_.warn(fmt::format("{} held an invalid checkpoint ({}); moved it to {} and saved "
                                    "step {} in its place", name, outcome->invalid_reason,
                                    outcome->moved_aside.string(), step));
        else
          options_.warn(fmt::format("{} already held a checkpoint of step {} (of an earlier run); "
                                    "moved it to {} and saved the new one in its place", name,
                                    step, outcome->moved_aside.string()));
      }
    }
    if (committed.is_ok())
      committed = apply_retention(options_.dir, options_.keep_last, options_.keep_every);
  }
  int32_t failed = committed.is_ok() ? 0 : 1;
  SYM_TRY(world_.all_reduce(std::span<int32_t>(&failed, 1), ReduceOp::kMax));
  if (!committed.is_ok()) return committed.with_context("committing the checkpoint of step {}", step);
  if (failed) return Error::io("rank 0 failed to commit the checkpoint of step {}", step);
  last_committed_ = step;
  return Status::ok();
}

namespace {

// key -> value lines of the [model] section of a TOML text as written by to_toml().
std::map<std::string, std::string> model_section(const std::string& toml) {
  std::map<std::string, std::string> keys;
  std::istringstream in(toml);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("[")) {
      inside = line.starts_with("[model]");
      continue;
    }
    const size_t eq = line.find('=');
    if (!inside || eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      const size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
      return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
    };
    keys[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return keys;
}

}  // namespace

std::optional<ModelConfigDifference> first_model_config_difference(
    const std::string& saved_toml, const std::string& current_toml) {
  const auto saved = model_section(saved_toml), current = model_section(current_toml);
  for (const auto& [key, value] : current) {
    auto it = saved.find(key);
    const std::string was = it == saved.end() ? "unset" : it->second;
    if (was != value) return ModelConfigDifference{"model." + key, was, value};
  }
  for (const auto& [key, value] : saved)
    if (!current.count(key)) return ModelConfigDifference{"model." + key, value, "unset"};
  return std::nullopt;
}

std::string model_config_difference(const std::string& saved_toml,
                                    const std::string& current_toml) {
  const std::optional<ModelConfigDifference> d =
      first_model_config_difference(saved_toml, current_toml);
  if (!d) return "";
  return fmt::format("{} = {} in the checkpoint, {} here", d->key, d->saved, d->current);
}

namespace {

// Broadcasts `text` from rank `root` to every rank of `world`.
Status broadcast_text(Comm& world, std::string& text, int root) {
  int64_t n = int64_t(text.size());
  SYM_TRY(world.broadcast(std::span<int64_t>(&n, 1), root));
  text.resize(size_t(n));
  if (n > 0) SYM_TRY(world.broadcast(text.data(), n, CommDType::kU8, root));
  return Status::ok();
}

// Sets `agreed`, on every rank, to the status of the lowest rank whose `mine` failed (ok when
// none did), so all ranks take the same branch and report the same reason. The return value is
// the communication's own status, kept apart: a failed collective is no verdict on a checkpoint.
Status agree_on_failure(Comm& world, const Status& mine, Status& agreed) {
  int32_t first = mine.is_ok() ? int32_t(world.size()) : int32_t(world.rank());
  SYM_TRY(world.all_reduce(std::span<int32_t>(&first, 1), ReduceOp::kMin));
  if (first == world.size()) {
    agreed = Status::ok();
    return Status::ok();
  }
  int64_t code = int64_t(mine.code());
  SYM_TRY(world.broadcast(std::span<int64_t>(&code, 1), first));
  std::string message = mine.message();
  SYM_TRY(broadcast_text(world, message, first));
  if (first != 0) message += fmt::format(" (on rank {})", first);
  agreed = Status(ErrorCode(code), std::move(message));
  return Status::ok();
}

// The manifest, model config and every file this rank will read of `step_dir`.
Status check_candidate(const fs::path& step_dir, const std::string& config_toml,
                       Transformer& model, DataParallel& data_parallel,
                       Result<CheckpointManifest>& manifest, std::string& model_difference) {
  manifest = read_checkpoint_manifest(step_dir);
  if (!manifest.has_value()) return manifest.error();
  model_difference = model_config_difference(manifest->config_toml, config_toml);
  if (!model_difference.empty()) return Status::ok();
  return verify_checkpoint_files(*manifest, step_dir,
                                 files_needed(*manifest, model, data_parallel));
}

// Points `latest` in `dir` at `step_dir` unless it already names it.
Status point_latest_at(const fs::path& dir, const fs::path& step_dir) {
  const std::string want = step_dir.filename().string() + "\n";
  std::ifstream in(dir / "latest", std::ios::binary);
  std::ostringstream have;
  if (in) have << in.rdbuf();
  if (have.str() == want) return Status::ok();
  return write_file_atomic(dir / "latest", want);
}

}  // namespace

Result<std::optional<ResumePoint>> resume_from(const std::string& spec, const fs::path& dir,
                                               const std::string& config_toml, Comm& world,
                                               Transformer& model, DataParallel& data_parallel,
                                               const std::function<void(const std::string&)>& warn) {
  std::error_code ec;
  const bool leader = world.rank() == 0;
  auto tell = [&](const std::string& message) {
    if (leader && warn) warn(message);
  };
  fs::path search_dir = dir;
  std::vector<fs::path> candidates;  // newest first
  bool fallback = true;
  if (spec != "auto") {
    fs::path p = fs::path(spec).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "step-00000060/"
    // A step directory by its manifest or, when the manifest is gone, by its name.
    const bool step_named = step_of_dir_name(p.filename().string()).has_value();
    if (fs::exists(p / "manifest.json", ec) || (step_named && fs::is_directory(p, ec))) {
      candidates.push_back(p);
      fallback = false;
    } else if (fs::is_directory(p, ec)) {
      search_dir = p;
    } else {
      return Error::not_found("--resume {}: neither a checkpoint step directory (with "
                              "manifest.json) nor a directory of checkpoints", spec);
    }
  }
  // Only rank 0 renames, and only in the run's own checkpoint directory: a directory of another
  // run named by --resume may be shared or read-only, and is not this run's to rearrange.
  const bool own_dir =
      leader && fallback && (spec == "auto" || fs::equivalent(search_dir, dir, ec));
  if (fallback) {
    // Rank 0's listing, so every rank walks the same candidates.
    std::vector<int64_t> steps;
    for (const StepDir& s : list_step_dirs(search_dir)) steps.push_back(s.step);
    int64_t count = int64_t(steps.size());
    SYM_TRY(world.broadcast(std::span<int64_t>(&count, 1), 0));
    steps.resize(size_t(count));
    if (count > 0) SYM_TRY(world.broadcast(std::span<int64_t>(steps), 0));
    for (auto it = steps.rbegin(); it != steps.rend(); ++it)
      candidates.push_back(search_dir / step_dir_name(*it));
    if (candidates.empty()) {
      if (spec != "auto")
        return Error::not_found("--resume {}: no checkpoints (step-* directories) there", spec);
      if (leader) {
        const std::vector<fs::path> moved = list_moved_aside_dirs(dir);
        if (!moved.empty())
          tell(fmt::format("{} holds no step-* checkpoint, only {} moved aside earlier (such as "
                           "{}), which are never resumed from", dir.string(), moved.size(),
                           moved.back().filename().string()));
      }
      return std::optional<ResumePoint>();
    }
  }
  std::string last_error;
  for (const fs::path& step_dir : candidates) {
    Result<CheckpointManifest> manifest = Error::internal("unread");
    std::string difference;
    const Status mine =
        check_candidate(step_dir, config_toml, model, data_parallel, manifest, difference);
    // Every rank read the same manifest, so all of them see the same difference.
    if (!difference.empty())
      return Error::invalid("{} was saved from another model ({}); resume with its config or "
                            "point --resume elsewhere", step_dir.string(), difference);
    Status verdict;
    SYM_TRY(agree_on_failure(world, mine, verdict));
    if (verdict.is_ok()) {
      SYM_TRY(load_rank_state(*manifest, step_dir, model, data_parallel));
      Status pointed = own_dir ? point_latest_at(dir, step_dir) : Status::ok();
      Status agreed;
      SYM_TRY(agree_on_failure(world, pointed, agreed));
      SYM_TRY(agreed);
      return std::optional<ResumePoint>(ResumePoint{step_dir, std::move(manifest).value()});
    }
    // Named explicitly: the user's choice stands, and is not second-guessed or renamed.
    if (!fallback)
      return Status(verdict.code(),
                    fmt::format("cannot resume from {}: {}", step_dir.string(), verdict.message()));
    last_error = verdict.message();
    // An unreadable checkpoint (the OS refused: permissions, I/O errors) may be intact: left be.
    Status moved;
    if (own_dir && verdict.code() != ErrorCode::kIo) {
      Result<fs::path> aside = move_step_dir_aside(step_dir, AsideReason::kInvalid);
      if (aside.has_value())
        tell(fmt::format("checkpoint {} is invalid: {}; moved it to {}; trying the next older one",
                         step_dir.string(), verdict.message(), aside->string()));
      else
        moved = aside.error().with_context("checkpoint {} is invalid ({})", step_dir.string(),
                                           verdict.message());
    } else {
      tell(fmt::format("skipping checkpoint {}: {}; trying the next older one", step_dir.string(),
                       verdict.message()));
    }
    Status agreed;
    SYM_TRY(agree_on_failure(world, moved, agreed));
    SYM_TRY(agreed);
  }
  return Error::corrupt("no valid checkpoint in {}; the oldest tried failed with: {}",
                        search_dir.string(), last_error);
}

}  // namespace symphony
