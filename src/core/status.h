#pragma once
// Status and Result<T>: how code reports failures the outside world can cause (config, files, data,
// checkpoints). Our own invariants use SYM_CHECK (core/check.h) instead.
// Result<T> mirrors the std::expected interface (has_value, value, error, operator*, ->) so it can
// be swapped for std::expected once the toolchain has it.

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace symphony {

enum class ErrorCode {
  kOk,
  kInvalidArgument,  // bad config, command line, shapes
  kNotFound,         // a missing file, key or preset
  kCorrupt,          // a file whose content is damaged or inconsistent
  kIo,               // the operating system refused
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where the caller was: "loading runs/a/config.toml: <message>".
  template <typename... Args>
  Status with_context(fmt::format_string<Args...> format, Args&&... args) const {
    if (is_ok()) return *this;
    return Status(code_, fmt::format(format, std::forward<Args>(args)...) + ": " + message_);
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

namespace Error {
template <typename... Args>
Status invalid(fmt::format_string<Args...> format, Args&&... args) {
  return Status(ErrorCode::kInvalidArgument, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
Status not_found(fmt::format_string<Args...> format, Args&&... args) {
  return Status(ErrorCode::kNotFound, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
Status corrupt(fmt::format_string<Args...> format, Args&&... args) {
  return Status(ErrorCode::kCorrupt, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
Status io(fmt::format_string<Args...> format, Args&&... args) {
  return Status(ErrorCode::kIo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
Status internal(fmt::format_string<Args...> format, Args&&... args) {
  return Status(ErrorCode::kInternal, fmt::format(format, std::forward<Args>(args)...));
}
}  // namespace Error

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Status error) : state_(std::move(error)) {}        // NOLINT: implicit by design

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Status& error() const { return std::get<1>(state_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace symphony

#define SYM_CONCAT_INNER(a, b) a##b
#define SYM_CONCAT(a, b) SYM_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not ok.
#define SYM_TRY(expr)                                        \
  do {                                                       \
    ::symphony::Status sym_try_status_ = (expr);             \
    if (!sym_try_status_.is_ok()) return sym_try_status_;    \
  } while (0)

// SYM_TRY_ASSIGN(auto x, load()) declares x from a Result, or returns its error.
#define SYM_TRY_ASSIGN(lhs, expr) SYM_TRY_ASSIGN_IMPL(SYM_CONCAT(sym_result_, __LINE__), lhs, expr)
#define SYM_TRY_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                        \
  if (!tmp.has_value()) return tmp.error(); \
  lhs = std::move(tmp).value()
