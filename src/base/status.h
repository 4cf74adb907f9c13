// Error channels (docs/ARCHITECTURE.md, "Errors"):
//  - Status / Expected<T>: user and environment problems (missing file, bad magic,
//    unsupported audio...). Each carries a StatusCode, set where the error is made,
//    and a message naming the thing, what was expected and what was found. Callers
//    map the code (the CLI to an exit code, the server to an HTTP status, the C API
//    to its enum) and never parse the text. Nothing under src/ throws.
//  - QASR_CHECK: programming errors; aborts with file:line and the streamed values.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace qasr {

// What kind of failure, for callers that must react differently. Stable numbers:
// the C API exposes them (include/qasr.h) and the CLI derives its exit codes.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,    // a flag, option or request field has a bad value
  kNotFound = 2,           // a file, model or name that does not exist
  kInvalidFormat = 3,      // a file that is corrupt, truncated or not what it claims
  kUnsupported = 4,        // valid input qasr does not handle (m4a, an unknown dtype)
  kTooLarge = 5,           // over a limit (audio length, upload size, a size from a file)
  kCancelled = 6,          // stopped on request (stop token, text callback, disconnect)
  kDeadlineExceeded = 7,   // ran past its deadline
  kUnavailable = 8,        // busy, loading or shutting down; retry later
  kResourceExhausted = 9,  // out of memory or address space
  kIoError = 10,           // reading or writing failed (disk full, unwritable stdout)
  kInternal = 11,          // a bug or an unexpected library failure
};
const char* status_code_name(StatusCode c);  // "invalid_argument", ...

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
    if (code_ == StatusCode::kOk) code_ = StatusCode::kInternal;  // an error must say what kind
  }
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The same error with "prefix: " in front of its message (context added by a caller).
  Status annotate(std::string_view prefix) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Constructors by kind, so call sites read as what went wrong.
inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status InvalidFormat(std::string m) {
  return {StatusCode::kInvalidFormat, std::move(m)};
}
inline Status Unsupported(std::string m) {
  return {StatusCode::kUnsupported, std::move(m)};
}
inline Status TooLarge(std::string m) {
  return {StatusCode::kTooLarge, std::move(m)};
}
inline Status Cancelled(std::string m) {
  return {StatusCode::kCancelled, std::move(m)};
}
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status IoError(std::string m) {
  return {StatusCode::kIoError, std::move(m)};
}
inline Status Internal(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}
// An errno-based failure of a system call on `what` (ENOENT → NotFound, ENOMEM →
// ResourceExhausted, EFBIG → TooLarge, else IoError), message "what: strerror".
Status errno_status(int err, std::string_view what);

// A value or an error. Minimal stand-in for C++23 std::expected.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Expected(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Internal("Expected built from an OK status");
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const std::string& error() const { return status_.message(); }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// Streams the message of a failed check, then aborts.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond);
  [[noreturn]] ~CheckFailure();
  template <typename V>
  CheckFailure& operator<<(const V& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace qasr

// QASR_CHECK(cond) << "extra " << values;  -- for invariants, never for user input.
#define QASR_CHECK(cond) \
  if (cond) {            \
  } else                 \
    ::qasr::CheckFailure(__FILE__, __LINE__, #cond)

#define QASR_CONCAT_INNER(a, b) a##b
#define QASR_CONCAT(a, b) QASR_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is an error.
#define QASR_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::qasr::Status qasr_status_ = (expr);        \
    if (!qasr_status_.ok()) return qasr_status_; \
  } while (0)

// auto x = value of an Expected<T>, or return its error.
#define QASR_ASSIGN_OR_RETURN(lhs, expr)                                                                  \
  auto QASR_CONCAT(qasr_expected_, __LINE__) = (expr);                                                    \
  if (!QASR_CONCAT(qasr_expected_, __LINE__).ok()) return QASR_CONCAT(qasr_expected_, __LINE__).status(); \
  lhs = std::move(QASR_CONCAT(qasr_expected_, __LINE__)).value()  // NOLINT(bugprone-macro-parentheses)
