// Status and Result<T>: errors as values, shared by every module.
//
// A Status is either OK or carries a code, an errno (0 when none) and a
// message. Functions that can fail return [[nodiscard]] Status or Result<T>;
// no exception crosses a module boundary. To ignore a status on purpose,
// write `status.IgnoreError();` so that the choice is greppable.
//
// Thread safety: values; a const Status may be read from any thread.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace razar {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kIoError,
    kCorruption,
    kNotFound,
    kInvalidArgument,
    kNotSupported,
    kFailed,  // the object is latched in a failed state by an earlier error
    kAborted,
    kTimedOut,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status IoError(std::string_view msg, int err = 0) { return {Code::kIoError, msg, err}; }
  static Status Corruption(std::string_view msg) { return {Code::kCorruption, msg, 0}; }
  static Status NotFound(std::string_view msg) { return {Code::kNotFound, msg, 0}; }
  static Status InvalidArgument(std::string_view msg) { return {Code::kInvalidArgument, msg, 0}; }
  static Status NotSupported(std::string_view msg) { return {Code::kNotSupported, msg, 0}; }
  static Status Failed(std::string_view msg) { return {Code::kFailed, msg, 0}; }
  static Status Aborted(std::string_view msg) { return {Code::kAborted, msg, 0}; }
  static Status TimedOut(std::string_view msg) { return {Code::kTimedOut, msg, 0}; }
  // An IoError from errno `err`, message "<what>: <strerror(err)>".
  static Status FromErrno(std::string_view what, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int err() const { return errno_; }
  const std::string& message() const { return message_; }
  bool IsIoError() const { return code_ == Code::kIoError; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsFailed() const { return code_ == Code::kFailed; }

  // "OK" or "<Code>: <message>".
  std::string ToString() const;
  // Returns a copy whose message is prefixed with "<context>: ".
  Status WithContext(std::string_view context) const;
  // Marks a deliberate ignore.
  void IgnoreError() const {}

 private:
  Status(Code code, std::string_view msg, int err) : code_(code), errno_(err), message_(msg) {}
  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(implicit); REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace razar

// Early-return helpers. RAZAR_RETURN_IF_ERROR(expr) returns the Status of
// `expr` if it is not OK. RAZAR_ASSIGN_OR_RETURN(lhs, expr) unwraps a Result.
#define RAZAR_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::razar::Status _razar_st = (expr);    \
    if (!_razar_st.ok()) return _razar_st; \
  } while (0)

#define RAZAR_CONCAT_INNER(a, b) a##b
#define RAZAR_CONCAT(a, b) RAZAR_CONCAT_INNER(a, b)
#define RAZAR_ASSIGN_OR_RETURN(lhs, expr) \
  RAZAR_ASSIGN_OR_RETURN_IMPL(RAZAR_CONCAT(_razar_res_, __LINE__), lhs, expr)
#define RAZAR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
