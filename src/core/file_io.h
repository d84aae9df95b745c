#pragma once
// POSIX file writing with Status errors, and atomic replacement of a file: the bytes go to
// "<path>.tmp", which is fsynced and renamed over `path`, and then the directory is fsynced, so a
// file under the final name is always complete and the rename survives a crash.
// Every error names the path and the operating system's reason. Thread-safety: the functions
// share no state; two writers of the same path at once race on its temporary file.

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace symphony {

// "<what> <path>: <strerror(err)>", e.g. "creating runs/a/model.safetensors.tmp: Permission
// denied". kNotFound when err is ENOENT, else kIo.
Status os_error(std::string_view what, const std::filesystem::path& path, int err);

// Writes all `bytes` at `data` to `fd`, continuing after short writes and EINTR. `path` is the
// file behind `fd`, for the error message. Failure: os_error("writing", path).
Status write_all(int fd, const void* data, size_t bytes, const std::filesystem::path& path);

// fsyncs the directory that holds `file` ("." for a bare file name), so that a completed rename
// to `file` survives a crash. Failure: os_error naming the directory.
Status fsync_directory(const std::filesystem::path& file);

// Writes `bytes` to `path` atomically: a reader sees the old file or the whole new one, never a
// part. Failure: kIo naming the path that failed (the temporary file for create, write, sync and
// close; `path` for the rename) and the OS error; this includes a missing directory, which is an
// unwritable destination rather than a missing input. The temporary file is removed on failure.
Status write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// The pieces of write_file_atomic for writers that stream a file in several writes.
// Usage:  SYM_TRY_ASSIGN(int fd, create_temp_file(path));
//         write_all(fd, ..., temp_path_for(path)) as often as needed, then
//         commit_temp_file(fd, path) to finish, or discard_temp_file(fd, path) to give up.

// The temporary file an atomic write of `path` goes through: "<path>.tmp".
std::filesystem::path temp_path_for(const std::filesystem::path& path);

// Creates (or truncates) temp_path_for(path) for writing, mode 0644, and returns its descriptor.
// Failure: os_error("creating", temp_path_for(path)).
Result<int> create_temp_file(const std::filesystem::path& path);

// fsyncs and closes `fd`, open on temp_path_for(path), renames that file to `path` and fsyncs the
// directory. `fd` is closed in every case; when a step up to the rename fails the temporary file
// is removed. Failure: os_error naming the file or directory and the step ("syncing", "closing",
// "renaming <tmp> to").
Status commit_temp_file(int fd, const std::filesystem::path& path);

// Closes `fd`, open on temp_path_for(path), and removes that file; for a write that failed.
void discard_temp_file(int fd, const std::filesystem::path& path);

}  // namespace symphony
