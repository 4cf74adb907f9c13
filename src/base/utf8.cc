#include "base/utf8.h"

namespace qasr::utf8 {
namespace {

// For a lead byte: sequence length and the valid range of the second byte
// (Unicode Table 3-7). Returns 0 for bytes that cannot start a sequence.
int lead_info(unsigned char b, unsigned char& lo, unsigned char& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;
  if (b < 0xE0) return 2;
  if (b == 0xE0) {
    lo = 0xA0;
    return 3;
  }
  if (b == 0xED) {
    hi = 0x9F;
    return 3;
  }
  if (b < 0xF0) return 3;
  if (b == 0xF0) {
    lo = 0x90;
    return 4;
  }
  if (b < 0xF4) return 4;
  if (b == 0xF4) {
    hi = 0x8F;
    return 4;
  }
  return 0;
}

constexpr const char kReplacement[] = "\xEF\xBF\xBD";

}  // namespace

std::string repair(std::string_view s) {
  std::string out;
  out.reserve(3 * s.size());  // worst case: every byte becomes U+FFFD (3 bytes)
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    unsigned char lo, hi;
    int len = lead_info(b, lo, hi);
    if (len == 1) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    size_t j = 1;
    bool ok = true;
    for (; j < static_cast<size_t>(len); ++j) {
      if (i + j >= n) {
        ok = false;
        break;
      }
      unsigned char c = static_cast<unsigned char>(s[i + j]);
      unsigned char l = j == 1 ? lo : 0x80, h = j == 1 ? hi : 0xBF;
      if (c < l || c > h) {
        ok = false;
        break;
      }
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += kReplacement;  // the maximal subpart: the j bytes that were valid so far
      i += j;
    }
  }
  return out;
}

size_t complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence is still open.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char b = static_cast<unsigned char>(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    unsigned char lo, hi;
    int len = lead_info(b, lo, hi);
    if (len > 1 && static_cast<size_t>(len) > back) {
      // Open sequence; hold it back only if the bytes seen so far are valid.
      bool valid = true;
      for (size_t j = 1; j < back; ++j) {
        unsigned char c = static_cast<unsigned char>(s[n - back + j]);
        unsigned char l = j == 1 ? lo : 0x80, h = j == 1 ? hi : 0xBF;
        if (c < l || c > h) valid = false;
      }
      return valid ? n - back : n;
    }
    return n;
  }
  return n;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    char32_t cp;
    int len;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if (b < 0xE0) {
      cp = b & 0x1F;
      len = 2;
    } else if (b < 0xF0) {
      cp = b & 0x0F;
      len = 3;
    } else {
      cp = b & 0x07;
      len = 4;
    }
    for (int j = 1; j < len && i + j < s.size(); ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string from_u32(std::u32string_view s) {
  std::string out;
  out.reserve(4 * s.size());
  for (char32_t c : s) append(out, c);
  return out;
}

bool is_space(char32_t c) {
  // Python's str.isspace(): bidirectional class WS/B/S or category Zs.
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

std::u32string_view strip(std::u32string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string strip(std::string_view s) {
  std::u32string u = to_u32(s);
  return from_u32(strip(std::u32string_view(u)));
}

}  // namespace qasr::utf8
