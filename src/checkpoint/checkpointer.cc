#include "checkpoint/checkpointer.h"

#include <chrono>
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
  if (fs::exists(options_.dir / step_dir_name(header.step) / "manifest.json", ec)) return Status::ok();
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
    if (committed.is_ok()) committed = commit_step_dir(options_.dir, step);
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

std::string model_config_difference(const std::string& saved_toml,
                                    const std::string& current_toml) {
  const auto saved = model_section(saved_toml), current = model_section(current_toml);
  for (const auto& [key, value] : current) {
    auto it = saved.find(key);
    const std::string was = it == saved.end() ? "unset" : it->second;
    if (was != value)
      return fmt::format("model.{} = {} in the checkpoint, {} here", key, was, value);
  }
  for (const auto& [key, value] : saved)
    if (!current.count(key))
      return fmt::format("model.{} = {} in the checkpoint, unset here", key, value);
  return "";
}

Result<std::optional<ResumePoint>> resume_from(const std::string& spec, const fs::path& dir,
                                               const std::string& config_toml, Comm& world,
                                               Transformer& model, DataParallel& data_parallel,
                                               const std::function<void(const std::string&)>& warn) {
  std::error_code ec;
  fs::path search_dir = dir;
  std::vector<fs::path> candidates;  // newest first
  bool fallback = true;
  if (spec != "auto") {
    const fs::path p(spec);
    if (fs::exists(p / "manifest.json", ec)) {
      candidates.push_back(p);
      fallback = false;
    } else if (fs::is_directory(p, ec)) {
      search_dir = p;
    } else {
      return Error::not_found("--resume {}: neither a checkpoint step directory (with "
                              "manifest.json) nor a directory of checkpoints", spec);
    }
  }
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
      if (spec == "auto") return std::optional<ResumePoint>();
      return Error::not_found("--resume {}: no checkpoints (step-* directories) there", spec);
    }
  }
  std::string last_error;
  for (const fs::path& step_dir : candidates) {
    Result<CheckpointManifest> manifest = read_checkpoint_manifest(step_dir);
    Status status = manifest.has_value() ? Status::ok() : manifest.error();
    if (status.is_ok()) {
      const std::string difference = model_config_difference(manifest->config_toml, config_toml);
      if (!difference.empty())
        return Error::invalid("{} was saved from another model ({}); resume with its config or "
                              "point --resume elsewhere", step_dir.string(), difference);
      status = verify_checkpoint_files(*manifest, step_dir,
                                       files_needed(*manifest, model, data_parallel));
    }
    int32_t failed = status.is_ok() ? 0 : 1;
    SYM_TRY(world.all_reduce(std::span<int32_t>(&failed, 1), ReduceOp::kMax));
    if (failed) {
      last_error = status.is_ok() ? "failed verification on another rank" : status.message();
      if (!status.is_ok() && fallback)
        warn(fmt::format("skipping checkpoint {}: {}", step_dir.string(), status.message()));
      if (!fallback) break;
      continue;
    }
    SYM_TRY(load_rank_state(*manifest, step_dir, model, data_parallel));
    return std::optional<ResumePoint>(ResumePoint{step_dir, std::move(manifest).value()});
  }
  if (!fallback) return Error::corrupt("cannot resume from {}: {}", spec, last_error);
  return Error::corrupt("no valid checkpoint in {}; the oldest tried failed with: {}",
                        search_dir.string(), last_error);
}

}  // namespace symphony
