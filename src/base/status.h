// Error channels (see docs/ARCHITECTURE.md):
//  - Status / Expected<T>: user and environment problems (missing file, bad magic,
//    unsupported audio...). The message names the thing, what was expected and
//    what was found. Nothing under src/ throws.
//  - QASR_CHECK: programming errors; aborts with file:line and the streamed values.
#pragma once

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace qasr {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

// A value or an error message. Minimal stand-in for C++23 std::expected.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Error("internal: Expected built from an OK status");
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
#define QASR_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::qasr::Status qasr_status_ = (expr);       \
    if (!qasr_status_.ok()) return qasr_status_; \
  } while (0)

// auto x = value of an Expected<T>, or return its error.
#define QASR_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto QASR_CONCAT(qasr_expected_, __LINE__) = (expr);                     \
  if (!QASR_CONCAT(qasr_expected_, __LINE__).ok())                         \
    return QASR_CONCAT(qasr_expected_, __LINE__).status();                 \
  lhs = std::move(QASR_CONCAT(qasr_expected_, __LINE__)).value()
