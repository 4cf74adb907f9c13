#include "base/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

namespace qasr {

// Steps PCRE2 may take for one match: far beyond what any tensor-name pattern needs,
// small enough that a pathological one gives up in well under a second.
constexpr uint32_t kMatchLimit = 1000000;
constexpr uint32_t kDepthLimit = 10000;

struct Pattern::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* ctx = nullptr;
  ~Impl() {
    if (ctx) pcre2_match_context_free(ctx);
    if (code) pcre2_code_free(code);
  }
};

Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;
Pattern::~Pattern() = default;

Expected<Pattern> Pattern::compile(const std::string& pattern) {
  Pattern p;
  p.text_ = pattern;
  p.impl_ = std::make_unique<Impl>();
  int err = 0;
  PCRE2_SIZE off = 0;
  p.impl_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF, &err, &off, nullptr);
  if (!p.impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return InvalidArgument(
        fmt::format("bad regular expression '{}' at offset {}: {}", pattern, off, reinterpret_cast<const char*>(msg)));
  }
  p.impl_->ctx = pcre2_match_context_create(nullptr);
  if (!p.impl_->ctx) return ResourceExhausted("out of memory for a regular expression");
  pcre2_set_match_limit(p.impl_->ctx, kMatchLimit);
  pcre2_set_depth_limit(p.impl_->ctx, kDepthLimit);
  return p;
}

Expected<bool> Pattern::search(std::string_view text) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (!md) return ResourceExhausted("out of memory for a regular expression match");
  const int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, md, impl_->ctx);
  pcre2_match_data_free(md);
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
    return InvalidArgument(
        fmt::format("regular expression '{}' needs too much backtracking (match limit {})", text_, kMatchLimit));
  return InvalidArgument(fmt::format("regular expression '{}' failed to match (PCRE2 error {})", text_, rc));
}

}  // namespace qasr
