#include "server/multipart.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace qasr {
namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status bad(const std::string& what) {
  return InvalidArgument("malformed multipart body: " + what);
}

// Parameters of a header value: `form-data; name="x"; filename="a b.wav"`.
// Quoted strings may hold \" and \\ escapes.
Status parse_params(std::string_view v, MultipartPart& part) {
  size_t i = v.find(';');
  if (lower(trim(v.substr(0, i))) != "form-data") return bad("Content-Disposition is not form-data");
  while (i != std::string_view::npos && i < v.size()) {
    ++i;  // past ';'
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    const size_t eq = v.find('=', i);
    if (eq == std::string_view::npos) break;
    const std::string key = lower(trim(v.substr(i, eq - i)));
    std::string value;
    size_t j = eq + 1;
    if (j < v.size() && v[j] == '"') {
      ++j;
      bool closed = false;
      for (; j < v.size(); ++j) {
        if (v[j] == '\\' && j + 1 < v.size()) {
          value.push_back(v[++j]);
        } else if (v[j] == '"') {
          closed = true;
          ++j;
          break;
        } else {
          value.push_back(v[j]);
        }
      }
      if (!closed) return bad("unterminated quoted parameter");
      i = v.find(';', j);
    } else {
      const size_t end = v.find(';', j);
      value = std::string(trim(v.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      i = end;
    }
    if (key == "name") {
      part.name = value;
    } else if (key == "filename") {
      part.filename = value;
      part.has_filename = true;
    }
  }
  return Status::Ok();
}

}  // namespace

Expected<std::string> multipart_boundary(std::string_view ct) {
  const std::string l = lower(ct);
  if (l.rfind("multipart/form-data", 0) != 0)
    return InvalidArgument(
        fmt::format("Content-Type must be multipart/form-data, got '{}'", std::string(ct.substr(0, 100))));
  const size_t p = l.find("boundary=");
  if (p == std::string::npos) return InvalidArgument("multipart/form-data without a boundary");
  std::string_view b = ct.substr(p + 9);
  const size_t semi = b.find(';');
  if (semi != std::string_view::npos) b = b.substr(0, semi);
  b = trim(b);
  if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
  if (b.empty() || b.size() > 200) return InvalidArgument("multipart boundary is empty or longer than 200 characters");
  return std::string(b);
}

Expected<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                     size_t max_parts) {
  if (boundary.empty()) return bad("empty boundary");
  const std::string delim = "--" + std::string(boundary);
  // The first delimiter may start the body or follow a preamble after a CRLF.
  size_t pos;
  if (body.substr(0, delim.size()) == delim) {
    pos = delim.size();
  } else {
    const size_t p = body.find("\r\n" + delim);
    if (p == std::string_view::npos) return bad("no boundary delimiter");
    pos = p + 2 + delim.size();
  }
  const std::string next_delim = "\r\n" + delim;
  std::vector<MultipartPart> parts;
  for (;;) {
    // After a delimiter: "--" ends the body, CRLF starts a part.
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;  // transport padding
    if (body.substr(pos, 2) != "\r\n") return bad("a boundary is not followed by CRLF");
    pos += 2;
    if (parts.size() >= max_parts) return bad(fmt::format("more than {} parts", max_parts));
    const size_t hend = body.find("\r\n\r\n", pos);
    if (hend == std::string_view::npos) return bad("part headers do not end");
    if (hend - pos > 16384) return bad("part headers longer than 16 KiB");
    MultipartPart part;
    bool disposition = false;
    std::string_view headers = body.substr(pos, hend - pos);
    while (!headers.empty()) {
      const size_t eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      if (line.empty()) continue;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return bad("a part header without ':'");
      const std::string key = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (key == "content-disposition") {
        QASR_RETURN_IF_ERROR(parse_params(value, part));
        disposition = true;
      } else if (key == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (!disposition || part.name.empty()) return bad("a part without a Content-Disposition name");
    const size_t data_start = hend + 4;
    const size_t end = body.find(next_delim, data_start);
    if (end == std::string_view::npos) return bad(fmt::format("part '{}' is not closed by a boundary", part.name));
    part.data = body.substr(data_start, end - data_start);
    parts.push_back(std::move(part));
    pos = end + next_delim.size();
  }
}

}  // namespace qasr
