// SPDX-License-Identifier: MIT
#include "faceverify/junit.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <string_view>

#include "faceverify/text.hpp"

namespace faceverify {
namespace {

// Unicode control characters (C0, DEL, C1) except tab/LF/CR, and the
// noncharacters U+FFFE/U+FFFF: not allowed (or not wanted) in XML 1.0.
bool unwanted(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF;
}

// Escapes for XML character data (attribute = false) or a double-quoted
// attribute value (attribute = true).
void append_escaped(std::string& out, std::string_view s, bool attribute) {
  std::size_t i = 0;
  while (i < s.size()) {
    const Utf8Sequence seq = decode_utf8(s, i);
    const std::size_t len = seq.size;
    if (!seq.valid || unwanted(seq.code_point)) {
      out += k_replacement_character;  // one per maximal subpart of an invalid sequence
      i += len;
      continue;
    }
    switch (seq.code_point) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      // Parsers normalise CR (and CRLF) to LF in text, and tab/LF/CR to spaces in attributes,
      // unless they are character references.
      case '\r': out += "&#13;"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      default: out.append(s.substr(i, len)); break;
    }
    i += len;
  }
}

void attr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  append_escaped(out, value, true);
  out += '"';
}

// "%.3f" without the locale; negative, NaN and infinite durations become 0.
std::string seconds_text(double s) {
  if (!std::isfinite(s) || s < 0) s = 0;
  char buf[400];  // DBL_MAX has 309 integer digits
  const auto r = std::to_chars(buf, buf + sizeof buf, s, std::chars_format::fixed, 3);
  if (r.ec != std::errc{}) return "0.000";
  return std::string(buf, r.ptr);
}

void counts(std::string& out, std::size_t tests, std::size_t failures, std::size_t errors, double seconds) {
  attr(out, "tests", std::to_string(tests));
  attr(out, "failures", std::to_string(failures));
  attr(out, "errors", std::to_string(errors));
  attr(out, "skipped", "0");
  attr(out, "time", seconds_text(seconds));
}

void render_case(std::string& out, const JunitCase& c) {
  out += "    <testcase";
  attr(out, "classname", c.classname);
  attr(out, "name", c.name);
  attr(out, "time", seconds_text(c.seconds));
  if (c.outcome == JunitCase::Outcome::passed && c.system_out.empty()) {
    out += "/>\n";
    return;
  }
  out += '>';
  if (c.outcome != JunitCase::Outcome::passed) {
    const bool failed = c.outcome == JunitCase::Outcome::failed;
    const std::string_view element = failed ? "failure" : "error";
    out += '<';
    out += element;
    attr(out, "type", c.type.empty() ? element : std::string_view(c.type));
    attr(out, "message", c.message);
    out += "/>";
  }
  if (!c.system_out.empty()) {
    out += "<system-out>";
    append_escaped(out, c.system_out, false);
    out += "</system-out>";
  }
  out += "</testcase>\n";
}

}  // namespace

std::string render_junit(const JunitSuite& suite) {
  std::size_t failures = 0, errors = 0;
  for (const auto& c : suite.cases) {
    if (c.outcome == JunitCase::Outcome::failed) ++failures;
    if (c.outcome == JunitCase::Outcome::errored) ++errors;
  }
  const std::size_t tests = suite.cases.size();

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites";
  attr(out, "name", "faceverify");
  counts(out, tests, failures, errors, suite.seconds);
  out += ">\n  <testsuite";
  attr(out, "name", suite.name);
  counts(out, tests, failures, errors, suite.seconds);
  if (!suite.timestamp.empty()) attr(out, "timestamp", suite.timestamp);
  if (suite.cases.empty()) {
    out += "/>\n";
  } else {
    out += ">\n";
    for (const auto& c : suite.cases) render_case(out, c);
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

}  // namespace faceverify
