// A regular expression from the user (--tensor-type PATTERN=TYPE), matched with PCRE2 under
// a match limit and a depth limit, so a pattern that backtracks catastrophically fails
// with a message after bounded work instead of running for minutes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace qasr {

class Pattern {
 public:
  static Expected<Pattern> compile(const std::string& pattern);
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;
  ~Pattern();
  // True if the pattern matches anywhere in `text`; InvalidArgument when the match limit
  // is hit.
  Expected<bool> search(std::string_view text) const;
  const std::string& text() const { return text_; }

 private:
  Pattern() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string text_;
};

}  // namespace qasr
